/**
 * `npm run soak -- --minutes 10`: a long run of mixed traffic against a cluster whose workers
 * are SIGKILLed and replaced, checking that memory and file descriptors stay flat.
 *
 * - A cluster primary forks `--workers` workers (worker.ts): https, attached with the internal
 *   cache, a `TicketKeyRing.fromSecret` ring rotating every `--rotate-every` seconds (3 keys
 *   kept) and one shared store for all. Worker 1 lives for the whole run; the others are killed
 *   in turn every `--kill-every` seconds and replaced by the primary.
 * - Every `--flush-every` seconds each worker flushes expired sessions; every fourth time one
 *   worker flushes everything (the shared store empties).
 * - The native load generator (its own process) runs reuse/once/sessionId/fresh clients on
 *   TLS 1.2 and 1.3 at `--rate` connections per second.
 * - Every `--sample-every` seconds, VmRSS (/proc/<pid>/status) and the number of open fds
 *   (/proc/<pid>/fd) of the primary and every worker are sampled.
 *
 * Verdict (exit 1 when any fails): for each long-lived process (the primary and worker 1), the
 * mean RSS of the last third of the post-warm-up samples exceeds that of the first third by at
 * most `--max-rss-growth-mib`; the fewest fds seen in the last third is no more than the most
 * seen in the first third (a leak grows steadily, so its low point ends above the early high
 * point); no worker died that the run did not kill; handshakes were made; no connection failed
 * outside the seconds around a kill. `--json` prints the whole result as one JSON object.
 * - `--faults` (issue 17) replaces the SIGKILL schedule with the faults production brings: a
 *   store on a full tmpfs at start (a probe worker must come up with attach's clear error, serve
 *   without the store and exit cleanly; root only, for the mount), one worker SIGSTOPped for 10 s
 *   at a quarter of the run, and at half of it a graceful restart of each churned worker in turn
 *   (replacement up first, then worker.disconnect(): cluster closes its server and it ends when
 *   drained). Held to: no failure outside the stop's seconds, every drained worker exits 0, and
 *   after the restarts returning clients resume >= 0.97 of the sessions they offer. Flushes never
 *   empty the store in this mode (`flush({ all: true })` would, on purpose).
 */
import cluster, { Worker } from 'node:cluster';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

import { selfSignedCertificate } from '../certificate';
import { LoadgenProcess } from '../loadgen/process';
import type { LoadReport } from '../loadgen/population';
import { sharedStorePath } from '../shared-store';
import type { SoakWorkerConfig } from './worker';

/** Command-line settings of a soak run. */
export interface SoakOptions {
  /** Length of the load, seconds. Default 600 (`--minutes 10`). */
  seconds: number;
  workers: number;
  killEverySeconds: number;
  rotateEverySeconds: number;
  flushEverySeconds: number;
  sampleEverySeconds: number;
  /** Samples before this are warm-up and not judged. Default: a tenth of the run, at least 5 s. */
  warmupSeconds: number;
  /** Connections per second the load generator starts. */
  rate: number;
  clients: number;
  /** Allowed growth of mean RSS, last third vs first third (long-lived processes), MiB. */
  maxRssGrowthMiB: number;
  /**
   * Who accepts connections: 'none' (default; every worker accepts on the shared socket, the
   * primary holds no connection) or 'rr' (Node's round robin: the primary accepts and hands each
   * socket to a worker). With 'rr', Node's primary keeps the fd of a socket whose handoff was in
   * flight when the worker was SIGKILLed (docs/hardening.md), so its fd count grows with kills.
   */
  schedule: 'none' | 'rr';
  /** Control run: workers are not attached (stock Node, no ring, no shared store). */
  stock: boolean;
  /** Faults instead of SIGKILLs: a full tmpfs at start, a SIGSTOP of 10 s, graceful restarts. */
  faults: boolean;
  json: boolean;
}

