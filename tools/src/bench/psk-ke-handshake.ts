/**
 * `bench:psk-ke -- --handshake-only`: the server's CPU time of the TLS 1.3 handshake itself,
 * psk_ke against psk_dhe_ke, on Node's own OpenSSL, without Node's per-connection work (TLSWrap,
 * JS, libuv) or the kernel's TCP. The server is a tls.SecureContext with the package's
 * self-signed ECDSA P-256 certificate, attached as `attach(context, { tickets: { keyRing, pskKe:
 * true } })`: every callback the package installs runs, the ring's ticket key callback included.
 * The native module (tools/native/handshake/) takes that context's SSL_CTX and, on this thread,
 * runs handshakes between a plain OpenSSL client and a server SSL over a BIO pair, reading the
 * thread's CPU clock around each server call only: SSL_do_handshake on the ClientHello (first
 * flight) and on the client's Finished (second flight, which writes the NewSessionTicket), and
 * apart SSL_new and SSL_free. Every resumption offers the ticket the server issued last. Each
 * handshake is checked on the wire (the client's view of the ServerHello: pre_shared_key for a
 * resumption, key_share only where a key exchange ran) and on the server (SSL_session_reused);
 * any other outcome stops the run with an error. Phases alternate ABBA over the modes --pairs
 * times: --handshakes resumptions per resumed phase, --full full handshakes per full phase.
 * Node 20 (OpenSSL 3.0): the server cannot prefer psk_ke (attach refuses tickets.pskKe) and an
 * OpenSSL client always offers psk_dhe_ke too, so only the full and psk_dhe_ke rows run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';

import { attach, selfSignedCertificate, TicketKeyRing } from '../library';
import { groupsArg, intArg } from './psk-ke-args';

/** The handshake kinds measured: `full` is the scale (certificate, signature, key exchange). */
export const HANDSHAKE_MODES = ['psk_dhe_ke', 'psk_ke', 'full'] as const;
export type HandshakeMode = (typeof HANDSHAKE_MODES)[number];

/** The server-side calls timed apart, in the native module's order. */
export const SERVER_CALLS = ['sslNew', 'firstFlight', 'secondFlight', 'sslFree'] as const;
export type ServerCall = (typeof SERVER_CALLS)[number];

export interface NativePhase {
  handshakes: number;
  resumed: number;
  keyShare: number;
  preSharedKey: number;
  ticketsReceived: number;
  serverGroups: string[];
  nanos: Record<ServerCall, Float64Array>;
}

export interface HandshakeBenchNative {
  runPhase(
    secureContextExternal: unknown,
    options: { mode: HandshakeMode; handshakes: number; groups?: string; serverName: string },
  ): NativePhase;
  timerOverheadNanos(): number;
  opensslVersion: string;
}

const FILE = 'tls_resumption_handshake_bench.node';
let loaded: HandshakeBenchNative | undefined;

/** The native module (tools/native/handshake/), loaded from the repository's build on first use. */
export function handshakeBenchNative(): HandshakeBenchNative {
  if (loaded) return loaded;
  // The repository root, from tools/src/bench (tests) and tools/dist/bench alike.
  const root = path.join(__dirname, '..', '..', '..');
  for (const dir of ['build/Release', 'build/Debug']) {
    const candidate = path.join(root, dir, FILE);
    if (fs.existsSync(candidate)) {
      loaded = require(candidate) as HandshakeBenchNative;
      return loaded;
    }
  }
  throw new Error(`${FILE} was not built (run "npm run build:native" in the repository).`);
}

/** What runPhase takes for a SecureContext: Node's External of its SSL_CTX. */
export function secureContextExternal(context: tls.SecureContext): unknown {
  return (context as unknown as { context: { _external: unknown } }).context._external;
}

/** One mode over all its phases. Times are the server thread's CPU, microseconds per handshake. */
export interface HandshakeModeResult {
  handshakes: number;
  /** Share the server resumed (SSL_session_reused): 1 for psk_dhe_ke and psk_ke, 0 for full. */
  resumed: number;
  /** Share whose ServerHello carried a key_share, i.e. ran a key exchange: 0 for psk_ke. */
  keyShare: number;
  /** Share whose ServerHello carried a pre_shared_key (accepted a ticket). */
  preSharedKey: number;
  /** NewSessionTickets the client received per handshake. */
  ticketsPerHandshake: number;
  /** What SSL_get_negotiated_group named on the server (for psk_ke OpenSSL names the session's original group). */
  serverNegotiatedGroup: string[];
  /** The two SSL_do_handshake calls, mean. */
  handshakeMicros: number;
  /** The same, median over the mode's handshakes. */
  handshakeMedianMicros: number;
  /** Mean of each timed server call. */
  calls: Record<ServerCall, number>;
  /** handshakeMicros + SSL_new + SSL_free. */
  withSslObjectMicros: number;
  /** handshakeMicros of each phase, in the order run: how far the machine's state moved. */
  phaseMicros: number[];
}

