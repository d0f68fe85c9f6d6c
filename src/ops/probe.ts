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

import { native } from '../common/native';
import { checkKeys, ErrorCodes, expectKind, withCode } from '../common/validate';

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
  /** Negotiated cipher suite (OpenSSL name), null before a handshake. */
  cipher: string | null;
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
    let cipher: string | null = null;
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
      else resolve({ resumed, protocol, cipher, sessions });
    };
    const hard = setTimeout(
      () => finish(withCode(new Error(`no TLS handshake within ${spec.timeoutMs} ms`), ErrorCodes.probeTimeout)),
      spec.timeoutMs,
    );
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
      cipher = socket.getCipher()?.name ?? null;
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

/** The options both probes take: unknown names refused as attach() does, the timing checked. */
function resolveTiming(options: unknown, known: readonly string[]): Timing {
  expectKind('options', options, 'object');
  checkKeys('options', options as object, known);
  const { timeoutMs = 5000, idleMs = 300 } = options as Partial<Timing>;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 60000) {
    throw withCode(
      new RangeError(`"timeoutMs" must be an integer between 100 and 60000 milliseconds, got ${timeoutMs}.`),
      ErrorCodes.outOfRange,
    );
  }
  if (!Number.isInteger(idleMs) || idleMs < 10 || idleMs > 10000) {
    throw withCode(new RangeError(`"idleMs" must be an integer between 10 and 10000 milliseconds, got ${idleMs}.`), ErrorCodes.outOfRange);
  }
  return { timeoutMs, idleMs };
}

/**
 * Probes `host:port`. Runs the TLS 1.2 tests, then the TLS 1.3 tests, one connection at a time.
 * @throws TypeError / RangeError for bad arguments; never for a server that refuses a version
 *   (that is reported as `supported: false` with the error).
 */
export async function probe(host: string, port: number, options: ProbeOptions = {}): Promise<ProbeReport> {
  if (typeof host !== 'string' || host.length === 0)
    throw withCode(new TypeError('"host" must be a non-empty string.'), ErrorCodes.invalidType);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw withCode(new RangeError(`"port" must be an integer between 1 and 65535, got ${port}.`), ErrorCodes.outOfRange);
  const { timeoutMs, idleMs } = resolveTiming(options, ['servername', 'connections', 'timeoutMs', 'idleMs']);
  const n = options.connections ?? 4;
  if (!Number.isInteger(n) || n < 2 || n > 20)
    throw withCode(new RangeError(`"connections" must be an integer between 2 and 20, got ${n}.`), ErrorCodes.outOfRange);
  if (options.servername !== undefined && (typeof options.servername !== 'string' || options.servername.length === 0)) {
    throw withCode(new TypeError('"servername" must be a non-empty string.'), ErrorCodes.invalidType);
  }
  const servername = options.servername ?? (net.isIP(host) ? undefined : host);
  const spec = { host, port, servername, timeoutMs, idleMs };
  const tls12 = await probeTls12(spec, n);
  const tls13 = await probeTls13(spec, n);
  return { host, port, servername: servername ?? null, tls12, tls13 };
}

/** One endpoint of `probeFleet`. */
export interface ProbeEndpoint {
  host: string;
  port: number;
  /** SNI name to send. Default: the host when it is a name, none for an IP address. */
  servername?: string;
}

/** How a session travels: by session ID (TLS 1.2, no ticket extension), TLS 1.2 ticket, TLS 1.3 ticket. */
export type FleetMechanism = 'sessionId' | 'tls12Ticket' | 'tls13Ticket';

/** A session issued by one endpoint, offered to another: what the wire showed. */
export interface CrossAttempt {
  from: 'A' | 'B';
  to: 'A' | 'B';
  /** The issuer gave a session of this mechanism (a session ID, a ticket). */
  issued: boolean;
  /** The client offered it (false when nothing was issued). */
  offered: boolean;
  /** The receiving server resumed it. */
  resumed: boolean;
  /** A ticket went to the receiving server (tickets only). */
  ticketSent: boolean;
  /** That ticket was accepted: the connection resumed on it. */
  ticketAccepted: boolean;
  /** The receiving server issued a new session or ticket on this connection. */
  newTicket: boolean;
  /** The cipher suite differs from the one of the issuing handshake. */
  cipherChanged: boolean;
  issuerCipher: string | null;
  receiverCipher: string | null;
  error?: string;
}

/** One mechanism between A and B. */
export interface FleetPair {
  mechanism: FleetMechanism;
  protocol: 'TLSv1.2' | 'TLSv1.3';
  /** A resumes a session it issued itself (the control for the cross attempts). */
  ownA: boolean;
  ownB: boolean;
  aToB: CrossAttempt;
  bToA: CrossAttempt;
  /** One line: what this mechanism does across the pair. */
  verdict: string;
}