/** What `--faults` did and saw. */
export interface FaultReport {
  /** The probe worker whose store did not fit a 256 KiB tmpfs: attach's message and its exit. */
  fullTmpfs: { attachError: string | null; exitCode: number | null; signal: string | null } | { skipped: string };
  /** The worker stopped and for how long, seconds since the start of the load. */
  stopped: { pid: number; fromSeconds: number; seconds: number } | null;
  /** Workers restarted gracefully, and when the last replacement was serving. */
  restarts: number;
  restartsDoneSeconds: number | null;
  /** Drained workers' exit codes (0 each). */
  drainedExitCodes: Array<number | null>;
  /** Offers and resumptions from one second after the restarts to the end (and by client kind). */
  afterRestarts: { offered: number; resumed: number; ratio: number; kinds: Record<string, { offered: number; resumed: number }> };
}

/** One process's samples and trend. */
export interface ProcessTrend {
  role: 'primary' | 'long-lived worker' | 'worker';
  pid: number;
  samples: number;
  /** Seconds since the start of the load when the process was first and last sampled. */
  firstSeenSeconds: number;
  lastSeenSeconds: number;
  rssMiB: { min: number; max: number; firstThirdMean: number; lastThirdMean: number; growth: number };
  fds: { min: number; max: number; firstThirdMax: number; lastThirdMin: number };
  /** Killed by the run (SIGKILL), else alive at the end or died unexpectedly. */
  killed: boolean;
  /** Every sample of a long-lived process: [seconds, RSS MiB, open fds]. Churned workers: omitted. */
  series?: [number, number, number][];
  /** Long-lived processes: their open fds at the end by kind (socket, pipe, anon_inode:[eventfd], /dev/shm/..., ...). */
  fdKinds?: Record<string, number>;
}

/** What `--json` prints. */
export interface SoakResult {
  options: SoakOptions;
  durationSeconds: number;
  handshakes: number;
  resumed: number;
  resumedRatio: number;
  failures: number;
  /** Failures in the seconds around a kill or the SIGSTOP (connections that worker held or was handed). */
  failuresNearKills: number;
  failuresElsewhere: number;
  failureReasons: Record<string, number>;
  kinds: LoadReport['kinds'];
  versions: LoadReport['versions'];
  kills: number;
  replacements: number;
  /** Workers that exited without being killed by the run. */
  unexpectedExits: number;
  flushes: number;
  processes: ProcessTrend[];
  /** Worker 1's stats() at the end (counters, ring and shared store). */
  longLivedStats: unknown;
  /** With `--faults`. */
  faults?: FaultReport;
  ok: boolean;
  problems: string[];
}

