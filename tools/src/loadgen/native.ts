/**
 * The compiled load generator (tools/native/loadgen/), a separate module from the addon so a
 * server process never loads it. Loaded from the repository's build (build/Release or build/Debug).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { LoadReport } from './population';

/** Opaque handle to a native client population. */
export type NativePopulation = { readonly __brand: 'NativePopulation' };

export interface NativeLoadgen {
  createPopulation(config: {
    clients: number;
    shares: [number, number, number, number];
    tls13Share: number;
    targets: { host: string; port: number }[];
    servername?: string;
    seed: number;
    placement: 'client' | 'connection';
  }): NativePopulation;
  forget(p: NativePopulation): void;
  describe(p: NativePopulation): { clients: number; kinds: Record<string, number>; tls13: number; withSession: number };
  run(
    p: NativePopulation,
    phase: { durationMs: number; concurrency: number; rate: number; connections: number; sweep: boolean; timeoutMs: number },
    onSecond?: (s: LoadReport) => void,
  ): Promise<LoadReport>;
  opensslVersion: string;
}

const FILE = 'tls_resumption_loadgen.node';

function locate(): string {
  // The repository root, from tools/src/loadgen (tests) and tools/dist/loadgen alike.
  const root = path.join(__dirname, '..', '..', '..');
  for (const dir of ['build/Release', 'build/Debug']) {
    const candidate = path.join(root, dir, FILE);
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error(`loadgen: ${FILE} was not built (run "npm run build:native" in the repository).`);
}

let loaded: NativeLoadgen | undefined;

/** Loads the module on first use, so importing the types costs nothing. */
export function loadgenNative(): NativeLoadgen {
  loaded ??= require(locate()) as NativeLoadgen;
  return loaded;
}
