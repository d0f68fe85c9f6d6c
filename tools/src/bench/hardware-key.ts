#!/usr/bin/env node
/**
 * The hardware-key scenario: the server's private key lives in a PKCS#11 token (a SoftHSM2 token
 * made for the run, reached through libp11's pkcs11 engine with Node's own privateKeyEngine), and
 * the figure is token signatures per 1,000 handshakes: every C_Sign the servers make, counted in
 * pkcs11-spy's logs (one per server process), beside handshakes per second. Servers: stock Node,
 * attach (OpenSSL's session cache), attach + ticket ring, and a 2-worker cluster, stock and with
 * the shared store. Client populations: single-use TLS 1.3 (browsers), TLS 1.2 session-ID
 * clients, and the benchmark's mix. Each phase: a fresh population, a warm-up sweep that gives
 * every client a session, then the measured run; signatures of the warm-up are not counted.
 *
 * Environment knobs: BENCH_DURATION_MS (per phase, default 3000), BENCH_CLIENTS (200),
 * BENCH_CONCURRENCY (8), BENCH_JSON (also write the results there).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sharedStorePath } from '../library';
import type { ClientKind, LoadReport } from '../loadgen/population';
import { LoadgenProcess } from '../loadgen/process';
import { envInt } from './core';
import type { EngineKeyConfig } from './hardware-key-server';
import { startServer } from './harness';
import { DEFAULT_KINDS } from './measure';
import { countPkcs11Calls, createSoftToken, PKCS11_SPY, SOFTHSM_MODULE, type SoftToken } from './softhsm';
import { sharedStoreName, type VariantContext, type VariantName } from './variants';

/** A server set-up of the scenario. */
export interface HardwareKeySetup {
  name: string;
  label: string;
  variant: VariantName;
  /** Cluster workers; 0 = single process. */
  workers: number;
}

export const HARDWARE_KEY_SETUPS: readonly HardwareKeySetup[] = [
  { name: 'stock', label: 'stock Node', variant: 'stock', workers: 0 },
  { name: 'attach', label: 'attach (session cache)', variant: 'attach', workers: 0 },
  { name: 'ring', label: 'attach + ticket ring', variant: 'ring', workers: 0 },
  { name: 'clusterStock', label: 'cluster 2 workers, stock', variant: 'stock', workers: 2 },
  { name: 'clusterShared', label: 'cluster 2 workers, shared store', variant: 'shared', workers: 2 },
];

/** A client population of the scenario. */
export interface HardwareKeyPopulation {
  name: string;
  label: string;
  kinds: Partial<Record<ClientKind, number>>;
  tls13: number;
}

export const HARDWARE_KEY_POPULATIONS: readonly HardwareKeyPopulation[] = [
  { name: 'onceTls13', label: 'single-use TLS 1.3', kinds: { once: 1 }, tls13: 1 },
  { name: 'sessionId', label: 'TLS 1.2 session-ID clients', kinds: { sessionId: 1 }, tls13: 0 },
  { name: 'mix', label: 'mixed', kinds: DEFAULT_KINDS, tls13: 0.5 },
];

/** One measured phase. */
export interface HardwareKeyResult {
  setup: string;
  label: string;
  population: string;
  handshakes: number;
  resumed: number;
  /** C_Sign calls of all server processes during the measured phase. */
  signatures: number;
  signaturesPer1000: number;
  /** Token signatures per second of the phase (what a rationed or billed token sees). */
  signaturesPerSecond: number;
  handshakesPerSecond: number;
  failures: number;
}

export interface HardwareKeyRun {
  startedAt: string;
  node: string;
  openssl: string;
  durationMs: number;
  clients: number;
  concurrency: number;
  results: HardwareKeyResult[];
}

