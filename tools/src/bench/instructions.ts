/**
 * `npm run bench:instructions`: server-side CPU instructions per handshake, counted by
 * `valgrind --tool=callgrind` on the server process (not seconds: the same binary and inputs give
 * the same count whatever else the shared machine is doing). Each variant's server runs alone
 * under callgrind; the native load generator drives it from its own process; counters are zeroed
 * after each warm-up and dumped after each measured phase (`callgrind_control -z` / `-d`).
 *
 * Usage: node tools/dist/bench/instructions.js [--connections N] [--variants stock,jsCache,attach]
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { selfSignedCertificate } from '../library';
import { LoadgenProcess } from '../loadgen/process';
import { compiled } from './harness';
import type { ServerConfig, ServerReply } from './server';
import { VARIANTS, type VariantName } from './variants';

interface Row {
  variant: VariantName;
  phase: string;
  handshakes: number;
  resumed: number;
  instructions: number;
  perHandshake: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

function startUnderCallgrind(variant: VariantName, outDir: string): Promise<{ child: ChildProcess; port: number }> {
  const cert = selfSignedCertificate('localhost');
  const config: ServerConfig = { variant, workers: 0, key: cert.key, cert: cert.cert };
  const child = fork(compiled('server'), [], {
    execPath: 'valgrind',
    execArgv: ['--tool=callgrind', `--callgrind-out-file=${path.join(outDir, `cg.${variant}.%p`)}`, process.execPath],
    env: { ...process.env, TSC_BENCH_SERVER: JSON.stringify(config) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${variant} under callgrind exited (${code})`)));
    child.on('message', (m: ServerReply) => {
      if ('type' in m && m.type === 'ready') resolve({ child, port: m.port });
    });
  });
}

/** Total Ir of the newest dump callgrind_control wrote for `pid`. */
function dumpInstructions(pid: number, outDir: string, variant: string): number {
  const before = new Set(fs.readdirSync(outDir));
  execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' });
  const fresh = fs.readdirSync(outDir).filter((f) => f.startsWith(`cg.${variant}.`) && !before.has(f));
  if (fresh.length !== 1) throw new Error(`callgrind wrote ${fresh.length} dumps for ${variant}`);
  const text = fs.readFileSync(path.join(outDir, fresh[0]!), 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('summary:') || l.startsWith('totals:'));
  if (!line) throw new Error('callgrind dump without a summary line');
  return Number(line.split(/\s+/)[1]);
}

async function measure(variant: VariantName, connections: number, outDir: string, loadgen: LoadgenProcess): Promise<Row[]> {
  const { child, port } = await startUnderCallgrind(variant, outDir);
  const pid = child.pid!;
  const rows: Row[] = [];
  const phases: Array<{ phase: string; kind: 'fresh' | 'reuse' | 'sessionId'; tls13: number }> = [
    { phase: 'full TLS 1.2', kind: 'fresh', tls13: 0 },
    { phase: 'resumed TLS 1.2', kind: 'reuse', tls13: 0 },
    { phase: 'resumed TLS 1.3', kind: 'reuse', tls13: 1 },
  ];
  try {
    for (const p of phases) {
      const name = `${variant}-${p.kind}-${p.tls13}`;
      await loadgen.populate(name, { targets: [{ host: '127.0.0.1', port }], clients: 20, kinds: { [p.kind]: 1 }, tls13: p.tls13 });
      // Warm-up: every client gets a session (and the server's lazy paths run once).
      await loadgen.run(name, { durationMs: 0, connections: 20, sweep: true, concurrency: 2, timeoutMs: 60000 });
      execFileSync('callgrind_control', ['-z', String(pid)], { stdio: 'ignore' });
      const report = await loadgen.run(name, { durationMs: 0, connections, concurrency: 2, timeoutMs: 60000 });
      const instructions = dumpInstructions(pid, outDir, variant);
      rows.push({
        variant,
        phase: p.phase,
        handshakes: report.handshakes,
        resumed: report.resumed,
        instructions,
        perHandshake: instructions / report.handshakes,
      });
      await loadgen.drop(name);
    }
  } finally {
    child.kill('SIGKILL');
  }
  return rows;
}

async function main(): Promise<void> {
  const connections = Number(arg('connections', '200'));
  const variants = arg('variants', 'stock,jsCache,attach').split(',') as VariantName[];
  for (const v of variants) if (!(v in VARIANTS)) throw new Error(`unknown variant ${v}`);
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsc-callgrind-'));
  const loadgen = new LoadgenProcess();
  const rows: Row[] = [];
  try {
    for (const v of variants) rows.push(...(await measure(v, connections, outDir, loadgen)));
  } finally {
    await loadgen.close();
    fs.rmSync(outDir, { recursive: true, force: true });
  }
  const stock = (phase: string) => rows.find((r) => r.variant === 'stock' && r.phase === phase);
  const lines = [
    `Server instructions per handshake (valgrind --tool=callgrind, ${connections} connections per phase after a warm-up), ${process.version}`,
    '',
    '| server | phase | handshakes | resumed | instructions / handshake | vs stock |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const s = stock(r.phase);
      const ratio = s && r.variant !== 'stock' ? `${(r.perHandshake / s.perHandshake).toFixed(2)}x` : '';
      return `| ${VARIANTS[r.variant].label} | ${r.phase} | ${r.handshakes} | ${r.resumed} | ${Math.round(r.perHandshake).toLocaleString('en-US')} | ${ratio} |`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:instructions: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
