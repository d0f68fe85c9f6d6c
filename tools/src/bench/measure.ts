/**
 * The measurement engine shared by `npm run bench:core` and `tls-resumption-tools bench`: for each
 * scenario and server variant, start the server in its own process, drive phases from the
 * load generator's process, and turn /proc CPU deltas and the clients' counts into figures.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type { SelfSignedCertificate } from '../library';
import { sharedStorePath } from '../library';
import type { ClientKind, LoadReport, PopulationOptions } from '../loadgen/population';
import { LoadgenProcess } from '../loadgen/process';
import { anchorAvailable, type ServerHandle, startServer } from './harness';
import { type BenchRedis, redisUnavailable, startRedis } from './redis';
import { type PhaseName, SCENARIOS, type Scenario, type ScenarioName } from './scenarios';
import { sharedStoreName, VARIANTS, type VariantContext, type VariantName } from './variants';

/** Knobs of a run. */
export interface BenchOptions {
  /** Length of each measured phase, milliseconds. */
  durationMs: number;
  /** Clients in each population. */
  clients: number;
  /** Closed-loop concurrency (load generator threads). */
  concurrency: number;
  /** Open-loop rate, connections/s (0: closed loop). */
  rate: number;
  /** Client kinds of the `mix` phase, by share. */
  kinds: Partial<Record<ClientKind, number>>;
  /** TLS 1.3 share of the `full` and `mix` phases. */
  tls13: number;
  seed: number;
}

export const DEFAULT_KINDS: Record<ClientKind, number> = { reuse: 0.3, once: 0.4, sessionId: 0.2, fresh: 0.1 };

/** Figures of one measured phase on one server. */
export interface PhaseResult {
  phase: PhaseName;
  /** The clients' totals. */
  load: LoadReport;
  /** The clients' per-second figures. */
  perSecond: LoadReport[];
  /** Server CPU (user + system, all its processes) during the phase, microseconds. */
  serverCpuMicros: number;
  /** serverCpuMicros / handshakes. */
  cpuPerHandshakeMicros: number | null;
  handshakesPerSecond: number;
  /** resumed / handshakes. */
  resumptionRatio: number;
  /** The server's own count of handshakes and resumptions during the phase (Node variants). */
  serverCounts?: { handshakes: number; resumed: number };
  /** CPU of the run's redis-server during the phase (fleet variants), microseconds; not in serverCpuMicros. */
  redisCpuMicros?: number;
  /** When keys were rotated, ms into the phase. */
  rotatedAtMs?: number;
  /** Resumed / handshakes in the whole seconds before and after the rotation. */
  rotation?: { resumedBefore: number | null; resumedAfter: number | null };
}

/** Every figure for one server in one scenario. */
export interface VariantResult {
  scenario: ScenarioName;
  variant: VariantName;
  label: string;
  description: string;
  /** Set when the variant could not run (anchor not installed); no figures then. */
  skipped?: string;
  phases: Partial<Record<PhaseName, PhaseResult>>;
  /** `mix` phase: resumed / handshakes. */
  resumptionRatio: number | null;
  /** `mix` phase: completed handshakes per second. */
  handshakesPerSecond: number | null;
  /** `mix` phase: handshake latency, microseconds. */
  latencyMicros: { p50: number; p90: number; p99: number } | null;
  /** Server CPU per full handshake (`full` phase), microseconds. */
  cpuFullMicros: number | null;
  /**
   * Server CPU per resumed handshake, microseconds: (phase CPU - full handshakes x cpuFull) /
   * resumed handshakes; null when under half the phase's handshakes resumed (no clean figure).
   */
  cpuResumedTls12Micros: number | null;
  cpuResumedTls13Micros: number | null;
  /** `onceTls13` phase: resumed / handshakes of single-use TLS 1.3 clients. */
  onceTls13ResumptionRatio: number | null;
  /** Ratios against the scenario's stock server (variant / stock). */
  vsStock: {
    resumptionRatio: number | null;
    handshakesPerSecond: number | null;
    cpuFull: number | null;
    cpuResumedTls12: number | null;
    cpuResumedTls13: number | null;
    onceTls13ResumptionRatio: number | null;
  };
  /** Extra server-side figures (attach's stats(), the JS cache's counts), at the end of the run. */
  serverStats?: Record<string, unknown>;
}