/** What `probeFleet()` returns. */
export interface FleetProbeReport {
  a: ProbeEndpoint;
  b: ProbeEndpoint;
  pairs: FleetPair[];
  /** One line over every mechanism. */
  verdict: string;
}

const MECHANISMS: ReadonlyArray<{ mechanism: FleetMechanism; version: 'TLSv1.2' | 'TLSv1.3'; noTicket: boolean }> = [
  { mechanism: 'sessionId', version: 'TLSv1.2', noTicket: true },
  { mechanism: 'tls12Ticket', version: 'TLSv1.2', noTicket: false },
  { mechanism: 'tls13Ticket', version: 'TLSv1.3', noTicket: false },
];

type Timing = { timeoutMs: number; idleMs: number };

function endpointSpec(e: ProbeEndpoint, t: Timing) {
  return { host: e.host, port: e.port, servername: e.servername ?? (net.isIP(e.host) ? undefined : e.host), ...t };
}

/** Whether `session` carries what `mechanism` resumes with. */
function carries(session: Buffer | undefined, mechanism: FleetMechanism): boolean {
  const info = inspect(session);
  if (!info) return false;
  return mechanism === 'sessionId' ? info.sessionIdLength > 0 : info.hasTicket;
}

async function crossAttempt(
  from: 'A' | 'B',
  to: 'A' | 'B',
  issuer: ProbeEndpoint,
  receiver: ProbeEndpoint,
  m: (typeof MECHANISMS)[number],
  t: Timing,
): Promise<{ attempt: CrossAttempt; own: boolean }> {
  const attempt: CrossAttempt = {
    from,
    to,
    issued: false,
    offered: false,
    resumed: false,
    ticketSent: false,
    ticketAccepted: false,
    newTicket: false,
    cipherChanged: false,
    issuerCipher: null,
    receiverCipher: null,
  };
  const base = { version: m.version, noTicket: m.noTicket };
  let own = false;
  try {
    const full = await once({ ...endpointSpec(issuer, t), ...base });
    attempt.issuerCipher = full.cipher;
    const session = full.sessions.at(-1);
    attempt.issued = full.protocol === m.version && carries(session, m.mechanism);
    if (!attempt.issued || !session) return { attempt, own };
    // The control: does the issuer resume its own session? With two TLS 1.3 tickets the control
    // spends the first, so a server that takes each ticket once still sees a fresh one below.
    const ownTry = await once({ ...endpointSpec(issuer, t), ...base, session: full.sessions[0]! });
    own = ownTry.resumed;
    // Offered as bare DER: Node 22+ would not offer a wrapped session to another identity.
    const der = unwrapClientSession(session).der;
    const c = await once({ ...endpointSpec(receiver, t), ...base, session: der });
    attempt.offered = true;
    attempt.resumed = c.resumed;
    attempt.receiverCipher = c.cipher;
    attempt.cipherChanged = c.cipher !== full.cipher;
    attempt.ticketSent = m.mechanism !== 'sessionId';
    attempt.ticketAccepted = attempt.ticketSent && c.resumed;
    const offeredTicket = inspect(der)?.ticket;
    attempt.newTicket = c.sessions.some((s) => {
      const got = inspect(s);
      if (!got) return false;
      if (m.mechanism === 'sessionId') return !c.resumed;
      return got.hasTicket && (!offeredTicket || !got.ticket.equals(offeredTicket));
    });
  } catch (err) {
    attempt.error = (err as Error).message;
  }
  return { attempt, own };
}

function pairVerdict(p: Omit<FleetPair, 'verdict'>): string {
  const what = p.mechanism === 'sessionId' ? 'session IDs' : p.mechanism === 'tls12Ticket' ? 'TLS 1.2 tickets' : 'TLS 1.3 tickets';
  const { aToB, bToA } = p;
  if (aToB.error || bToA.error) return `${what}: could not test (${aToB.error ?? bToA.error})`;
  if (!aToB.issued && !bToA.issued) return `${what}: neither issues any`;
  if (!aToB.issued || !bToA.issued) return `${what}: only ${aToB.issued ? 'A' : 'B'} issues them`;
  if (aToB.resumed && bToA.resumed) return `${what}: shared (each resumes the other's)`;
  if (!p.ownA || !p.ownB)
    return `${what}: ${!p.ownA && !p.ownB ? 'neither resumes its own' : `${p.ownA ? 'B' : 'A'} does not resume its own`}`;
  const cause = p.mechanism === 'sessionId' ? 'no shared session cache' : 'different ticket keys or session-ID contexts';
  if (aToB.resumed || bToA.resumed) return `${what}: one way only (${aToB.resumed ? 'A to B' : 'B to A'}): ${cause}`;
  return `${what}: ${cause}`;
}