/** Runs every set-up on every population against a token made for the run. */
export async function runHardwareKey(
  options: { durationMs: number; clients: number; concurrency: number; setups?: readonly string[]; populations?: readonly string[] },
  onPhase: (r: HardwareKeyResult) => void = () => undefined,
): Promise<HardwareKeyRun> {
  const token: SoftToken = createSoftToken({ label: 'bench', object: 'tls' });
  const spyDir = path.join(token.dir, 'spy');
  fs.mkdirSync(spyDir, { mode: 0o700 });
  const lg = new LoadgenProcess();
  const started = new Date().toISOString();
  const results: HardwareKeyResult[] = [];
  // The server processes inherit these: the engine drives pkcs11-spy, which forwards to SoftHSM.
  const saved = { ...process.env };
  Object.assign(process.env, token.env(path.join(spyDir, 'unused.spy.log')), {
    TSC_BENCH_ENGINE_KEY: JSON.stringify({ engine: 'pkcs11', identifier: token.keyUriWithPinSource, spyDir } satisfies EngineKeyConfig),
  });
  try {
    for (const setup of HARDWARE_KEY_SETUPS.filter((x) => !options.setups || options.setups.includes(x.name))) {
      const ctx: VariantContext = { runTag: `${process.pid}-hsm-${setup.name}`, secretHex: crypto.randomBytes(32).toString('hex') };
      const server = await startServer(setup.variant, setup.workers, { key: '', cert: token.certPem }, ctx);
      try {
        for (const pop of HARDWARE_KEY_POPULATIONS.filter((x) => !options.populations || options.populations.includes(x.name))) {
          await lg.populate('hsm', {
            targets: [{ port: server.port }],
            clients: options.clients,
            kinds: pop.kinds,
            tls13: pop.tls13,
            seed: 1,
          });
          await lg.run('hsm', { sweep: true, durationMs: 0, concurrency: options.concurrency });
          const signs0 = countPkcs11Calls(spyDir, 'C_Sign');
          const load: LoadReport = await lg.run('hsm', { durationMs: options.durationMs, concurrency: options.concurrency });
          const signatures = countPkcs11Calls(spyDir, 'C_Sign') - signs0;
          const seconds = load.elapsedMs / 1000;
          const r: HardwareKeyResult = {
            setup: setup.name,
            label: setup.label,
            population: pop.name,
            handshakes: load.handshakes,
            resumed: load.resumed,
            signatures,
            signaturesPer1000: load.handshakes > 0 ? (signatures / load.handshakes) * 1000 : 0,
            signaturesPerSecond: signatures / seconds,
            handshakesPerSecond: load.handshakes / seconds,
            failures: load.failures,
          };
          results.push(r);
          onPhase(r);
        }
      } finally {
        await server.close();
        fs.rmSync(sharedStorePath(sharedStoreName(ctx)), { force: true });
      }
    }
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    await lg.close();
    token.remove();
  }
  return {
    startedAt: started,
    node: process.version,
    openssl: process.versions.openssl ?? '',
    durationMs: options.durationMs,
    clients: options.clients,
    concurrency: options.concurrency,
    results,
  };
}

/** Markdown: one row per set-up, per population signatures per 1,000 handshakes and handshakes/s. */
export function hardwareKeyTable(run: HardwareKeyRun): string {
  const pops = HARDWARE_KEY_POPULATIONS;
  const head = ['server', ...pops.flatMap((p) => [`${p.label}: signatures / 1,000 hs`, 'hs/s'])];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const setup of HARDWARE_KEY_SETUPS) {
    const cells = pops.flatMap((p) => {
      const r = run.results.find((x) => x.setup === setup.name && x.population === p.name);
      if (!r) return ['n/a', 'n/a'];
      return [
        `${Math.round(r.signaturesPer1000).toLocaleString('en-US')} (resumed ${((r.resumed / Math.max(1, r.handshakes)) * 100).toFixed(0)}%)`,
        Math.round(r.handshakesPerSecond).toLocaleString('en-US'),
      ];
    });
    lines.push(`| ${[setup.label, ...cells].join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<number> {
  const options = {
    durationMs: envInt('BENCH_DURATION_MS', 3000, 500, 600_000),
    clients: envInt('BENCH_CLIENTS', 200, 1, 1_000_000),
    concurrency: envInt('BENCH_CONCURRENCY', 8, 1, 512),
  };
  process.stderr.write(
    `bench:hardware-key: P-256 key in a SoftHSM2 token (${SOFTHSM_MODULE}) via the pkcs11 engine, C_Sign counted by ${PKCS11_SPY}\n`,
  );
  const run = await runHardwareKey(options, (r) =>
    process.stderr.write(
      `  ${r.label} / ${r.population}: ${r.handshakes} handshakes, ${r.signatures} C_Sign, ${Math.round(r.handshakesPerSecond)} hs/s${r.failures ? `, ${r.failures} failures` : ''}\n`,
    ),
  );
  process.stdout.write(hardwareKeyTable(run));
  process.stdout.write(
    `\n${run.node}, OpenSSL ${run.openssl}; ${run.clients} clients, concurrency ${run.concurrency}, ${run.durationMs} ms per phase.\n`,
  );
  if (process.env.BENCH_JSON) fs.writeFileSync(process.env.BENCH_JSON, `${JSON.stringify(run, null, 2)}\n`);
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`bench:hardware-key: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