export interface BenchResult {
  /** ISO time the run started. */
  startedAt: string;
  node: string;
  openssl: string;
  cpus: number;
  options: BenchOptions;
  results: VariantResult[];
  /** Anchors or variants skipped, and why. */
  notes: string[];
  elapsedMs: number;
}

/** Progress events for a progress bar. */
export interface Progress {
  scenario: ScenarioName;
  variant: VariantName;
  phase: PhaseName | 'warmup' | 'start';
  /** 0..1 of the whole run. */
  fraction: number;
  second?: LoadReport;
}

function populationFor(phase: PhaseName, ports: number[], o: BenchOptions, clientsScale: number): PopulationOptions {
  const clients = Math.min(1_000_000, Math.round(o.clients * clientsScale));
  // Several ports are a fleet behind a load balancer: each connection lands on a member at random.
  const base = { targets: ports.map((port) => ({ host: '127.0.0.1', port })), clients, seed: o.seed, placement: 'connection' as const };
  switch (phase) {
    case 'full':
      return { ...base, kinds: { fresh: 1 }, tls13: o.tls13 };
    case 'resumedTls12':
      return { ...base, kinds: { reuse: 1 }, tls13: 0 };
    case 'resumedTls13':
      return { ...base, kinds: { reuse: 1 }, tls13: 1 };
    case 'onceTls13':
      return { ...base, kinds: { once: 1 }, tls13: 1 };
    case 'mix':
      return { ...base, kinds: o.kinds, tls13: o.tls13 };
  }
}

// Rotation falls on a one-second boundary of the load generator's snapshots when the phase is
// long enough, so "before" and "after" seconds are clean.
function rotationDelay(durationMs: number, at: number): number {
  const raw = durationMs * at;
  return durationMs >= 2000 ? Math.max(1000, Math.round(raw / 1000) * 1000) : raw;
}

function splitAtRotation(perSecond: LoadReport[], atMs: number): { resumedBefore: number | null; resumedAfter: number | null } {
  const sum = (xs: LoadReport[]) => {
    const hs = xs.reduce((a, s) => a + s.handshakes, 0);
    return hs ? xs.reduce((a, s) => a + s.resumed, 0) / hs : null;
  };
  // A snapshot ending within 50 ms after the rotation counts as before (IPC and timer skew).
  return {
    resumedBefore: sum(perSecond.filter((s) => s.elapsedMs <= atMs + 50)),
    resumedAfter: sum(perSecond.filter((s) => s.elapsedMs > atMs + 50)),
  };
}

const needsRedis = (v: VariantName): boolean => {
  const variant = VARIANTS[v];
  return 'needs' in variant && (variant.needs as readonly string[] | undefined)?.includes('redis') === true;
};

const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);

function resumedCost(p: PhaseResult | undefined, cpuFull: number | null): number | null {
  if (!p || cpuFull === null || p.load.handshakes === 0) return null;
  if (p.load.resumed / p.load.handshakes < 0.5) return null;
  return Math.max(0, (p.serverCpuMicros - p.load.full * cpuFull) / p.load.resumed);
}

