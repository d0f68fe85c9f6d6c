/**
 * A resumption probe for any TLS server: connects several times per protocol version and reports
 * what the server does about resumption, as SSL Labs does: session IDs, TLS 1.2 tickets, TLS 1.3
 * tickets, single-use ticket clients, the ticket lifetime hint, tickets per handshake, and
 * whether a resumed connection brings a renewed ticket. Certificates are not verified: the probe
 * looks at resumption only.
 */
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';

import { native } from './native';

const SSL_OP_NO_TICKET: number = (require('node:constants') as { SSL_OP_NO_TICKET: number }).SSL_OP_NO_TICKET;

/** Options for `probe()`. */
export interface ProbeOptions {
  /** SNI name to send. Default: the host when it is a name, none when it is an IP address. */
  servername?: string;
  /** Connections in each resumption test (the first is always a full handshake). 2 to 20. Default: 4. */
  connections?: number;
  /** Give up on one connection after this many milliseconds. 100 to 60000. Default: 5000. */
  timeoutMs?: number;
  /** Wait this long for more data (late tickets, the rest of a reply) before closing. Default: 300 ms. */
  idleMs?: number;
}

/** Resumption attempts of one kind: `resumed` out of `attempts` connections that offered a session. */
export interface ResumptionResult {
  /** Connections that offered a session from an earlier one. */
  attempts: number;
  /** Of those, how many the server resumed. */
  resumed: number;
}

/** TLS 1.2 results. */
export interface Tls12Probe {
  protocol: 'TLSv1.2';
  /** The server completed a TLS 1.2 handshake. */
  supported: boolean;
  /** Why not, when it did not. */
  error?: string;
  /** Client without the ticket extension (SSL_OP_NO_TICKET): resumption by session ID. */
  sessionId: ResumptionResult & { /** The server gave a session ID to resume by. */ issued: boolean };
  /** Client with the ticket extension: resumption by ticket (RFC 5077). */
  ticket: ResumptionResult & {
    /** The server sent a ticket on the full handshake. */
    issued: boolean;
    /** Ticket lifetime hint the server sent, seconds (0: none given / unspecified). */
    lifetimeHintSeconds: number;
    /** A resumed connection brought a new, different ticket. */
    renewedOnResume: boolean;
  };
}

/** TLS 1.3 results. */
export interface Tls13Probe {
  protocol: 'TLSv1.3';
  supported: boolean;
  error?: string;
  /** NewSessionTicket messages after a full handshake. */
  ticketsPerHandshake: number;
  /** ticket_lifetime of the first ticket, seconds. */
  lifetimeHintSeconds: number;
  /** Size of that ticket, bytes: a few dozen suggests a stateful ticket (a cache key), a hundred or more a self-contained one. */
  ticketBytes: number;
  /** Offering the newest ticket each time (a reused ticket is allowed). */
  ticket: ResumptionResult;
  /**
   * A client that offers each ticket once only, as browsers do (RFC 8446 C.4): of `attempts`
   * connections after the first, each offering an unused ticket when it has one (a full
   * handshake when it has none left), `resumed` resumed. Below 100% means the server does not
   * send enough fresh tickets (stock Node: none on resumption).
   */
  singleUse: ResumptionResult;
  /** A resumed connection brought new tickets. */
  renewedOnResume: boolean;
  /** Tickets received on resumed connections, on average. */
  ticketsPerResumption: number;
}

/** What `probe()` returns. */
export interface ProbeReport {
  host: string;
  port: number;
  servername: string | null;
  tls12: Tls12Probe;
  tls13: Tls13Probe;
}

/** Union of the per-version reports, for code that walks both. */
export type ProtocolProbe = Tls12Probe | Tls13Probe;

interface Connection {
  resumed: boolean;
  protocol: string | null;
  /** Every session the server gave on this connection, in order. */
  sessions: Buffer[];
}

