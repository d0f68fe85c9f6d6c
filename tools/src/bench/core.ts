#!/usr/bin/env node
/**
 * `npm run bench:core`: in one run and one process tree, stock Node https (tickets on), Node
 * with the documented JS 'newSession'/'resumeSession' Map cache (tickets off), and attach()
 * with OpenSSL's internal cache (tickets off). Each server runs in its own process, the native
 * load generator in another. Prints the table; about 40 s on defaults.
 *
 * `npm start` (start.ts) is the same run with the ticket ring as a fourth server, 2 s phases, and
 * nginx and HAProxy (when installed) as anchors, each Node server's CPU printed as a ratio to theirs.
 *
 * Environment knobs (all optional): BENCH_DURATION_MS (per phase, default 2500; npm start 2000),
 * BENCH_CLIENTS (200), BENCH_CONCURRENCY (8).
 */
import { selfSignedCertificate } from '../library';
import { BenchOptions, DEFAULT_KINDS, runBench } from './measure';
import { progressBar, textTable } from './report';
import type { VariantName } from './variants';

/** Issue 2's comparison: Node against Node, single process. */
export const CORE_VARIANTS: readonly VariantName[] = ['stock', 'jsCache', 'attach'];

export function envInt(name: string, def: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer between ${min} and ${max}, got ${raw}.`);
  return v;
}

export async function main(
  variants: readonly VariantName[] = CORE_VARIANTS,
  defaultDurationMs = 2500,
  banner = 'bench:core: stock Node https vs JS session cache vs attach(), single process, loopback, self-signed ECDSA P-256',
  anchors = false,
): Promise<number> {
  const options: BenchOptions = {
    durationMs: envInt('BENCH_DURATION_MS', defaultDurationMs, 500, 600_000),
    clients: envInt('BENCH_CLIENTS', 200, 1, 1_000_000),
    concurrency: envInt('BENCH_CONCURRENCY', 8, 1, 512),
    rate: 0,
    kinds: { ...DEFAULT_KINDS },
    tls13: 0.5,
    seed: 1,
  };
  process.stderr.write(`${banner}\n`);
  const cert = selfSignedCertificate('localhost');
  const bar = progressBar();
  // bench:core is Node against Node; npm start adds nginx and HAProxy where they are installed.
  const run = await runBench(['single'], options, cert, (p) => bar.update(p), {
    anchors,
    variants: anchors ? [...variants, 'nginx', 'haproxy'] : [...variants],
  });
  bar.done();
  process.stdout.write(textTable({ ...run, notes: [] }));
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`bench:core: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
