/**
 * Ticket benchmark: resumption ratio and server CPU per handshake for clients that use each
 * TLS 1.3 ticket once (RFC 8446 C.4, as browsers do), stock Node vs the ticket key ring; then
 * the same with keys rotating every second (stock: `setTicketKeys()` on a timer; ring:
 * `rotateEverySeconds: 1`), for single-use and for reusing clients that come back after a pause
 * longer than the rotation period (as real clients do after minutes against hourly keys).
 *
 *   npm run compile && node tools/dist/bench/tickets.js [--connections 400] [--clients 4]
 *       [--seconds 6] [--rotation-clients 20] [--gap-ms 1500]
 *
 * Each server runs in its own child process so its CPU time (process.cpuUsage) is its own.
 * Absolute numbers move from run to run on a shared machine; compare ratios from one run.
 */

import { type ChildProcess, fork } from 'node:child_process';
import * as crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';

import { attach, selfSignedCertificate, TicketKeyRing } from '../library';
import { connectOnce } from './tls13-connect';

type ServerKind = 'stock' | 'ring' | 'stock-rotate' | 'ring-rotate';
type ClientKind = 'once' | 'reuse';

function runServer(kind: ServerKind): void {
  const cert = selfSignedCertificate('localhost');
  const server = tls.createServer({ key: cert.key, cert: cert.cert }, (s) => s.resume().end('ok'));
  if (kind === 'ring') attach(server, { tickets: { enabled: true, keyRing: TicketKeyRing.generate() } });
  if (kind === 'ring-rotate') {
    attach(server, { tickets: { enabled: true, keyRing: TicketKeyRing.generate({ rotateEverySeconds: 1, keepKeys: 12 }) } });
  }
  if (kind === 'stock-rotate') setInterval(() => server.setTicketKeys(crypto.randomBytes(48)), 1000).unref();
  let mark = process.cpuUsage();
  process.on('message', (m) => {
    if (m === 'mark') {
      mark = process.cpuUsage();
      process.send!('marked');
    } else if (m === 'cpu') {
      const d = process.cpuUsage(mark);
      process.send!({ cpuMicros: d.user + d.system });
    } else if (m === 'exit') {
      server.close(() => process.exit(0));
    }
  });
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
}

interface Result {
  connections: number;
  resumed: number;
  ratio: number;
  cpuMicrosPerHandshake: number;
}

function ask<T>(child: ChildProcess, message: string, pick: (m: unknown) => T | undefined): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: unknown): void => {
      const v = pick(m);
      if (v === undefined) return;
      child.off('message', on);
      resolve(v);
    };
    child.on('message', on);
    if (message) child.send(message);
  });
}

async function measure(
  kind: ServerKind,
  client: ClientKind,
  o: { connections?: number; seconds?: number; clients: number; gapMs?: number },
): Promise<Result> {
  const child = fork(__filename, ['--server', kind], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await ask(child, '', (m) => (m as { port?: number }).port);
  await ask(child, 'mark', (m) => (m === 'marked' ? true : undefined));
  let connections = 0;
  let resumed = 0;
  const started = Date.now();
  const more = (): boolean => (o.connections !== undefined ? connections < o.connections : Date.now() - started < o.seconds! * 1000);
  await Promise.all(
    Array.from({ length: o.clients }, async () => {
      let session: Buffer | undefined;
      while (more()) {
        connections++;
        const r = await connectOnce(port, session);
        if (r.reused) resumed++;
        // once: only the newest ticket of the last connection, never one already used.
        session = client === 'once' ? r.session : (r.session ?? session);
        if (o.gapMs) await new Promise((resolve) => setTimeout(resolve, o.gapMs));
      }
    }),
  );
  const { cpuMicros } = await ask(child, 'cpu', (m) =>
    typeof m === 'object' && m && 'cpuMicros' in m ? (m as { cpuMicros: number }) : undefined,
  );
  child.send('exit');
  await new Promise((resolve) => child.once('exit', resolve));
  const possible = connections - o.clients; // each client's first connection cannot resume
  return { connections, resumed, ratio: resumed / possible, cpuMicrosPerHandshake: Math.round(cpuMicros / connections) };
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const connections = arg('connections', 400);
  const seconds = arg('seconds', 6);
  const clients = arg('clients', 4);
  const rotation = { seconds, clients: arg('rotation-clients', 20), gapMs: arg('gap-ms', 1500) };
  const rows: Array<[string, Result]> = [];
  rows.push(['stock, single-use TLS 1.3', await measure('stock', 'once', { connections, clients })]);
  rows.push(['ring,  single-use TLS 1.3', await measure('ring', 'once', { connections, clients })]);
  rows.push(['stock setTicketKeys every 1 s, single-use, back after gap', await measure('stock-rotate', 'once', rotation)]);
  rows.push(['ring rotateEverySeconds 1, single-use, back after gap', await measure('ring-rotate', 'once', rotation)]);
  rows.push(['stock setTicketKeys every 1 s, reusing, back after gap', await measure('stock-rotate', 'reuse', rotation)]);
  rows.push(['ring rotateEverySeconds 1, reusing, back after gap', await measure('ring-rotate', 'reuse', rotation)]);
  process.stdout.write(`| run | connections | resumed | ratio | server CPU µs/handshake |\n|---|---|---|---|---|\n`);
  for (const [name, r] of rows) {
    process.stdout.write(`| ${name} | ${r.connections} | ${r.resumed} | ${r.ratio.toFixed(2)} | ${r.cpuMicrosPerHandshake} |\n`);
  }
}

const serverAt = process.argv.indexOf('--server');
if (serverAt >= 0) {
  runServer(process.argv[serverAt + 1] as ServerKind);
} else {
  main().catch((err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exitCode = 1;
  });
}