interface ConnectSpec {
  host: string;
  port: number;
  servername: string | undefined;
  version: 'TLSv1.2' | 'TLSv1.3';
  session?: Buffer;
  noTicket?: boolean;
  timeoutMs: number;
  idleMs: number;
}

function once(spec: ConnectSpec): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const sessions: Buffer[] = [];
    let resumed = false;
    let protocol: string | null = null;
    let secure = false;
    let settled = false;
    let idle: NodeJS.Timeout | undefined;
    const socket = tls.connect({
      host: spec.host,
      port: spec.port,
      servername: spec.servername,
      rejectUnauthorized: false,
      minVersion: spec.version,
      maxVersion: spec.version,
      session: spec.session,
      secureOptions: spec.noTicket ? SSL_OP_NO_TICKET : 0,
    });
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(hard);
      if (idle) clearTimeout(idle);
      socket.destroy();
      if (err && !secure) reject(err);
      else resolve({ resumed, protocol, sessions });
    };
    const hard = setTimeout(() => finish(new Error(`no TLS handshake within ${spec.timeoutMs} ms`)), spec.timeoutMs);
    const armIdle = () => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => finish(), spec.idleMs);
    };
    socket.on('session', (s: Buffer) => {
      sessions.push(s);
      if (secure) armIdle();
    });
    socket.on('secureConnect', () => {
      secure = true;
      resumed = socket.isSessionReused();
      protocol = socket.getProtocol();
      // HTTP servers answer and close; others ignore it. Either way late tickets get time to arrive.
      socket.write(`GET / HTTP/1.0\r\nHost: ${spec.servername ?? spec.host}\r\n\r\n`);
      armIdle();
    });
    socket.on('data', armIdle);
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish());
  });
}

// Node 22 and later hand a client its sessions wrapped: this prefix, the server identity the
// session was authenticated for (u16 length, UTF-8), then OpenSSL's DER (lib/_tls_wrap.js,
// wrapSessionState). Node 20 hands out the DER alone.
const NODE_SESSION_PREFIX = Buffer.from('\0nodejs:tls:session:1\0', 'latin1');

/**
 * The OpenSSL session (DER) inside a session buffer from a TLSSocket 'session' event, on every
 * Node line, and the identity Node bound it to, when it did. Node 22+ offers a wrapped session
 * only to a server of that identity; the DER alone it offers anywhere when the connection does
 * not verify certificates (as the probe's do), which is how `probeFleet` offers A's session to B.
 * Bytes that are not wrapped come back as they are.
 */
export function unwrapClientSession(session: Buffer): { der: Buffer; identity: string | null } {
  const p = NODE_SESSION_PREFIX;
  if (session.length < p.length + 2 || !session.subarray(0, p.length).equals(p)) return { der: session, identity: null };
  const len = session.readUInt16BE(p.length);
  const start = p.length + 2;
  if (session.length < start + len) return { der: session, identity: null };
  return { der: session.subarray(start + len), identity: session.toString('utf8', start, start + len) };
}

function inspect(session: Buffer | undefined) {
  return session ? native.inspectSession(session) : null;
}

function digest(b: Buffer): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