/**
 * Diagnoses two servers that should resume each other's clients (a fleet behind a load
 * balancer): for session IDs, TLS 1.2 tickets and TLS 1.3 tickets, a session issued by A is
 * offered to B and one issued by B to A, each beside a control (does the issuer resume its own
 * session?), and the report says per pair what the wire showed and why it did not resume.
 * Certificates are not verified.
 * @throws TypeError / RangeError for bad arguments.
 */
export async function probeFleet(
  a: ProbeEndpoint,
  b: ProbeEndpoint,
  options: Pick<ProbeOptions, 'timeoutMs' | 'idleMs'> = {},
): Promise<FleetProbeReport> {
  for (const [name, e] of [
    ['a', a],
    ['b', b],
  ] as const) {
    if (typeof e !== 'object' || e === null)
      throw withCode(new TypeError(`"${name}" must be an object { host, port, servername? }.`), ErrorCodes.invalidType);
    if (typeof e.host !== 'string' || e.host.length === 0)
      throw withCode(new TypeError(`"${name}.host" must be a non-empty string.`), ErrorCodes.invalidType);
    if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535)
      throw withCode(new RangeError(`"${name}.port" must be an integer between 1 and 65535, got ${e.port}.`), ErrorCodes.outOfRange);
    if (e.servername !== undefined && (typeof e.servername !== 'string' || e.servername.length === 0))
      throw withCode(new TypeError(`"${name}.servername" must be a non-empty string.`), ErrorCodes.invalidType);
  }
  const t = resolveTiming(options, ['timeoutMs', 'idleMs']);
  const pairs: FleetPair[] = [];
  for (const m of MECHANISMS) {
    const ab = await crossAttempt('A', 'B', a, b, m, t);
    const ba = await crossAttempt('B', 'A', b, a, m, t);
    const p = { mechanism: m.mechanism, protocol: m.version, ownA: ab.own, ownB: ba.own, aToB: ab.attempt, bToA: ba.attempt };
    pairs.push({ ...p, verdict: pairVerdict(p) });
  }
  const shared = pairs.filter((p) => p.aToB.resumed && p.bToA.resumed);
  const verdict =
    shared.length === pairs.length
      ? "A and B resume each other's sessions by every mechanism"
      : pairs
          .filter((p) => !(p.aToB.resumed && p.bToA.resumed))
          .map((p) => p.verdict)
          .join('; ');
  return { a, b, pairs, verdict };
}

/** The fleet report as text lines, for the terminal. */
export function formatFleetReport(r: FleetProbeReport): string {
  const name = (e: ProbeEndpoint) => `${e.host}:${e.port}${e.servername ? ` (SNI ${e.servername})` : ''}`;
  const yn = (v: boolean) => (v ? 'yes' : 'no');
  const lines = [`A ${name(r.a)}`, `B ${name(r.b)}`];
  for (const p of r.pairs) {
    lines.push(`${p.mechanism} (${p.protocol}): ${p.verdict}`);
    lines.push(`  own session resumes        A ${yn(p.ownA)}, B ${yn(p.ownB)}`);
    for (const c of [p.aToB, p.bToA]) {
      if (!c.offered) {
        lines.push(`  ${c.from} -> ${c.to}  ${c.error ? `error: ${c.error}` : 'nothing to offer'}`);
        continue;
      }
      const ticket = p.mechanism === 'sessionId' ? '' : `, ticket sent ${yn(c.ticketSent)}, accepted ${yn(c.ticketAccepted)}`;
      lines.push(
        `  ${c.from} -> ${c.to}  resumed ${yn(c.resumed)}${ticket}, new ${p.mechanism === 'sessionId' ? 'session' : 'ticket'} ${yn(c.newTicket)}, cipher ${c.cipherChanged ? `changed ${c.issuerCipher} -> ${c.receiverCipher}` : `same (${c.receiverCipher})`}`,
      );
    }
  }
  lines.push(`verdict: ${r.verdict}`);
  return `${lines.join('\n')}\n`;
}

function ratio(r: ResumptionResult): string {
  return r.attempts === 0
    ? 'not tried'
    : `${r.resumed === r.attempts ? 'yes' : r.resumed === 0 ? 'no' : 'partly'} (${r.resumed}/${r.attempts})`;
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
    lines.push(
      `  renewed tickets on resumption ${t3.renewedOnResume ? `yes (${t3.ticketsPerResumption.toFixed(1)} per resumption)` : 'no'}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