/** One measured phase on one server: fresh population, warm-up, CPU and counts around the run. */
async function measurePhase(
  lg: LoadgenProcess,
  server: ServerHandle,
  phase: PhaseName,
  sc: Scenario,
  options: BenchOptions,
  redis: BenchRedis | undefined,
  progress: (p: { phase: Progress['phase']; done: number; second?: LoadReport }) => void,
): Promise<PhaseResult> {
  await lg.populate('phase', populationFor(phase, server.ports, options, sc.clientsScale ?? 1));
  if (phase !== 'full') {
    progress({ phase: 'warmup', done: 0 });
    await lg.run('phase', { sweep: true, durationMs: 0, concurrency: options.concurrency });
  }
  const before = await server.counts();
  const cpu0 = server.cpuMicros();
  const redis0 = redis?.cpuMicros();
  const perSecond: LoadReport[] = [];
  let rotatedAtMs: number | undefined;
  let rotation: NodeJS.Timeout | undefined;
  progress({ phase, done: 0 });
  const t0 = Date.now();
  if (phase === 'mix' && sc.rotateAt !== undefined) {
    rotation = setTimeout(
      () => {
        rotatedAtMs = Date.now() - t0;
        void server.rotate();
      },
      rotationDelay(options.durationMs, sc.rotateAt),
    );
  }
  const load = await lg.run('phase', { durationMs: options.durationMs, concurrency: options.concurrency, rate: options.rate }, (s) => {
    perSecond.push(s);
    progress({ phase, done: Math.min(1, s.elapsedMs / options.durationMs), second: s });
  });
  clearTimeout(rotation);
  const cpu = server.cpuMicros() - cpu0;
  const redisCpu = redis && redis0 !== undefined ? redis.cpuMicros() - redis0 : undefined;
  const after = await server.counts();
  const pr: PhaseResult = {
    phase,
    load,
    perSecond,
    serverCpuMicros: cpu,
    cpuPerHandshakeMicros: load.handshakes > 0 ? cpu / load.handshakes : null,
    handshakesPerSecond: load.handshakes / (load.elapsedMs / 1000),
    resumptionRatio: load.handshakes > 0 ? load.resumed / load.handshakes : 0,
  };
  if (redisCpu !== undefined) pr.redisCpuMicros = redisCpu;
  if (before && after) pr.serverCounts = { handshakes: after.handshakes - before.handshakes, resumed: after.resumed - before.resumed };
  if (rotatedAtMs !== undefined) {
    pr.rotatedAtMs = rotatedAtMs;
    pr.rotation = splitAtRotation(perSecond, rotatedAtMs);
  }
  return pr;
}