async function probeTls12(spec: Omit<ConnectSpec, 'version'>, n: number): Promise<Tls12Probe> {
  const out: Tls12Probe = {
    protocol: 'TLSv1.2',
    supported: false,
    sessionId: { issued: false, attempts: 0, resumed: 0 },
    ticket: { issued: false, attempts: 0, resumed: 0, lifetimeHintSeconds: 0, renewedOnResume: false },
  };
  const base = { ...spec, version: 'TLSv1.2' as const };
  let first: Connection;
  try {
    first = await once({ ...base, noTicket: true });
  } catch (err) {
    out.error = (err as Error).message;
    return out;
  }
  out.supported = first.protocol === 'TLSv1.2';
  if (!out.supported) {
    out.error = `server negotiated ${first.protocol ?? 'nothing'}`;
    return out;
  }
  // By session ID: the client sends no ticket extension, so only the server's cache can resume.
  let session = first.sessions.at(-1);
  out.sessionId.issued = (inspect(session)?.sessionIdLength ?? 0) > 0;
  for (let i = 1; i < n && session; i++) {
    const c = await once({ ...base, noTicket: true, session });
    out.sessionId.attempts++;
    if (c.resumed) out.sessionId.resumed++;
    session = c.sessions.at(-1) ?? session;
  }
  // By ticket: resumption only counts when the session offered carried a ticket.
  const full = await once(base);
  session = full.sessions.at(-1);
  const info = inspect(session);
  out.ticket.issued = info?.hasTicket ?? false;
  out.ticket.lifetimeHintSeconds = info?.lifetimeHintSeconds ?? 0;
  if (out.ticket.issued) {
    for (let i = 1; i < n && session; i++) {
      const offered = inspect(session);
      const c = await once({ ...base, session });
      out.ticket.attempts++;
      if (c.resumed) out.ticket.resumed++;
      const got = inspect(c.sessions.at(-1));
      if (c.resumed && offered && got?.hasTicket && digest(got.ticket) !== digest(offered.ticket)) out.ticket.renewedOnResume = true;
      session = c.sessions.at(-1) ?? session;
    }
  }
  return out;
}

async function probeTls13(spec: Omit<ConnectSpec, 'version'>, n: number): Promise<Tls13Probe> {
  const out: Tls13Probe = {
    protocol: 'TLSv1.3',
    supported: false,
    ticketsPerHandshake: 0,
    lifetimeHintSeconds: 0,
    ticketBytes: 0,
    ticket: { attempts: 0, resumed: 0 },
    singleUse: { attempts: 0, resumed: 0 },
    renewedOnResume: false,
    ticketsPerResumption: 0,
  };
  const base = { ...spec, version: 'TLSv1.3' as const };
  let first: Connection;
  try {
    first = await once(base);
  } catch (err) {
    out.error = (err as Error).message;
    return out;
  }
  out.supported = first.protocol === 'TLSv1.3';
  if (!out.supported) {
    out.error = `server negotiated ${first.protocol ?? 'nothing'}`;
    return out;
  }
  out.ticketsPerHandshake = first.sessions.length;
  const info = inspect(first.sessions[0]);
  out.lifetimeHintSeconds = info?.lifetimeHintSeconds ?? 0;
  out.ticketBytes = info?.ticket.length ?? 0;
  let onResume = 0;
  let resumedCount = 0;
  // Newest ticket each time (a client that reuses tickets).
  let session = first.sessions.at(-1);
  for (let i = 1; i < n && session; i++) {
    const c = await once({ ...base, session });
    out.ticket.attempts++;
    if (c.resumed) {
      out.ticket.resumed++;
      resumedCount++;
      onResume += c.sessions.length;
      if (c.sessions.length > 0) out.renewedOnResume = true;
    }
    session = c.sessions.at(-1) ?? session;
  }
  // Single use: every ticket offered once; when none is left, a full handshake refills the pool.
  const fresh = await once(base);
  const pool = [...fresh.sessions];
  for (let i = 1; i < n; i++) {
    const ticket = pool.shift();
    const c = await once({ ...base, session: ticket });
    out.singleUse.attempts++;
    if (c.resumed) {
      out.singleUse.resumed++;
      resumedCount++;
      onResume += c.sessions.length;
      if (c.sessions.length > 0) out.renewedOnResume = true;
    }
    pool.push(...c.sessions);
  }
  out.ticketsPerResumption = resumedCount > 0 ? onResume / resumedCount : 0;
  return out;
}

/**
 * Probes `host:port`. Runs the TLS 1.2 tests, then the TLS 1.3 tests, one connection at a time.
 * @throws TypeError / RangeError for bad arguments; never for a server that refuses a version
 *   (that is reported as `supported: false` with the error).
 */
