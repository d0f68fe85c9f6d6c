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
 * `--faults` replaces the kills with the shared store's faults (faults.ts): a full tmpfs at
 * start, a SIGSTOPped worker, graceful restarts of the workers.
 *
 * Files: options.ts (the flags), run.ts (the primary: workers, kills, flushes, sampling, load),
 * worker.ts (one worker), samples.ts (what /proc says of a process), verdict.ts (trends, problems,
 * the human summary), faults.ts (`--faults`). This file is the entry point only.
 */
import cluster from 'node:cluster';

import { parseArgs, SoakOptions } from './options';
import { soak } from './run';
import { printHuman } from './verdict';

export type { SoakOptions } from './options';
export type { ProcessTrend, SoakResult } from './verdict';

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