/** Runs the given scenarios; each server in its own process, clients in the load generator's. */
export async function runBench(
  scenarios: ScenarioName[],
  options: BenchOptions,
  cert: SelfSignedCertificate,
  onProgress: (p: Progress) => void = () => undefined,
  select: { variants?: VariantName[]; anchors?: boolean } = {},
): Promise<BenchResult> {
  const started = Date.now();
  const notes: string[] = [];
  const plan: { scenario: ScenarioName; variant: VariantName }[] = [];
  for (const s of scenarios) {
    const sc: Scenario = SCENARIOS[s];
    const names: VariantName[] = [...sc.variants];
    if ('anchors' in sc && sc.anchors && select.anchors !== false) {
      for (const a of ['nginx', 'haproxy'] as const) {
        if (select.variants && !select.variants.includes(a)) continue;
        if (anchorAvailable(a)) names.push(a);
        else notes.push(`${a} not installed: anchor skipped (apt-get install ${a} to include it).`);
      }
    }
    for (const v of names) if (!select.variants || select.variants.includes(v)) plan.push({ scenario: s, variant: v });
  }
  const noRedis = plan.some((p) => needsRedis(p.variant)) ? redisUnavailable() : undefined;
  if (noRedis) {
    for (const p of plan.filter((x) => needsRedis(x.variant))) notes.push(`${p.variant} (${p.scenario}) skipped: ${noRedis}.`);
    plan.splice(0, plan.length, ...plan.filter((x) => !needsRedis(x.variant)));
  }
  const totalPhases = plan.reduce((n, p) => n + SCENARIOS[p.scenario].phases.length, 0);
  let donePhases = 0;

  const lg = new LoadgenProcess();
  const results: VariantResult[] = [];
  try {
    for (const scenario of scenarios) {
      const sc: Scenario = SCENARIOS[scenario];
      // Every server of the scenario runs at once and the phases are interleaved (phase 1 on
      // each server, then phase 2 on each, ...), so a change in the machine's background load
      // hits all servers alike instead of whichever happened to run then.
      const entries: { variant: VariantName; result: VariantResult; server?: ServerHandle }[] = [];
      const ctx: VariantContext = {
        runTag: `${process.pid}-${started.toString(36)}-${scenario}`,
        secretHex: crypto.randomBytes(32).toString('hex'),
      };
      let redis: BenchRedis | undefined;
      try {
        if (plan.some((p) => p.scenario === scenario && needsRedis(p.variant))) {
          try {
            redis = await startRedis();
            ctx.redisPort = redis.port;
          } catch (err) {
            notes.push(`redis-server (${scenario}) could not start: ${(err as Error).message}`);
          }
        }
        for (const { variant } of plan.filter((p) => p.scenario === scenario)) {
          const v = VARIANTS[variant];
          const result: VariantResult = {
            scenario,
            variant,
            label: v.label,
            description: v.description,
            phases: {},
            resumptionRatio: null,
            handshakesPerSecond: null,
            latencyMicros: null,
            cpuFullMicros: null,
            cpuResumedTls12Micros: null,
            cpuResumedTls13Micros: null,
            onceTls13ResumptionRatio: null,
            vsStock: {
              resumptionRatio: null,
              handshakesPerSecond: null,
              cpuFull: null,
              cpuResumedTls12: null,
              cpuResumedTls13: null,
              onceTls13ResumptionRatio: null,
            },
          };
          results.push(result);
          onProgress({ scenario, variant, phase: 'start', fraction: donePhases / totalPhases });
          try {
            entries.push({ variant, result, server: await startServer(variant, sc.workers, cert, ctx, sc.processes ?? 1) });
          } catch (err) {
            result.skipped = `could not start: ${(err as Error).message}`;
            notes.push(`${variant} (${scenario}): ${result.skipped}`);
            donePhases += sc.phases.length;
          }
        }
        for (const phase of sc.phases) {
          for (const { variant, result, server } of entries) {
            if (!server) continue;
            result.phases[phase] = await measurePhase(lg, server, phase, sc, options, needsRedis(variant) ? redis : undefined, (p) =>
              onProgress({ scenario, variant, phase: p.phase, second: p.second, fraction: (donePhases + p.done) / totalPhases }),
            );
            donePhases++;
            onProgress({ scenario, variant, phase, fraction: donePhases / totalPhases });
          }
        }
        for (const { result, server } of entries) {
          const stats = await server?.counts();
          if (stats) result.serverStats = stats.variant;
        }
      } finally {
        await Promise.all(entries.map((e) => e.server?.close()));
        await redis?.stop();
        // The shared store's file outlives its processes by design; this run's is throwaway.
        fs.rmSync(sharedStorePath(sharedStoreName(ctx)), { force: true });
      }
      for (const { result } of entries) {
        const p = result.phases;
        result.cpuFullMicros = p.full?.cpuPerHandshakeMicros ?? null;
        result.cpuResumedTls12Micros = resumedCost(p.resumedTls12, result.cpuFullMicros);
        result.cpuResumedTls13Micros = resumedCost(p.resumedTls13, result.cpuFullMicros);
        result.resumptionRatio = p.mix ? p.mix.resumptionRatio : null;
        result.onceTls13ResumptionRatio = p.onceTls13 ? p.onceTls13.resumptionRatio : null;
        result.handshakesPerSecond = p.mix ? p.mix.handshakesPerSecond : null;
        result.latencyMicros = p.mix ? p.mix.load.latencyMicros : null;
      }
    }
  } finally {
    await lg.close();
  }
  for (const r of results) {
    const stock = results.find((s) => s.scenario === r.scenario && s.variant === 'stock' && !s.skipped);
    if (!stock || r.skipped) continue;
    r.vsStock = {
      resumptionRatio: ratio(r.resumptionRatio, stock.resumptionRatio),
      handshakesPerSecond: ratio(r.handshakesPerSecond, stock.handshakesPerSecond),
      cpuFull: ratio(r.cpuFullMicros, stock.cpuFullMicros),
      cpuResumedTls12: ratio(r.cpuResumedTls12Micros, stock.cpuResumedTls12Micros),
      cpuResumedTls13: ratio(r.cpuResumedTls13Micros, stock.cpuResumedTls13Micros),
      onceTls13ResumptionRatio: ratio(r.onceTls13ResumptionRatio, stock.onceTls13ResumptionRatio),
    };
  }
  return {
    startedAt: new Date(started).toISOString(),
    node: process.version,
    openssl: process.versions.openssl ?? '',
    cpus: require('node:os').cpus().length as number,
    options,
    results,
    notes,
    elapsedMs: Date.now() - started,
  };
}
