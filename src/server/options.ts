/**
 * Options accepted by `attach()` and `configure()`, their defaults, and their validation.
 * `parseAttachOptions` validates every group once, at the boundary (attach, configure), before
 * anything native is touched, so a bad option never leaves a context half-configured; the parsed
 * request is what travels down. Each group validates itself: cache and tickets here, `fleet` in
 * fleet/options.ts, `shared` in shared-store.ts, all with the checks of validate.ts.
 */

import { type ResolvedSharedOptions, resolveShared, type SharedOptions } from '../common/shared-store';
import { ErrorCodes, optionalBoolean, optionalInteger, optionGroup, rangeError, typeError, withCode } from '../common/validate';
import { type FleetOptions, type ResolvedFleet, resolveFleet } from './fleet/options';
import { TicketKeyRing } from './ticket-key-ring';

/** Raw OpenSSL session-cache mode flags for the `cache.mode` escape hatch. */
export const CacheMode = Object.freeze({
  /** SSL_SESS_CACHE_NO_AUTO_CLEAR: do not purge expired sessions every 255 handshakes. */
  NO_AUTO_CLEAR: 0x0080,
  /** SSL_SESS_CACHE_NO_INTERNAL_LOOKUP: store in the internal cache but only look up through callbacks. */
  NO_INTERNAL_LOOKUP: 0x0100,
  /** SSL_SESS_CACHE_NO_INTERNAL_STORE: look up in the internal cache but do not add new sessions. */
  NO_INTERNAL_STORE: 0x0200,
});

const MODE_MASK = CacheMode.NO_AUTO_CLEAR | CacheMode.NO_INTERNAL_LOOKUP | CacheMode.NO_INTERNAL_STORE;

/** Whether this Node's OpenSSL (3.3+) can make a server prefer psk_ke (SSL_OP_PREFER_NO_DHE_KEX). */
export function serverPskKeSupported(): boolean {
  const [major = 0, minor = 0] = (process.versions.openssl ?? '').split('.').map(Number);
  return major > 3 || (major === 3 && minor >= 3);
}

/** Bounds OpenSSL and this package accept. */
export const Limits = Object.freeze({
  /** `cache.size`: 0 (OpenSSL: no limit) to 2^31-1 sessions. */
  maxCacheSize: 0x7fffffff,
  /** `cache.timeoutSeconds`: 1 s to 2^31-1 s (OpenSSL stores a signed 32-bit-safe long). */
  maxTimeoutSeconds: 0x7fffffff,
  /** `tickets.tls13Count`: tickets sent after a TLS 1.3 handshake, 0 to 16. */
  maxTls13Count: 16,
  /** `tickets.tls13CountOnResumption`: tickets a resumed TLS 1.3 handshake ends with, 0 (OpenSSL's own) to 16. */
  maxTls13CountOnResumption: 16,
  /** `maxSessionAgeSeconds`: 0 (no cap) to 2^31-1 s. */
  maxSessionAgeSeconds: 0x7fffffff,
});

/**
 * Default `maxSessionAgeSeconds`: one week. RFC 8446 4.6.1 caps a TLS 1.3 ticket's lifetime at
 * 7 days and s2n-tls's keying material lifetime defaults to one week: no session outlives the
 * full handshake that made its keys by more than that, however often it was renewed.
 */
export const DEFAULT_MAX_SESSION_AGE_SECONDS = 604800;

/** OpenSSL's own server session cache on the context. */
export interface CacheOptions {
  /** Turn the internal server cache on (mode SERVER). Default: true. Off restores Node's mode. */
  enabled?: boolean;
  /** Most sessions kept; 0 means no limit (OpenSSL). Default: 20480. */
  size?: number;
  /** Session lifetime in seconds; also the ticket lifetime hint. Default: the context's own (OpenSSL's 7200 unless the server was given `sessionTimeout`). */
  timeoutSeconds?: number;
  /** Extra raw mode flags from `CacheMode`, OR-ed together. Default: 0. */
  mode?: number;
}

