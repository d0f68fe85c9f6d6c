/**
 * Options accepted by `attach()` and `configure()`, their defaults, and their validation.
 * Validation runs completely before anything native is touched, so a bad option never leaves a
 * context half-configured.
 */
import type { FleetOptions } from './fleet/options';
import { NODE_BINDS_CONTEXT_TO_SERVER_NAME } from './fleet/session-id-context';
import { TicketKeyRing } from './ticket-key-ring';
import type { SharedOptions } from './shared-store';

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

/** Bounds OpenSSL and this package accept. */
export const Limits = Object.freeze({
  /** `cache.size`: 0 (OpenSSL: no limit) to 2^31-1 sessions. */
  maxCacheSize: 0x7fffffff,
  /** `cache.timeoutSeconds`: 1 s to 2^31-1 s (OpenSSL stores a signed 32-bit-safe long). */
  maxTimeoutSeconds: 0x7fffffff,
  /** `tickets.tls13Count`: tickets sent after a TLS 1.3 handshake, 0 to 16. */
  maxTls13Count: 16,
});

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
}

/** Options after defaults were filled in: what is applied natively. */
export interface ResolvedOptions {
  /** The `sessionIdContext` bytes, or null for the default. */
  sessionIdContext: Buffer | null;
  cache: Required<CacheOptions>;
  tickets: Required<TicketOptions>;
}

type Kind = 'boolean' | 'integer' | 'object';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `a value of type ${typeof value}`;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** Rejects keys a field does not know, naming the nearest known one. */
export function checkKeys(field: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const near = known.map((k) => [k, levenshtein(key.toLowerCase(), k.toLowerCase())] as const).sort((x, y) => x[1] - y[1])[0];
    const hint = near && near[1] <= 3 ? ` Did you mean "${field}.${near[0]}"?` : ` Known options: ${known.join(', ')}.`;
    throw new TypeError(`Unknown option "${field}.${key}".${hint}`);
  }
}

/** Type check: TypeError naming the field and the expected type. */
export function expectKind(field: string, value: unknown, kind: Kind): void {
  const ok =
    kind === 'boolean' ? typeof value === 'boolean'
    : kind === 'integer' ? typeof value === 'number' && Number.isInteger(value)
    : typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!ok) {
    const expected = kind === 'integer' ? 'an integer' : kind === 'object' ? 'an object' : 'a boolean';
    throw new TypeError(`Option "${field}" must be ${expected}, got ${describe(value)}.`);
  }
}

/** Range check on an integer: RangeError naming the field and the accepted range (with units). */
export function expectRange(field: string, value: number, min: number, max: number, unit = ''): void {
  if (value < min || value > max) {
    const u = unit ? ` ${unit}` : '';
    throw new RangeError(`Option "${field}" must be between ${min} and ${max}${u}, got ${value}.`);
  }
}

function optionalInteger(field: string, value: unknown, min: number, max: number, unit?: string): number | undefined {
  if (value === undefined) return undefined;
  expectKind(field, value, 'integer');
  expectRange(field, value as number, min, max, unit);
  return value as number;
}

function optionalBoolean(field: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  expectKind(field, value, 'boolean');
  return value as boolean;
}

/** The option groups a given `attach` understands; feature modules add their own. */
export const KNOWN_GROUPS = ['cache', 'tickets', 'sessionIdContext'] as const;

/** The session-ID context's bytes: TypeError for another type, RangeError outside 1 to 32 bytes. */
function sessionIdContextBytes(value: unknown): Buffer | null {
  if (value === null) return null;
  let bytes: Buffer;
  if (typeof value === 'string') bytes = Buffer.from(value, 'utf8');
  else if (value instanceof Uint8Array) bytes = Buffer.from(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  else throw new TypeError(`Option "sessionIdContext" must be a string or a Buffer/Uint8Array of 1 to 32 bytes, got ${describe(value)}.`);
  if (bytes.length < 1 || bytes.length > 32) {
    throw new RangeError(`Option "sessionIdContext" must be 1 to 32 bytes (a string counts its UTF-8 bytes), got ${bytes.length} bytes.`);
  }
  // Node 22 and 24 take the context per connection from a UTF-8 copy of their own (src/fleet/session-id-context.ts).
  if (NODE_BINDS_CONTEXT_TO_SERVER_NAME && !Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes)) {
    throw new RangeError(`Option "sessionIdContext" must be UTF-8 text on Node ${process.versions.node.split('.')[0]} (Node 22 and 24 keep the context as a string), got ${bytes.length} bytes that are not.`);
  }
  return bytes;
}

