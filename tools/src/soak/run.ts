/**
 * The soak's primary: forks the workers (worker.ts), kills and replaces them, flushes and samples
 * on timers while the load generator drives them, then judges the samples (verdict.ts).
 */
import cluster, { Worker } from 'node:cluster';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { selfSignedCertificate, sharedStorePath } from '../library';
import { LoadgenProcess } from '../loadgen/process';
import type { LoadReport } from '../loadgen/population';
import { FaultReport, countAfterRestarts, faultProblems, newFaultReport, probeFullTmpfs } from './faults';
import type { SoakOptions } from './options';
import { sampleProcess } from './samples';
import { ProcessSeries, ProcessTrend, SoakResult, failuresNearKills, judgeProcesses, round1 } from './verdict';
import type { SoakWorkerConfig } from './worker';

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

/** One soak run with options `o`; resolves with the whole result (the verdict in `ok` and `problems`). */
export async function soak(o: SoakOptions): Promise<SoakResult> {
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

  const series = new Map<number, ProcessSeries>();
  series.set(process.pid, { role: 'primary', samples: [], killed: false });
  const live = new Set<Worker>();
  const drained = new Set<Worker>();
  let stopping = false;
  let replacements = 0;
  let unexpectedExits = 0;
  let port = 0;

  const attachErrors = new Map<Worker, string | undefined>();
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
  /** A graceful stop: cluster closes the worker's server; resolves with its exit code. */
  const drain = (worker: Worker): Promise<number | null> => {
    drained.add(worker);
    const done = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    worker.disconnect();
    return done;
  };

  const faults: FaultReport | undefined = o.faults ? newFaultReport() : undefined;
  if (faults) {
    await probeFullTmpfs(
      faults,
      async (storePath) => {
        const worker = await fork('worker', { storePath });
        return { worker, attachError: attachErrors.get(worker) };
      },
      drain,
    );
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
        const all = ++flushTurn % 4 === 0 && !faults; // flush({ all }) empties the store on purpose
        const workers = [...live];
        workers.forEach((w, i) => {
          // "all" on one worker only: it empties the shared store for everyone.
          if (w.isConnected()) w.send({ cmd: 'flush', all: all && i === 0 });
        });
        flushes++;
      }, o.flushEverySeconds * 1000),
    );

    const timeoutMs = 3000;
    const stops: Array<[number, number]> = [];
    const restartWindows: Array<[number, number]> = [];
    if (faults) {
      const judged = o.seconds - o.warmupSeconds;
      const stopSeconds = Math.min(10, judged / 5);
      timers.push(
        setTimeout(() => {
          const victim = [...live].find((w) => w !== longLived);
          if (!victim) return;
          const from = elapsed();
          faults.stopped = { pid: victim.process.pid!, fromSeconds: round1(from), seconds: stopSeconds };
          stops.push([from, from + stopSeconds]);
          victim.process.kill('SIGSTOP');
          setTimeout(() => victim.process.kill('SIGCONT'), stopSeconds * 1000);
        }, (o.warmupSeconds + judged / 4) * 1000),
      );
      timers.push(
        setTimeout(async () => {
          for (const old of [...live].filter((w) => w !== longLived)) {
            await fork('worker');
            faults.restarts++;
            const from = elapsed();
            faults.drainedExitCodes.push(await drain(old));
            restartWindows.push([from, elapsed()]);
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

    const nearKills = failuresNearKills(seconds, killTimes, timeoutMs, [...stops, ...restartWindows]);
    if (faults) faults.failuresAroundRestarts = failuresNearKills(seconds, [], timeoutMs, restartWindows);
    const { processes, problems } = judgeProcesses(series, o);
    if (faults) {
      countAfterRestarts(faults, seconds);
      problems.push(...faultProblems(faults));
    }
    if (unexpectedExits > 0) problems.push(`${unexpectedExits} worker(s) exited without being killed`);
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
