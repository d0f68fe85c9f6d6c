/**
 * tools/loadgen: a native TLS load generator (C++ threads over Node's own OpenSSL)
 * with client populations that treat sessions the way real clients do.
 *
 * ```ts
 * import { LoadgenProcess } from '../loadgen';  // from a sibling folder of tools/src
 * const lg = new LoadgenProcess();          // always its own process
 * await lg.populate('p', { targets: [{ port }], clients: 200, kinds: { reuse: 0.5, once: 0.5 } });
 * const totals = await lg.run('p', { durationMs: 5000, concurrency: 8 }, (s) => console.log(s.handshakes));
 * await lg.close();
 * ```
 */

export type {
  ClientKind,
  KindCounts,
  LoadReport,
  LoadTarget,
  PhaseOptions,
  PopulationOptions,
  ResolvedPopulationOptions,
} from './population';
export { CLIENT_KINDS, Population, resolvePhaseOptions, resolvePopulationOptions } from './population';
export { LoadgenProcess } from './process';
export { processTree, processTreeCpuMicros } from './procfs';
