#!/usr/bin/env node
/**
 * psk_ke benchmark (`npm run bench:psk-ke`): server CPU of a resumed TLS 1.3 handshake without a
 * key exchange (psk_ke) against one with it (psk_dhe_ke, the default), same server and same
 * client. The server (gateway-upstream.ts, its own process, handshakes only) is attached with
 * `tickets.pskKe: true`;
 * the client is `clientSessions({ pskKe: true })` (offers psk_ke: the server picks it) or
 * `clientSessions()` (offers psk_dhe_ke only). Each phase makes --connections resumed
 * connections (4 in flight) and reads the server's utime + stime from /proc; phases alternate
 * --pairs times; the ratio is psk_ke / psk_dhe_ke over all phases. Needs OpenSSL 3.3+ (Node 22+).
 * `--json` prints the figures as JSON. `--callgrind` counts the server's instructions instead of
 * its CPU time (valgrind), split by part of the handshake (HANDSHAKE_PARTS). `--groups X25519` sets the client's ecdhCurve (Node 22, 24 and 26 default to X25519MLKEM768).
 * Absolute CPU moves with the machine's load: compare the ratio of one run.
 * `--handshake-only` measures the server's handshake alone instead, on memory BIOs in one thread
 * (psk-ke-handshake.ts; options --handshakes, --full, --pairs, --groups, --json).
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { type ClientSessionCache, clientSessions } from '../library';
import { processCpuSplitMicros } from '../loadgen/procfs';
import { compiled } from './harness';
import { loopbackTls13Options } from './loopback-client';
import { groupsArg, intArg } from './psk-ke-args';
import { mainHandshakeOnly } from './psk-ke-handshake';

const IN_FLIGHT = 4;

const groups = groupsArg();

function connectOnce(sessions: ClientSessionCache, port: number): Promise<{ reused: boolean; group: string }> {
  return new Promise((resolve, reject) => {
    const socket = sessions.connect(loopbackTls13Options(port, groups));
    let out = { reused: false, group: '' };
    socket.once('secureConnect', () => {
      // What Node reports: an ECDH key (X25519, P-256) for an (EC)DHE exchange; for psk_ke none
      // (Node 22) or a 'TLSGroup' naming the session's group (Node 24, 26), as for hybrid groups.
      const info = socket.getEphemeralKeyInfo() as { type?: string; name?: string } | null;
      out = { reused: socket.isSessionReused(), group: info?.type ? `${info.type} ${info.name}` : 'none' };
    });
    socket.resume();
    socket.once('error', reject);
    socket.once('close', () => resolve(out));
  });
}

interface Phase {
  cpuMicros: number;
  userMicros: number;
  connections: number;
  resumed: number;
  groups: Set<string>;
}

async function phase(server: ChildProcess, sessions: ClientSessionCache, port: number, connections: number): Promise<Phase> {
  const out: Phase = { cpuMicros: 0, userMicros: 0, connections, resumed: 0, groups: new Set() };
  const before = processCpuSplitMicros(server.pid!);
  let left = connections;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (left-- > 0) {
        const r = await connectOnce(sessions, port);
        if (r.reused) out.resumed++;
        out.groups.add(r.group);
      }
    }),
  );
  const after = processCpuSplitMicros(server.pid!);
  out.userMicros = after.user - before.user;
  out.cpuMicros = out.userMicros + after.system - before.system;
  return out;
}

/** The upstream (handshakes only, tickets.pskKe), in its own process; under callgrind when `callgrindOut` is given. */
async function startServer(callgrindOut?: string): Promise<{ server: ChildProcess; port: number }> {
  const server = fork(compiled('gateway-upstream'), [], {
    stdio: 'inherit',
    env: { ...process.env, UPSTREAM_HANDSHAKE_ONLY: '1', UPSTREAM_PSK_KE: '1' },
    ...(callgrindOut
      ? { execPath: 'valgrind', execArgv: ['--tool=callgrind', `--callgrind-out-file=${callgrindOut}`, process.execPath] }
      : {}),
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`the server exited with ${code} (tickets.pskKe needs OpenSSL 3.3+)`)));
    server.once('message', (m: { port: number }) => resolve(m.port));
  });
  server.removeAllListeners('exit');
  return { server, port };
}

function stopServer(server: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    server.once('exit', () => resolve());
    server.disconnect();
  });
}