/** `--handshake-only --json` output. */
export interface PskKeHandshakeResult {
  node: string;
  openssl: string;
  /** The client's groups; null: Node's default (OpenSSL's list, X25519MLKEM768 first on 3.5). */
  groups: string | null;
  /** Whether the server context is attached with tickets.pskKe (OpenSSL 3.3+). */
  serverPskKe: boolean;
  /** Where the server's tickets come from. */
  ticketKeys: string;
  handshakes: number;
  fullHandshakes: number;
  pairs: number;
  /** One reading pair of CLOCK_THREAD_CPUTIME_ID around nothing, µs: part of every timed call. */
  timerOverheadMicros: number;
  /** os.loadavg() before and after the timed phases. */
  loadAverage: { before: number[]; after: number[] };
  modes: { psk_dhe_ke: HandshakeModeResult; full: HandshakeModeResult; psk_ke: HandshakeModeResult | null };
  /** Why there is no psk_ke row (Node 20), else absent. */
  pskKeUnsupported?: string;
  /** psk_ke / psk_dhe_ke of the handshake's mean server CPU; null without a psk_ke row. */
  ratio: number | null;
  ratioMedian: number | null;
  /** The same with SSL_new and SSL_free counted. */
  ratioWithSslObject: number | null;
  /** The handshake ratio within each pair of phases (psk_ke and psk_dhe_ke run back to back). */
  pairRatios: number[] | null;
  /** The attached context's own counters over the timed phases (stats().resumption, stats().tickets.issued). */
  packageStats: { offered: number; resumed: number; ticketsIssued: number };
}

function opensslAtLeast(major: number, minor: number): boolean {
  const [a = 0, b = 0] = process.versions.openssl.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

interface Totals {
  handshakes: number;
  resumed: number;
  keyShare: number;
  preSharedKey: number;
  tickets: number;
  groups: Set<string>;
  nanos: Record<ServerCall, number[]>;
  phaseMicros: number[];
}

function emptyTotals(): Totals {
  return {
    handshakes: 0,
    resumed: 0,
    keyShare: 0,
    preSharedKey: 0,
    tickets: 0,
    groups: new Set(),
    nanos: { sslNew: [], firstFlight: [], secondFlight: [], sslFree: [] },
    phaseMicros: [],
  };
}

function add(t: Totals, p: NativePhase): void {
  t.handshakes += p.handshakes;
  t.resumed += p.resumed;
  t.keyShare += p.keyShare;
  t.preSharedKey += p.preSharedKey;
  t.tickets += p.ticketsReceived;
  for (const g of p.serverGroups) t.groups.add(g);
  for (const call of SERVER_CALLS) for (const v of p.nanos[call]) t.nanos[call].push(v);
  t.phaseMicros.push((sum(p.nanos.firstFlight) + sum(p.nanos.secondFlight)) / p.handshakes / 1000);
}

function sum(xs: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < xs.length; i++) total += xs[i]!;
  return total;
}
const mean = (xs: number[]) => sum(xs) / xs.length;

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function modeResult(t: Totals): HandshakeModeResult {
  const handshake = t.nanos.firstFlight.map((v, i) => v + t.nanos.secondFlight[i]!);
  const calls = {} as Record<ServerCall, number>;
  for (const call of SERVER_CALLS) calls[call] = mean(t.nanos[call]) / 1000;
  const handshakeMicros = mean(handshake) / 1000;
  return {
    handshakes: t.handshakes,
    resumed: t.resumed / t.handshakes,
    keyShare: t.keyShare / t.handshakes,
    preSharedKey: t.preSharedKey / t.handshakes,
    ticketsPerHandshake: t.tickets / t.handshakes,
    serverNegotiatedGroup: [...t.groups],
    handshakeMicros,
    handshakeMedianMicros: median(handshake) / 1000,
    calls,
    withSslObjectMicros: handshakeMicros + calls.sslNew + calls.sslFree,
    phaseMicros: t.phaseMicros,
  };
}

