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
 * `--json` prints the figures as JSON. `--groups X25519` sets the client's ecdhCurve (Node 24 and 26 default to X25519MLKEM768).
 * Absolute CPU moves with the machine's load: compare the ratio of one run.
 */
import { type ChildProcess, fork } from 'node:child_process';
import * as os from 'node:os';

import { type ClientSessionCache, clientSessions } from '../library';
import { processTreeCpuMicros } from '../loadgen/procfs';
import { compiled } from './harness';
import { loopbackTls13Options } from './loopback-client';

const IN_FLIGHT = 4;

/** `--groups X25519`: the client's ecdhCurve (default: Node's, X25519MLKEM768 on Node 24 and 26). */
const groups = (() => {
  const i = process.argv.indexOf('--groups');
  return i < 0 ? undefined : process.argv[i + 1];
})();

function intArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1 || v > 1_000_000)
    throw new RangeError(`--${name} must be an integer between 1 and 1000000, got ${process.argv[i + 1]}.`);
  return v;
}

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
  connections: number;
  resumed: number;
  groups: Set<string>;
}

async function phase(server: ChildProcess, sessions: ClientSessionCache, port: number, connections: number): Promise<Phase> {
  const out: Phase = { cpuMicros: 0, connections, resumed: 0, groups: new Set() };
  const before = processTreeCpuMicros([server.pid!]);
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
  out.cpuMicros = processTreeCpuMicros([server.pid!]) - before;
  return out;
}

export async function main(): Promise<void> {
  const connections = intArg('connections', 1000);
  const pairs = intArg('pairs', 3);
  const server = fork(compiled('gateway-upstream'), [], {
    stdio: 'inherit',
    env: { ...process.env, UPSTREAM_HANDSHAKE_ONLY: '1', UPSTREAM_PSK_KE: '1' },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`the server exited with ${code} (tickets.pskKe needs OpenSSL 3.3+)`)));
    server.once('message', (m: { port: number }) => resolve(m.port));
  });
  server.removeAllListeners('exit');
  const clients = { psk_ke: clientSessions({ pskKe: true }), psk_dhe_ke: clientSessions() };
  const totals = {
    psk_ke: { cpu: 0, n: 0, resumed: 0, groups: new Set<string>() },
    psk_dhe_ke: { cpu: 0, n: 0, resumed: 0, groups: new Set<string>() },
  };
  try {
    // Warm-up: a full handshake each fills the caches; then every connection resumes.
    for (const c of Object.values(clients)) await phase(server, c, port, 50);
    for (let p = 0; p < pairs; p++) {
      for (const mode of p % 2 === 0 ? (['psk_ke', 'psk_dhe_ke'] as const) : (['psk_dhe_ke', 'psk_ke'] as const)) {
        const r = await phase(server, clients[mode], port, connections);
        const t = totals[mode];
        t.cpu += r.cpuMicros;
        t.n += r.connections;
        t.resumed += r.resumed;
        for (const g of r.groups) t.groups.add(g);
      }
    }
  } finally {
    await new Promise<void>((resolve) => {
      server.once('exit', () => resolve());
      server.disconnect();
    });
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
      `  ${mode.padEnd(10)} server CPU ${m.serverCpuMicrosPerConnection.toFixed(0)} µs per connection, resumed ${m.resumed.toFixed(3)}, key exchange: ${m.keyExchange.join(', ')}\n`,
    );
  }
  process.stdout.write(`  ratio psk_ke / psk_dhe_ke: ${result.ratio.toFixed(2)}\n`);
}

/** One mode's figures over all its phases. */
export interface PskKeMode {
  serverCpuMicrosPerConnection: number;
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
  /** psk_ke / psk_dhe_ke server CPU per connection. */
  ratio: number;
}

function modeResult(t: { cpu: number; n: number; resumed: number; groups: Set<string> }): PskKeMode {
  return { serverCpuMicrosPerConnection: t.cpu / t.n, resumed: t.resumed / t.n, connections: t.n, keyExchange: [...t.groups] };
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