export async function main(): Promise<void> {
  if (process.argv.includes('--callgrind')) return mainCallgrind();
  if (process.argv.includes('--handshake-only')) return mainHandshakeOnly();
  const connections = intArg('connections', 1000);
  const pairs = intArg('pairs', 3);
  const { server, port } = await startServer();
  const clients = { psk_ke: clientSessions({ pskKe: true }), psk_dhe_ke: clientSessions() };
  const totals = {
    psk_ke: { cpu: 0, user: 0, n: 0, resumed: 0, groups: new Set<string>() },
    psk_dhe_ke: { cpu: 0, user: 0, n: 0, resumed: 0, groups: new Set<string>() },
  };
  try {
    // Warm-up: a full handshake each fills the caches; then every connection resumes.
    for (const c of Object.values(clients)) await phase(server, c, port, 50);
    for (let p = 0; p < pairs; p++) {
      for (const mode of p % 2 === 0 ? (['psk_ke', 'psk_dhe_ke'] as const) : (['psk_dhe_ke', 'psk_ke'] as const)) {
        const r = await phase(server, clients[mode], port, connections);
        const t = totals[mode];
        t.cpu += r.cpuMicros;
        t.user += r.userMicros;
        t.n += r.connections;
        t.resumed += r.resumed;
        for (const g of r.groups) t.groups.add(g);
      }
    }
  } finally {
    await stopServer(server);
  }
  const per = (mode: keyof typeof totals) => totals[mode].cpu / totals[mode].n;
  const result: PskKeResult = {
    node: process.version,
    openssl: process.versions.openssl,
    connections,
    pairs,
    groups: groups ?? null,
    modes: {
      psk_dhe_ke: modeResult(totals.psk_dhe_ke),
      psk_ke: modeResult(totals.psk_ke),
    },
    ratio: per('psk_ke') / per('psk_dhe_ke'),
    userRatio: totals.psk_ke.user / totals.psk_ke.n / (totals.psk_dhe_ke.user / totals.psk_dhe_ke.n),
  };
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `psk_ke: Node ${process.version} (OpenSSL ${process.versions.openssl}), ${os.cpus().length} CPUs, ${pairs} pairs of ${connections} connections, ${IN_FLIGHT} in flight, client groups: ${groups ?? "Node's default"}\n`,
  );
  for (const mode of ['psk_dhe_ke', 'psk_ke'] as const) {
    const m = result.modes[mode];
    process.stdout.write(
      `  ${mode.padEnd(10)} server CPU ${m.serverCpuMicrosPerConnection.toFixed(0)} µs per connection (user ${m.serverUserCpuMicrosPerConnection.toFixed(0)}), resumed ${m.resumed.toFixed(3)}, key exchange: ${m.keyExchange.join(', ')}\n`,
    );
  }
  process.stdout.write(`  ratio psk_ke / psk_dhe_ke: ${result.ratio.toFixed(2)} (user CPU alone: ${result.userRatio.toFixed(2)})\n`);
}

/** One mode's figures over all its phases. */
export interface PskKeMode {
  /** User + system CPU of the server process. */
  serverCpuMicrosPerConnection: number;
  /** User CPU alone (what callgrind's instruction counts see; system time is the kernel's TCP and socket work). */
  serverUserCpuMicrosPerConnection: number;
  /** Share of the mode's connections that resumed. */
  resumed: number;
  connections: number;
  /** What getEphemeralKeyInfo() showed on the client, e.g. `ECDH X25519`, `TLSGroup x25519`. */
  keyExchange: string[];
}

/** `--json` output. */
export interface PskKeResult {
  node: string;
  openssl: string;
  connections: number;
  pairs: number;
  groups: string | null;
  modes: Record<'psk_ke' | 'psk_dhe_ke', PskKeMode>;
  /** psk_ke / psk_dhe_ke server CPU (user + system) per connection. */
  ratio: number;
  /** The same for user CPU alone. */
  userRatio: number;
}

function modeResult(t: { cpu: number; user: number; n: number; resumed: number; groups: Set<string> }): PskKeMode {
  return {
    serverCpuMicrosPerConnection: t.cpu / t.n,
    serverUserCpuMicrosPerConnection: t.user / t.n,
    resumed: t.resumed / t.n,
    connections: t.n,
    keyExchange: [...t.groups],
  };
}

/**
 * Functions whose inclusive instruction counts split the server's side of a resumed TLS 1.3
 * handshake (OpenSSL's own names: Node's binaries keep their symbols). `handshake` contains the
 * three before it; what is outside it and outside SSL_new/SSL_free is Node's (V8, the TLSWrap
 * and net code in JS and C++, libuv) and the record layer's work after the handshake.
 */
export const HANDSHAKE_PARTS = {
  keyExchange: ['tls_parse_ctos_key_share', 'tls_construct_stoc_key_share'],
  ticketDecryption: ['tls_decrypt_ticket'],
  newTicket: ['tls_construct_new_session_ticket'],
  handshake: ['ossl_statem_accept'],
  sslObject: ['SSL_new', 'SSL_free'],
} as const;
export type HandshakePart = keyof typeof HANDSHAKE_PARTS;

/** `--callgrind --json` output: instructions per resumed connection on the server, whole process and by part. */
export interface PskKeInstructions {
  node: string;
  openssl: string;
  connections: number;
  groups: string | null;
  modes: Record<
    'psk_ke' | 'psk_dhe_ke',
    { resumed: number; total: number; parts: Record<HandshakePart | 'restOfHandshake' | 'outsideHandshake', number> }
  >;
  /** psk_ke / psk_dhe_ke of the whole process's instructions per connection. */
  ratio: number;
}