/** Session tickets on the context. */
export interface TicketOptions {
  /** Issue and accept session tickets (clears/sets SSL_OP_NO_TICKET). Default: as the context had it (Node: true). */
  enabled?: boolean;
  /** Tickets sent after each full TLS 1.3 handshake (SSL_CTX_set_num_tickets). Default: as the context had it (OpenSSL: 2). */
  tls13Count?: number;
  /**
   * Tickets a resumed TLS 1.3 handshake ends with. OpenSSL sends at most one after a resumption:
   * one when the ticket is renewed (a `keyRing` renews every TLS 1.3 ticket it decrypts, and so
   * does OpenSSL's stateful cache with `enabled: false`), none with Node's own ticket key. A client
   * that uses each ticket once and keeps two per host (Chromium) runs out in a burst of parallel
   * connections; with a count, the missing tickets are requested (`SSL_new_session_ticket`) as the
   * handshake completes and leave before the first response byte. 0: OpenSSL's own count.
   * Default: 0. See docs/clients.md (browser bursts) for what it changes, measured.
   */
  tls13CountOnResumption?: number;
  /**
   * Resume TLS 1.3 without a key exchange (psk_ke) when the client offers it (a client of
   * `clientSessions({ pskKe: true })` does): sets SSL_OP_ALLOW_NO_DHE_KEX and
   * SSL_OP_PREFER_NO_DHE_KEX on the context. A resumed session then has no forward secrecy of
   * its own: its keys come from the full handshake's, so `maxSessionAgeSeconds` bounds how long
   * one key exchange protects a chain of resumptions. Needs OpenSSL 3.3+ (Node 22, 24, 26);
   * Node 20's OpenSSL 3.0 cannot prefer psk_ke and throws ERR_TLS_RESUMPTION_UNSUPPORTED.
   * Default: as the context had it (Node: off).
   */
  pskKe?: boolean;
  /**
   * A ticket key ring (`TicketKeyRing.generate()` / `fromSecret()`) that encrypts and decrypts
   * this context's tickets instead of Node's single key; several contexts may share one ring.
   * `null` gives the tickets back to Node. Default: none (Node's key).
   */
  keyRing?: TicketKeyRing | null;
}

/** Everything `attach()` accepts. Every field is optional. */
export interface AttachOptions {
  /**
   * The session-ID context OpenSSL gives this server's sessions and checks on every resumption
   * (ticket, session ID, shared store): a string (its UTF-8 bytes) or 1 to 32 bytes, applied
   * natively to the context and its SNI contexts; `detach()` puts Node's back. Processes that
   * resume each other's clients need the same one. `null` (configure): back to the default.
   * Default: Node's (a hash of `process.argv`, or the server's own `sessionIdContext` option), except
   * in fleet modes (a `fromSecret`/`fromRedis` ring, `fleet`, `shared.path`), which use one derived
   * from the fleet's secret or store so processes with different command lines match.
   */
  sessionIdContext?: string | Uint8Array | null;
  cache?: CacheOptions;
  tickets?: TicketOptions;
  /** Redis-backed session IDs across machines (servers only; set at attach, not by configure). */
  fleet?: FleetOptions;
  /** One session store for every process on the machine (cluster workers); see docs/shared-store.md. Server targets only. */
  shared?: SharedOptions;
  /**
   * Refuse to resume a session whose ORIGINAL full handshake is older than this, in seconds,
   * however many times its ticket was renewed (tickets and stateful sessions alike; counted as
   * `stats().resumption.failed.tooOld`). 0: no cap. Default: 604800 (one week, RFC 8446's
   * ticket lifetime limit and s2n-tls's keying material lifetime). See docs/resumption-reasons.md.
   */
  maxSessionAgeSeconds?: number;
}

/** Options after defaults were filled in: what is applied natively. */
export interface ResolvedOptions {
  /** The `sessionIdContext` bytes, or null for the default. */
  sessionIdContext: Buffer | null;
  cache: Required<CacheOptions>;
  tickets: Required<TicketOptions>;
  maxSessionAgeSeconds: number;
}

/** The groups each entry point accepts. */
export type OptionGroup = 'cache' | 'tickets' | 'fleet' | 'shared' | 'maxSessionAgeSeconds' | 'sessionIdContext';

/** `attach()` / `configure()` options after validation, not yet merged over any settings. */
export interface OptionRequest {
  cache: Partial<Required<CacheOptions>>;
  tickets: Partial<Required<TicketOptions>>;
  /** Present when the caller passed `sessionIdContext` (null: back to the default). */
  sessionIdContext?: Buffer | null;
  /** Present when the caller passed `maxSessionAgeSeconds`. */
  maxSessionAgeSeconds?: number;
  /** Present when the caller passed `fleet` (the secret is a private copy: wipe it when done). */
  fleet?: ResolvedFleet;
  /** Present when the caller passed `shared`. */
  shared?: ResolvedSharedOptions;
}