function parseArgs(argv: string[]): SoakOptions {
  const o: SoakOptions = {
    seconds: 600,
    workers: 3,
    killEverySeconds: 30,
    rotateEverySeconds: 15,
    flushEverySeconds: 7,
    sampleEverySeconds: 2,
    warmupSeconds: -1,
    rate: 300,
    clients: 2000,
    maxRssGrowthMiB: 24,
    schedule: 'none',
    stock: false,
    faults: false,
    json: false,
  };
  const num = (flag: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min || n > max) throw new RangeError(`${flag} must be a number from ${min} to ${max}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const next = (): string | undefined => argv[++i];
    switch (flag) {
      case '--minutes': o.seconds = num(flag, next(), 0.1, 1440) * 60; break;
      case '--seconds': o.seconds = num(flag, next(), 5, 86400); break;
      case '--workers': o.workers = num(flag, next(), 2, 64); break;
      case '--kill-every': o.killEverySeconds = num(flag, next(), 1, 86400); break;
      case '--rotate-every': o.rotateEverySeconds = num(flag, next(), 0.5, 86400); break;
      case '--flush-every': o.flushEverySeconds = num(flag, next(), 0.5, 86400); break;
      case '--sample-every': o.sampleEverySeconds = num(flag, next(), 0.2, 600); break;
      case '--warmup': o.warmupSeconds = num(flag, next(), 0, 86400); break;
      case '--rate': o.rate = num(flag, next(), 1, 100000); break;
      case '--clients': o.clients = num(flag, next(), 1, 1000000); break;
      case '--max-rss-growth-mib': o.maxRssGrowthMiB = num(flag, next(), 0, 1 << 20); break;
      case '--json': o.json = true; break;
      case '--stock': o.stock = true; break;
      case '--faults': o.faults = true; break;
      case '--schedule': {
        const v = next();
        if (v !== 'none' && v !== 'rr') throw new RangeError(`--schedule must be none or rr, got ${v}`);
        o.schedule = v;
        break;
      }
      default: throw new RangeError(`unknown option ${flag} (see src/soak/main.ts)`);
    }
  }
  if (o.warmupSeconds < 0) o.warmupSeconds = Math.max(5, o.seconds / 10);
  if (o.warmupSeconds >= o.seconds) throw new RangeError('--warmup must be shorter than the run');
  return o;
}

interface Sample {
  t: number;
  rssKiB: number;
  fds: number;
}

/** VmRSS in KiB and the open fd count, or undefined when the process is gone. */
function sampleProcess(pid: number): { rssKiB: number; fds: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    if (!m) return undefined;
    const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
    return { rssKiB: Number(m[1]), fds };
  } catch {
    return undefined;
  }
}

/** Open fds of a process by kind: what a growing count is made of. */
function fdKinds(pid: number): Record<string, number> {
  const kinds: Record<string, number> = {};
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const kind = /^(socket|pipe):/.exec(target)?.[1] ?? target.replace(/\d+/g, 'N');
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    }
  } catch {
    // gone
  }
  return kinds;
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const round1 = (x: number): number => Math.round(x * 10) / 10;

function waitMessage<T>(worker: Worker, type: string, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`worker ${worker.process.pid} sent no "${type}" within ${ms} ms`)), ms);
    const onMessage = (m: { type?: string }) => {
      if (m?.type === type) done(undefined, m as T);
    };
    const onExit = () => done(new Error(`worker ${worker.process.pid} exited before "${type}"`));
    function done(err: Error | undefined, value?: T): void {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      if (err) reject(err);
      else resolve(value as T);
    }
    worker.on('message', onMessage);
    worker.once('exit', onExit);
  });
}


async function soak(o: SoakOptions): Promise<SoakResult> {
  const cert = selfSignedCertificate('localhost');
  const secret = crypto.randomBytes(32);
  const storeName = `soak-${process.pid}`;
  // Built per fork: replacement workers need the secret too; wiped at the end of the run.
  const config = (): SoakWorkerConfig => ({
    cmd: 'config',
    key: cert.key,
    cert: cert.cert,
    secret: secret.toString('hex'),
    rotateEverySeconds: o.rotateEverySeconds,
    storeName,
    storeBytes: 8 << 20,
    stock: o.stock,
  });

  const ext = path.extname(__filename);
  cluster.schedulingPolicy = o.schedule === 'rr' ? cluster.SCHED_RR : cluster.SCHED_NONE;
  // execArgv inherited: when this runs from TypeScript sources (-r a transpiling hook), so do workers.
  cluster.setupPrimary({ exec: path.join(__dirname, `worker${ext}`), execArgv: process.execArgv, silent: false });

  const series = new Map<number, { role: ProcessTrend['role']; samples: Sample[]; killed: boolean }>();
  series.set(process.pid, { role: 'primary', samples: [], killed: false });
  const live = new Set<Worker>();
  const drained = new Map<Worker, Promise<number | null>>();
  let stopping = false;
  let replacements = 0;
  let unexpectedExits = 0;
  let port = 0;

  const fork = async (role: ProcessTrend['role'], extra: Partial<SoakWorkerConfig> = {}): Promise<Worker> => {
    const worker = cluster.fork();
    const pid = worker.process.pid!;
    series.set(pid, { role, samples: [], killed: false });
    worker.on('error', () => undefined);
    worker.once('exit', () => {
      live.delete(worker);
      const s = series.get(pid)!;
      if (stopping || drained.has(worker)) return;
      if (!s.killed) unexpectedExits++;
      // The primary replaces every worker that went away (not a crash loop: give up after 5).
      if (unexpectedExits > 5) return;
      replacements++;
      fork('worker').catch(() => undefined);
    });
    const listening = waitMessage<{ port: number; attachError?: string }>(worker, 'listening', 30000);
    worker.send({ ...config(), ...extra });
    const reply = await listening;
    port = reply.port;
    attachErrors.set(worker, reply.attachError);
    live.add(worker);
    return worker;
  };
  const attachErrors = new Map<Worker, string | undefined>();
  /** A graceful stop: cluster closes the worker's server; resolves with its exit code. */
  const drain = (worker: Worker): Promise<number | null> => {
    const done = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    drained.set(worker, done);
    worker.disconnect();
    return done;
  };

  const faults: FaultReport | undefined = o.faults
    ? { fullTmpfs: { skipped: 'not run' }, stopped: null, restarts: 0, restartsDoneSeconds: null, drainedExitCodes: [], afterRestarts: { offered: 0, resumed: 0, ratio: 0, kinds: {} } }
    : undefined;
  if (faults) {
    if (process.getuid?.() !== 0) {
      faults.fullTmpfs = { skipped: 'mounting a tmpfs needs root' };
    } else {
      // A store on a filesystem that cannot hold it: the probe worker must come up serving.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soak-tmpfs-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', dir]);
      try {
        const probe = await fork('worker', { storePath: path.join(dir, 'store') });
        const exitCode = await drain(probe);
        faults.fullTmpfs = { attachError: attachErrors.get(probe) ?? null, exitCode, signal: probe.process.signalCode ?? null };
      } finally {
        execFileSync('umount', [dir]);
        fs.rmdirSync(dir);
      }
    }
  }

  const longLived = await fork('long-lived worker');
  for (let i = 1; i < o.workers; i++) await fork('worker');

  const lg = new LoadgenProcess();
  const t0 = Date.now();
  const elapsed = (): number => (Date.now() - t0) / 1000;
  const killTimes: number[] = [];
  let flushes = 0;
  const seconds: LoadReport[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    await lg.populate('soak', {
      targets: [{ port }],
      clients: o.clients,
      kinds: { reuse: 0.35, once: 0.3, sessionId: 0.2, fresh: 0.15 },
      tls13: 0.5,
      seed: 7,
    });
    const sample = (): void => {
      const t = elapsed();
      for (const [pid, s] of series) {
        const v = sampleProcess(pid);
        if (v) s.samples.push({ t, ...v });
      }
    };
    sample();
    timers.push(setInterval(sample, o.sampleEverySeconds * 1000));
    // Kill the churned workers in turn (never worker 1).
    let killTurn = 0;
    timers.push(
      setInterval(() => {
        if (faults) return; // the faults replace the kills
        const victims = [...live].filter((w) => w !== longLived);
        if (victims.length === 0) return;
        const victim = victims[killTurn++ % victims.length]!;
        series.get(victim.process.pid!)!.killed = true;
        killTimes.push(elapsed());
        victim.process.kill('SIGKILL');
      }, o.killEverySeconds * 1000),
    );
    let flushTurn = 0;
    timers.push(
      setInterval(() => {
        const all = ++flushTurn % 4 === 0 && !faults;
        const workers = [...live];
        workers.forEach((w, i) => {
          // "all" on one worker only: it empties the shared store for everyone.
          if (w.isConnected()) w.send({ cmd: 'flush', all: all && i === 0 });
        });
        flushes++;
      }, o.flushEverySeconds * 1000),
    );

    const timeoutMs = 3000;
    const stopWindows: Array<[number, number]> = [];
    if (faults) {
      const judged = o.seconds - o.warmupSeconds;
      const stopSeconds = Math.min(10, judged / 5);
      timers.push(
        setTimeout(() => {
          const victim = [...live].find((w) => w !== longLived);
          if (!victim) return;
          const from = elapsed();
          faults.stopped = { pid: victim.process.pid!, fromSeconds: round1(from), seconds: stopSeconds };
          stopWindows.push([from, from + stopSeconds]);
          victim.process.kill('SIGSTOP');
          setTimeout(() => victim.process.kill('SIGCONT'), stopSeconds * 1000);
        }, (o.warmupSeconds + judged / 4) * 1000),
      );
      timers.push(
        setTimeout(async () => {
          for (const old of [...live].filter((w) => w !== longLived)) {
            await fork('worker');
            faults.restarts++;
            faults.drainedExitCodes.push(await drain(old));
          }
          faults.restartsDoneSeconds = round1(elapsed());
        }, (o.warmupSeconds + judged / 2) * 1000),
      );
    }
    const total = await lg.run(
      'soak',
      { durationMs: Math.round(o.seconds * 1000), rate: o.rate, concurrency: 8, timeoutMs },
      (s) => seconds.push(s),
    );
    for (const t of timers) clearInterval(t);
    sample();

    const stats = await (async () => {
      if (!longLived.isConnected()) return undefined;
      const reply = waitMessage<{ stats: unknown }>(longLived, 'stats', 10000);
      longLived.send({ cmd: 'stats' });
      return (await reply).stats;
    })().catch(() => undefined);

    // A failure belongs to a kill when its second overlaps [kill - 1 s, kill + timeout + 1 s]
    // (the SIGSTOP: [stop - 1 s, resume + timeout + 1 s]). A graceful restart has no window.
    const windows = [...killTimes.map((k): [number, number] => [k, k]), ...stopWindows];
    let nearKills = 0;
    for (const s of seconds) {
      const end = s.elapsedMs / 1000;
      const start = end - s.intervalMs / 1000;
      if (windows.some(([a, b]) => end >= a - 1 && start <= b + timeoutMs / 1000 + 1)) nearKills += s.failures;
    }
    if (faults && faults.restartsDoneSeconds !== null) {
      for (const s of seconds) {
        if (s.elapsedMs / 1000 - s.intervalMs / 1000 < faults.restartsDoneSeconds + 1) continue;
        faults.afterRestarts.offered += s.offered;
        faults.afterRestarts.resumed += s.resumed;
        for (const [kind, c] of Object.entries(s.kinds)) {
          const k = (faults.afterRestarts.kinds[kind] ??= { offered: 0, resumed: 0 });
          k.offered += c.offered;
          k.resumed += c.resumed;
        }
      }
      const a = faults.afterRestarts;
      a.ratio = a.offered ? Math.round((a.resumed / a.offered) * 1000) / 1000 : 0;
    }
    const judgedFrom = o.warmupSeconds;
    const processes: ProcessTrend[] = [];
    const problems: string[] = [];
    for (const [pid, s] of series) {
      if (s.samples.length === 0) continue;
      const rss = s.samples.map((x) => x.rssKiB / 1024);
      const fds = s.samples.map((x) => x.fds);
      const judged = s.samples.filter((x) => x.t >= judgedFrom);
      const third = Math.floor(judged.length / 3);
      const first = judged.slice(0, third);
      const last = judged.slice(judged.length - third);
      const trend: ProcessTrend = {
        role: s.role,
        pid,
        samples: s.samples.length,
        firstSeenSeconds: round1(s.samples[0]!.t),
        lastSeenSeconds: round1(s.samples[s.samples.length - 1]!.t),
        rssMiB: {
          min: round1(Math.min(...rss)),
          max: round1(Math.max(...rss)),
          firstThirdMean: round1(mean(first.map((x) => x.rssKiB / 1024))),
          lastThirdMean: round1(mean(last.map((x) => x.rssKiB / 1024))),
          growth: round1(mean(last.map((x) => x.rssKiB / 1024)) - mean(first.map((x) => x.rssKiB / 1024))),
        },
        fds: {
          min: Math.min(...fds),
          max: Math.max(...fds),
          firstThirdMax: first.length ? Math.max(...first.map((x) => x.fds)) : 0,
          lastThirdMin: last.length ? Math.min(...last.map((x) => x.fds)) : 0,
        },
        killed: s.killed,
      };
      if (s.role !== 'worker') {
        trend.series = s.samples.map((x) => [round1(x.t), round1(x.rssKiB / 1024), x.fds]);
        trend.fdKinds = fdKinds(pid);
      }
      processes.push(trend);
      if (s.role === 'worker') continue;
      if (third < 2) {
        problems.push(`${s.role} ${pid}: too few samples after warm-up (${judged.length}) to judge a trend`);
        continue;
      }
      if (trend.rssMiB.growth > o.maxRssGrowthMiB) {
        problems.push(`${s.role} ${pid}: RSS grew ${trend.rssMiB.growth} MiB (first third ${trend.rssMiB.firstThirdMean}, last third ${trend.rssMiB.lastThirdMean}; bound ${o.maxRssGrowthMiB})`);
      }
      if (trend.fds.lastThirdMin > trend.fds.firstThirdMax) {
        problems.push(`${s.role} ${pid}: open fds grew (at least ${trend.fds.lastThirdMin} in the last third, at most ${trend.fds.firstThirdMax} in the first)`);
      }
    }
    if (unexpectedExits > 0) problems.push(`${unexpectedExits} worker(s) exited without being killed`);
    if (faults) {
      const t = faults.fullTmpfs;
      if ('attachError' in t && (!/cannot reserve \d+ bytes for .*\(the filesystem has \d+ bytes free\)/.test(t.attachError ?? '') || t.exitCode !== 0)) {
        problems.push(`full tmpfs: the probe worker should report "cannot reserve ..." and exit 0, got ${JSON.stringify(t)}`);
      }
      if (!faults.stopped) problems.push('the SIGSTOP fault did not run');
      if (faults.restartsDoneSeconds === null || faults.restarts === 0) problems.push('the graceful restarts did not finish');
      if (faults.drainedExitCodes.some((c) => c !== 0)) problems.push(`drained workers exited with ${JSON.stringify(faults.drainedExitCodes)}`);
      if (faults.afterRestarts.offered === 0 || faults.afterRestarts.ratio < 0.97) {
        problems.push(`after the graceful restarts returning clients resumed ${faults.afterRestarts.resumed} of ${faults.afterRestarts.offered} (${faults.afterRestarts.ratio}), below 0.97`);
      }
    }
    if (total.handshakes === 0) problems.push('no handshakes completed');
    const elsewhere = total.failures - nearKills;
    if (elsewhere > 0) problems.push(`${elsewhere} connection(s) failed away from any kill: ${JSON.stringify(total.failureReasons)}`);

    return {
      options: o,
      durationSeconds: round1(elapsed()),
      handshakes: total.handshakes,
      resumed: total.resumed,
      resumedRatio: total.handshakes ? Math.round((total.resumed / total.handshakes) * 1000) / 1000 : 0,
      failures: total.failures,
      failuresNearKills: nearKills,
      failuresElsewhere: elsewhere,
      failureReasons: total.failureReasons,
      kinds: total.kinds,
      versions: total.versions,
      kills: killTimes.length,
      replacements,
      unexpectedExits,
      flushes,
      processes,
      longLivedStats: stats,
      ...(faults ? { faults } : {}),
      ok: problems.length === 0,
      problems,
    };
  } finally {
    for (const t of timers) clearInterval(t);
    stopping = true;
    await lg.close();
    await Promise.all(
      [...Object.values(cluster.workers ?? {})].map(
        (w) =>
          new Promise<void>((resolve) => {
            if (!w || w.isDead()) return resolve();
            w.once('exit', () => resolve());
            w.process.kill('SIGKILL');
          }),
      ),
    );
    fs.rmSync(sharedStorePath(storeName), { force: true });
    secret.fill(0);
  }
}

function printHuman(r: SoakResult): void {
  const lines = [
    `soak: ${r.durationSeconds} s, ${r.handshakes} handshakes (${(r.resumedRatio * 100).toFixed(1)}% resumed), ` +
      `${r.failures} failed (${r.failuresNearKills} around ${r.kills} kills), ${r.replacements} workers replaced, ${r.flushes} flush rounds`,
  ];
  for (const p of r.processes.filter((x) => x.role !== 'worker')) {
    lines.push(
      `  ${p.role} ${p.pid}: RSS ${p.rssMiB.firstThirdMean} -> ${p.rssMiB.lastThirdMean} MiB (growth ${p.rssMiB.growth}, range ${p.rssMiB.min}-${p.rssMiB.max}); ` +
        `fds ${p.fds.min}-${p.fds.max} (first third max ${p.fds.firstThirdMax}, last third min ${p.fds.lastThirdMin})`,
    );
  }
  const churned = r.processes.filter((x) => x.role === 'worker');
  if (churned.length) {
    lines.push(`  ${churned.length} churned workers: RSS max ${Math.max(...churned.map((p) => p.rssMiB.max))} MiB, fds max ${Math.max(...churned.map((p) => p.fds.max))}`);
  }
  lines.push(r.ok ? 'soak: OK' : `soak: FAILED\n  ${r.problems.join('\n  ')}`);
  process.stdout.write(lines.join('\n') + '\n');
}

async function main(): Promise<number> {
  let options: SoakOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`soak: ${(err as Error).message}\n`);
    return 2;
  }
  const result = await soak(options);
  if (options.json) process.stdout.write(JSON.stringify(result) + '\n');
  else printHuman(result);
  return result.ok ? 0 : 1;
}

if (cluster.isPrimary) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`soak: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(2);
    },
  );
}