/** Inclusive instructions of the named functions in one callgrind dump (callgrind_annotate --inclusive=yes). */
function inclusiveOf(file: string, names: readonly string[]): { total: number; by: Map<string, number> } {
  const text = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const by = new Map<string, number>();
  let total = 0;
  for (const line of text.split('\n')) {
    const summary = /^\s*([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS/.exec(line) ?? /^\s*([\d,]+)\s+PROGRAM TOTALS/.exec(line);
    if (summary) total = Number(summary[1]!.replace(/,/g, ''));
    const m = /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?\S*?:([A-Za-z0-9_]+)(?:'\d+)?\s/.exec(`${line} `);
    if (m && names.includes(m[2]!)) by.set(m[2]!, (by.get(m[2]!) ?? 0) + Number(m[1]!.replace(/,/g, '')));
  }
  return { total, by };
}

/** `--callgrind`: the server under valgrind's callgrind; counters zeroed after a warm-up, dumped after each mode's phase. */
async function mainCallgrind(): Promise<void> {
  const connections = intArg('connections', 200);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'psk-ke-callgrind-'));
  const { server, port } = await startServer(path.join(dir, 'cg.%p'));
  const pid = String(server.pid);
  const clients = { psk_ke: clientSessions({ pskKe: true }), psk_dhe_ke: clientSessions() };
  const all = Object.values(HANDSHAKE_PARTS).flat();
  const modes = {} as PskKeInstructions['modes'];
  try {
    for (const c of Object.values(clients)) await phase(server, c, port, 20);
    for (const mode of ['psk_dhe_ke', 'psk_ke'] as const) {
      execFileSync('callgrind_control', ['-z', pid], { stdio: 'ignore' });
      const r = await phase(server, clients[mode], port, connections);
      const before = new Set(fs.readdirSync(dir));
      execFileSync('callgrind_control', ['-d', pid], { stdio: 'ignore' });
      const dump = fs.readdirSync(dir).find((f) => !before.has(f));
      if (!dump) throw new Error('callgrind wrote no dump');
      const { total, by } = inclusiveOf(path.join(dir, dump), all);
      const part = (p: HandshakePart) => HANDSHAKE_PARTS[p].reduce((sum, f) => sum + (by.get(f) ?? 0), 0) / connections;
      const parts = {
        keyExchange: part('keyExchange'),
        ticketDecryption: part('ticketDecryption'),
        newTicket: part('newTicket'),
        handshake: part('handshake'),
        sslObject: part('sslObject'),
        restOfHandshake: 0,
        outsideHandshake: 0,
      };
      parts.restOfHandshake = parts.handshake - parts.keyExchange - parts.ticketDecryption - parts.newTicket;
      parts.outsideHandshake = total / connections - parts.handshake - parts.sslObject;
      modes[mode] = { resumed: r.resumed / connections, total: total / connections, parts };
    }
  } finally {
    await stopServer(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const result: PskKeInstructions = {
    node: process.version,
    openssl: process.versions.openssl,
    connections,
    groups: groups ?? null,
    modes,
    ratio: modes.psk_ke.total / modes.psk_dhe_ke.total,
  };
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const k = (n: number) => `${(n / 1000).toFixed(0)}k`;
  process.stdout.write(
    `psk_ke instructions (callgrind, server process): Node ${process.version} (OpenSSL ${process.versions.openssl}), ${connections} resumed connections per mode, client groups: ${groups ?? "Node's default"}\n`,
  );
  process.stdout.write('| part | psk_dhe_ke Ir/conn | psk_ke Ir/conn |\n|---|---|---|\n');
  const rows: Array<[string, (m: PskKeInstructions['modes']['psk_ke']) => number]> = [
    ['whole server process', (m) => m.total],
    ['handshake (ossl_statem_accept)', (m) => m.parts.handshake],
    ['  key exchange (key_share parse + construct)', (m) => m.parts.keyExchange],
    ['  ticket decryption (tls_decrypt_ticket)', (m) => m.parts.ticketDecryption],
    ['  new ticket (tls_construct_new_session_ticket)', (m) => m.parts.newTicket],
    ['  rest of the handshake', (m) => m.parts.restOfHandshake],
    ['SSL_new + SSL_free', (m) => m.parts.sslObject],
    ['outside the handshake (Node, V8, libuv, records after it)', (m) => m.parts.outsideHandshake],
  ];
  for (const [label, read] of rows) process.stdout.write(`| ${label} | ${k(read(modes.psk_dhe_ke))} | ${k(read(modes.psk_ke))} |\n`);
  process.stdout.write(
    `resumed: psk_dhe_ke ${modes.psk_dhe_ke.resumed.toFixed(3)}, psk_ke ${modes.psk_ke.resumed.toFixed(3)}; ratio psk_ke / psk_dhe_ke (whole process): ${result.ratio.toFixed(2)}\n`,
  );
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench:psk-ke: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