/** The session-ID context's bytes: TypeError for another type, RangeError outside 1 to 32 bytes. */
function parseSessionIdContext(value: unknown): Buffer | null {
  if (value === null) return null;
  let bytes: Buffer;
  if (typeof value === 'string') bytes = Buffer.from(value, 'utf8');
  else if (value instanceof Uint8Array) bytes = Buffer.from(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  else throw typeError('sessionIdContext', 'a string or a Buffer/Uint8Array of 1 to 32 bytes', value);
  if (bytes.length < 1 || bytes.length > 32) {
    throw rangeError('sessionIdContext', '1 to 32 bytes (a string counts its UTF-8 bytes)', `${bytes.length} bytes`);
  }
  return bytes;
}

function parseCache(value: unknown): OptionRequest['cache'] {
  if (value === undefined) return {};
  const c = optionGroup('cache', value, ['enabled', 'size', 'timeoutSeconds', 'mode']);
  const out: OptionRequest['cache'] = {};
  const enabled = optionalBoolean('cache.enabled', c.enabled);
  if (enabled !== undefined) out.enabled = enabled;
  const size = optionalInteger('cache.size', c.size, 0, Limits.maxCacheSize, 'sessions');
  if (size !== undefined) out.size = size;
  const timeout = optionalInteger('cache.timeoutSeconds', c.timeoutSeconds, 1, Limits.maxTimeoutSeconds, 'seconds');
  if (timeout !== undefined) out.timeoutSeconds = timeout;
  const mode = optionalInteger('cache.mode', c.mode, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (mode !== undefined) {
    // Bitwise operators see only the low 32 bits: `2 ** 40 + 0x80` would pass a mask test alone.
    if (mode < 0 || mode > MODE_MASK || (mode & ~MODE_MASK) !== 0) {
      throw rangeError(
        'cache.mode',
        'CacheMode flags OR-ed together (NO_AUTO_CLEAR 0x80, NO_INTERNAL_LOOKUP 0x100, NO_INTERNAL_STORE 0x200)',
        `0x${mode.toString(16)}`,
      );
    }
    out.mode = mode;
  }
  return out;
}

function parseTickets(value: unknown): OptionRequest['tickets'] {
  if (value === undefined) return {};
  const t = optionGroup('tickets', value, ['enabled', 'tls13Count', 'tls13CountOnResumption', 'keyRing', 'pskKe']);
  const out: OptionRequest['tickets'] = {};
  if (t.keyRing !== undefined) {
    if (t.keyRing !== null && !(t.keyRing instanceof TicketKeyRing))
      throw typeError('tickets.keyRing', 'a TicketKeyRing or null', t.keyRing);
    out.keyRing = t.keyRing as TicketKeyRing | null;
  }
  const enabled = optionalBoolean('tickets.enabled', t.enabled);
  if (enabled !== undefined) out.enabled = enabled;
  const count = optionalInteger('tickets.tls13Count', t.tls13Count, 0, Limits.maxTls13Count, 'tickets');
  if (count !== undefined) out.tls13Count = count;
  const onResumption = optionalInteger(
    'tickets.tls13CountOnResumption',
    t.tls13CountOnResumption,
    0,
    Limits.maxTls13CountOnResumption,
    'tickets',
  );
  if (onResumption !== undefined) out.tls13CountOnResumption = onResumption;
  const pskKe = optionalBoolean('tickets.pskKe', t.pskKe);
  if (pskKe && !serverPskKeSupported()) {
    throw withCode(
      new Error(
        `"tickets.pskKe" needs OpenSSL 3.3 or later (SSL_OP_PREFER_NO_DHE_KEX), got OpenSSL ${process.versions.openssl}. A client on this Node can still offer psk_ke (clientSessions({ pskKe: true })) to a server on Node 22 or later.`,
      ),
      ErrorCodes.unsupported,
    );
  }
  if (pskKe !== undefined) out.pskKe = pskKe;
  return out;
}

/**
 * Validates `options` completely (TypeError / RangeError naming the field) and returns the
 * request, or throws having kept nothing: a fleet secret copied before a later group failed is
 * wiped. `groups` are the groups this entry point accepts.
 */
export function parseAttachOptions(options: unknown, groups: readonly OptionGroup[]): OptionRequest {
  if (options === undefined) return { cache: {}, tickets: {} };
  const o = optionGroup('options', options, groups);
  const request: OptionRequest = { cache: parseCache(o.cache), tickets: parseTickets(o.tickets) };
  const maxAge = optionalInteger('maxSessionAgeSeconds', o.maxSessionAgeSeconds, 0, Limits.maxSessionAgeSeconds, 'seconds');
  if (maxAge !== undefined) request.maxSessionAgeSeconds = maxAge;
  if (o.sessionIdContext !== undefined) request.sessionIdContext = parseSessionIdContext(o.sessionIdContext);
  if (o.shared !== undefined) request.shared = resolveShared(o.shared);
  // Last: nothing after it can throw, so the secret copy it makes is never left behind.
  if (o.fleet !== undefined) request.fleet = resolveFleet(o.fleet);
  return request;
}

/** `request` merged over `base` (the current settings, or the defaults on first attach). */
export function mergeOptions(request: OptionRequest, base: ResolvedOptions): ResolvedOptions {
  return {
    sessionIdContext: request.sessionIdContext === undefined ? base.sessionIdContext : request.sessionIdContext,
    cache: { ...base.cache, ...request.cache },
    tickets: { ...base.tickets, ...request.tickets },
    maxSessionAgeSeconds: request.maxSessionAgeSeconds ?? base.maxSessionAgeSeconds,
  };
}

/** Defaults on first attach: the cache on; tickets and timeout as the context had them. */
export function defaultOptions(node: {
  timeoutSeconds: number;
  ticketsEnabled: boolean;
  tls13Count: number;
  pskKe: boolean;
}): ResolvedOptions {
  return {
    sessionIdContext: null,
    cache: { enabled: true, size: 20480, timeoutSeconds: node.timeoutSeconds, mode: 0 },
    tickets: { enabled: node.ticketsEnabled, tls13Count: node.tls13Count, tls13CountOnResumption: 0, keyRing: null, pskKe: node.pskKe },
    maxSessionAgeSeconds: DEFAULT_MAX_SESSION_AGE_SECONDS,
  };
}