/** Runs the measurement; `--handshake-only` of psk-ke.ts prints it. */
export function measureHandshakes(options: {
  handshakes: number;
  fullHandshakes: number;
  pairs: number;
  groups?: string;
}): PskKeHandshakeResult {
  const native = handshakeBenchNative();
  const serverPskKe = opensslAtLeast(3, 3);
  const cert = selfSignedCertificate('localhost');
  const context = tls.createSecureContext({ key: cert.key, cert: cert.cert });
  const cache = attach(context, { tickets: { keyRing: TicketKeyRing.generate(), pskKe: serverPskKe } });
  const external = secureContextExternal(context);
  const modes = HANDSHAKE_MODES.filter((m) => serverPskKe || m !== 'psk_ke');
  const sizeOf = (mode: HandshakeMode, scale: number) =>
    Math.max(1, Math.round((mode === 'full' ? options.fullHandshakes : options.handshakes) * scale));
  const run = (mode: HandshakeMode, scale: number) =>
    native.runPhase(external, { mode, handshakes: sizeOf(mode, scale), groups: options.groups, serverName: 'localhost' });
  try {
    // Warm-up (caches, lazily fetched algorithms), not counted.
    for (const mode of modes) run(mode, 0.1);
    const totals = Object.fromEntries(modes.map((m) => [m, emptyTotals()])) as Record<HandshakeMode, Totals>;
    const statsBefore = cache.stats();
    const loadBefore = os.loadavg();
    for (let p = 0; p < options.pairs; p++) {
      for (const mode of p % 2 === 0 ? modes : [...modes].reverse()) add(totals[mode], run(mode, 1));
    }
    const loadAfter = os.loadavg();
    const statsAfter = cache.stats();
    const rows = {
      psk_dhe_ke: modeResult(totals.psk_dhe_ke),
      full: modeResult(totals.full),
      psk_ke: serverPskKe ? modeResult(totals.psk_ke) : null,
    };
    const ratio = (read: (m: HandshakeModeResult) => number) => (rows.psk_ke ? read(rows.psk_ke) / read(rows.psk_dhe_ke) : null);
    return {
      node: process.version,
      openssl: process.versions.openssl,
      groups: options.groups ?? null,
      serverPskKe,
      ticketKeys: "the package's TicketKeyRing (its evp ticket key callback, a fresh ticket on every TLS 1.3 resumption)",
      handshakes: options.handshakes,
      fullHandshakes: options.fullHandshakes,
      pairs: options.pairs,
      timerOverheadMicros: native.timerOverheadNanos() / 1000,
      loadAverage: { before: loadBefore, after: loadAfter },
      modes: rows,
      ...(serverPskKe
        ? {}
        : {
            pskKeUnsupported: `OpenSSL ${process.versions.openssl}: a server prefers psk_ke from OpenSSL 3.3 on (attach refuses tickets.pskKe before), and an OpenSSL client offers psk_dhe_ke with psk_ke, so no resumption skips the key exchange`,
          }),
      ratio: ratio((m) => m.handshakeMicros),
      ratioMedian: ratio((m) => m.handshakeMedianMicros),
      ratioWithSslObject: ratio((m) => m.withSslObjectMicros),
      pairRatios: rows.psk_ke ? rows.psk_ke.phaseMicros.map((v, i) => v / rows.psk_dhe_ke.phaseMicros[i]!) : null,
      packageStats: {
        offered: statsAfter.resumption.offered - statsBefore.resumption.offered,
        resumed: statsAfter.resumption.resumed - statsBefore.resumption.resumed,
        ticketsIssued: (statsAfter.tickets?.issued ?? 0) - (statsBefore.tickets?.issued ?? 0),
      },
    };
  } finally {
    cache.detach();
  }
}

export async function mainHandshakeOnly(): Promise<void> {
  const groups = groupsArg();
  const result = measureHandshakes({
    handshakes: intArg('handshakes', 1000),
    fullHandshakes: intArg('full', 100),
    pairs: intArg('pairs', 10),
    groups,
  });
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const spread = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return `${sorted[0]!.toFixed(2)} to ${sorted[sorted.length - 1]!.toFixed(2)} (median ${median(xs).toFixed(2)})`;
  };
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  process.stdout.write(
    `psk_ke, server handshake only (memory BIOs, one thread, the server thread's CPU): Node ${result.node} (OpenSSL ${result.openssl}), ${result.pairs} pairs of ${result.handshakes} resumptions (full: ${result.fullHandshakes}) per mode, client groups: ${groups ?? "Node's default"}, load average ${load(result.loadAverage.before)} -> ${load(result.loadAverage.after)}\n`,
  );
  process.stdout.write(
    '| mode | handshake µs mean | median | 1st flight | 2nd flight (tickets) | SSL_new + SSL_free | resumed | key_share | server group reported |\n|---|---|---|---|---|---|---|---|---|\n',
  );
  for (const mode of ['full', 'psk_dhe_ke', 'psk_ke'] as const) {
    const m = result.modes[mode];
    if (!m) continue;
    const f = (v: number) => v.toFixed(1);
    process.stdout.write(
      `| ${mode} | ${f(m.handshakeMicros)} | ${f(m.handshakeMedianMicros)} | ${f(m.calls.firstFlight)} | ${f(m.calls.secondFlight)} | ${f(m.calls.sslNew + m.calls.sslFree)} | ${m.resumed.toFixed(3)} | ${m.keyShare.toFixed(3)} | ${m.serverNegotiatedGroup.join(', ')} |\n`,
    );
  }
  if (result.ratio === null) {
    process.stdout.write(`no psk_ke row: ${result.pskKeUnsupported}\n`);
  } else {
    process.stdout.write(
      `ratio psk_ke / psk_dhe_ke: handshake ${result.ratio.toFixed(2)} (median ${result.ratioMedian!.toFixed(2)}), with SSL_new + SSL_free ${result.ratioWithSslObject!.toFixed(2)}; per pair of phases ${spread(result.pairRatios!)}\n`,
    );
  }
  process.stdout.write(
    `timer: ${result.timerOverheadMicros.toFixed(2)} µs per reading pair (in every call's figure); tickets: ${result.ticketKeys}; the package counted ${result.packageStats.resumed} of ${result.packageStats.offered} offers resumed, ${result.packageStats.ticketsIssued} tickets issued\n`,
  );
}