/**
 * Validates `options` and merges it over `base` (the current settings, or the defaults on first
 * attach). Throws TypeError / RangeError naming the field; returns a fresh object.
 */
export function resolveOptions(options: unknown, base: ResolvedOptions, extraGroups: readonly string[] = []): ResolvedOptions {
  if (options === undefined) return { sessionIdContext: base.sessionIdContext, cache: { ...base.cache }, tickets: { ...base.tickets } };
  expectKind('options', options, 'object');
  const o = options as Record<string, unknown>;
  checkKeys('options', o, [...KNOWN_GROUPS, ...extraGroups]);
  const sessionIdContext = o.sessionIdContext === undefined ? base.sessionIdContext : sessionIdContextBytes(o.sessionIdContext);

  const cache = { ...base.cache };
  if (o.cache !== undefined) {
    expectKind('cache', o.cache, 'object');
    const c = o.cache as Record<string, unknown>;
    checkKeys('cache', c, ['enabled', 'size', 'timeoutSeconds', 'mode']);
    cache.enabled = optionalBoolean('cache.enabled', c.enabled) ?? cache.enabled;
    cache.size = optionalInteger('cache.size', c.size, 0, Limits.maxCacheSize, 'sessions') ?? cache.size;
    cache.timeoutSeconds =
      optionalInteger('cache.timeoutSeconds', c.timeoutSeconds, 1, Limits.maxTimeoutSeconds, 'seconds') ?? cache.timeoutSeconds;
    if (c.mode !== undefined) {
      expectKind('cache.mode', c.mode, 'integer');
      if (((c.mode as number) & ~MODE_MASK) !== 0 || (c.mode as number) < 0) {
        throw new RangeError(
          `Option "cache.mode" accepts only CacheMode flags (NO_AUTO_CLEAR 0x80, NO_INTERNAL_LOOKUP 0x100, NO_INTERNAL_STORE 0x200), got 0x${(c.mode as number).toString(16)}.`,
        );
      }
      cache.mode = c.mode as number;
    }
  }

  const tickets = { ...base.tickets };
  if (o.tickets !== undefined) {
    expectKind('tickets', o.tickets, 'object');
    const t = o.tickets as Record<string, unknown>;
    checkKeys('tickets', t, ['enabled', 'tls13Count', 'keyRing']);
    if (t.keyRing !== undefined) {
      if (t.keyRing !== null && !(t.keyRing instanceof TicketKeyRing)) {
        throw new TypeError(`Option "tickets.keyRing" must be a TicketKeyRing or null, got ${describe(t.keyRing)}.`);
      }
      tickets.keyRing = t.keyRing as TicketKeyRing | null;
    }
    tickets.enabled = optionalBoolean('tickets.enabled', t.enabled) ?? tickets.enabled;
    tickets.tls13Count = optionalInteger('tickets.tls13Count', t.tls13Count, 0, Limits.maxTls13Count, 'tickets') ?? tickets.tls13Count;
  }
  return { sessionIdContext, cache, tickets };
}

/** Defaults on first attach: the cache on; tickets and timeout as the context had them. */
export function defaultOptions(node: { timeoutSeconds: number; ticketsEnabled: boolean; tls13Count: number }): ResolvedOptions {
  return {
    sessionIdContext: null,
    cache: { enabled: true, size: 20480, timeoutSeconds: node.timeoutSeconds, mode: 0 },
    tickets: { enabled: node.ticketsEnabled, tls13Count: node.tls13Count, keyRing: null },
  };
}