export async function probe(host: string, port: number, options: ProbeOptions = {}): Promise<ProbeReport> {
  if (typeof host !== 'string' || host.length === 0) throw new TypeError('probe: "host" must be a non-empty string.');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`probe: "port" must be an integer between 1 and 65535, got ${port}.`);
  const n = options.connections ?? 4;
  if (!Number.isInteger(n) || n < 2 || n > 20) throw new RangeError(`probe: "connections" must be an integer between 2 and 20, got ${n}.`);
  const timeoutMs = options.timeoutMs ?? 5000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 60000) {
    throw new RangeError(`probe: "timeoutMs" must be an integer between 100 and 60000 milliseconds, got ${timeoutMs}.`);
  }
  const idleMs = options.idleMs ?? 300;
  if (!Number.isInteger(idleMs) || idleMs < 10 || idleMs > 10000) {
    throw new RangeError(`probe: "idleMs" must be an integer between 10 and 10000 milliseconds, got ${idleMs}.`);
  }
  if (options.servername !== undefined && (typeof options.servername !== 'string' || options.servername.length === 0)) {
    throw new TypeError('probe: "servername" must be a non-empty string.');
  }
  const servername = options.servername ?? (net.isIP(host) ? undefined : host);
  const spec = { host, port, servername, timeoutMs, idleMs };
  const tls12 = await probeTls12(spec, n);
  const tls13 = await probeTls13(spec, n);
  return { host, port, servername: servername ?? null, tls12, tls13 };
}

function ratio(r: ResumptionResult): string {
  return r.attempts === 0 ? 'not tried' : `${r.resumed === r.attempts ? 'yes' : r.resumed === 0 ? 'no' : 'partly'} (${r.resumed}/${r.attempts})`;
}

/** The report as aligned text lines, for the terminal. */
export function formatProbeReport(r: ProbeReport): string {
  const lines = [`${r.host}:${r.port}${r.servername ? ` (SNI ${r.servername})` : ''}`];
  const t2 = r.tls12;
  lines.push('TLS 1.2');
  if (!t2.supported) {
    lines.push(`  no TLS 1.2 handshake: ${t2.error ?? ''}`);
  } else {
    lines.push(`  session ID issued            ${t2.sessionId.issued ? 'yes' : 'no'}`);
    lines.push(`  resumes by session ID        ${ratio(t2.sessionId)}`);
    lines.push(`  ticket issued                ${t2.ticket.issued ? 'yes' : 'no'}`);
    lines.push(`  resumes by ticket            ${ratio(t2.ticket)}`);
    lines.push(`  ticket lifetime hint         ${t2.ticket.issued ? `${t2.ticket.lifetimeHintSeconds} s` : '-'}`);
    lines.push(`  renewed ticket on resumption ${t2.ticket.issued ? (t2.ticket.renewedOnResume ? 'yes' : 'no') : '-'}`);
  }
  const t3 = r.tls13;
  lines.push('TLS 1.3');
  if (!t3.supported) {
    lines.push(`  no TLS 1.3 handshake: ${t3.error ?? ''}`);
  } else {
    lines.push(`  tickets per full handshake   ${t3.ticketsPerHandshake}`);
    lines.push(`  ticket lifetime hint         ${t3.ticketsPerHandshake ? `${t3.lifetimeHintSeconds} s` : '-'}`);
    lines.push(`  ticket size                  ${t3.ticketsPerHandshake ? `${t3.ticketBytes} bytes` : '-'}`);
    lines.push(`  resumes by ticket            ${ratio(t3.ticket)}`);
    lines.push(`  single-use tickets resume    ${ratio(t3.singleUse)}`);
    lines.push(`  renewed tickets on resumption ${t3.renewedOnResume ? `yes (${t3.ticketsPerResumption.toFixed(1)} per resumption)` : 'no'}`);
  }
  return lines.join('\n') + '\n';
}
