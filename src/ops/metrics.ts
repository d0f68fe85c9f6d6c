/**
 * Prometheus metrics for attached servers, through prom-client (an optional peer dependency:
 * `npm install prom-client`). Every numeric field of `stats()` becomes a metric: OpenSSL's
 * monotonically increasing counters as counters (`..._total`), levels and settings as gauges,
 * booleans as 0/1 gauges. Groups that other modules add to `stats()` (`tickets`, `shared`,
 * `fleet`, ...) map generically: `tickets.issued` -> `tls_resumption_tickets_issued_total`,
 * named and described by the table below when known, by a fallback rule otherwise. Several
 * attached servers share each metric and are told apart by one label (default `server`).
 *
 * `stats().resumption` is exported with labels instead: `..._resumption_offered_total`,
 * `..._resumption_resumed_total` (by `protocol`), `..._resumption_failed_total` (by `protocol`
 * and `reason`), and the histogram `..._session_age_seconds` (by `protocol`) of the age of
 * sessions at resumption, counted from their original full handshake.
 *
 * Values are read at scrape time (one `stats()` call per server per scrape), so nothing runs
 * between scrapes and nothing is added to the handshake path.
 */
import type { Counter, Gauge, Registry } from 'prom-client';

import type { NativeResumptionStats } from '../common/native';
import { ErrorCodes, rangeError, typeError, withCode } from '../common/validate';
import type { SessionCacheStats } from '../server/stats';

const PROTOCOLS = ['TLSv1.2', 'TLSv1.3'] as const;

/** How one stats field is exported. */
export interface MetricSpec {
  /** Metric name without the prefix, e.g. "hits_total", "timeout_seconds". */
  name: string;
  /** `# HELP` text. */
  help: string;
  /** counter: only grows (resets when the server's context is replaced); gauge: a level or setting. */
  type: 'counter' | 'gauge';
  /**
   * UCUM unit of the OpenTelemetry instrument (tls-resumption/otel): `s`, `ms`, `By`, `1`, or a
   * count's annotation (`{session}`, `{handshake}`, ...). Omitted: `s`/`ms`/`By` from the name's
   * `_seconds`/`_milliseconds`/`_bytes` suffix, else `{event}` for a counter and `1` for a gauge.
   */
  unit?: string;
}

/** The dotted paths of the number and boolean fields of `T` ("hits", "settings.cache.size", ...). */
type LeafPaths<T, Prefix extends string = ''> = {
  [K in keyof T & string]-?: NonNullable<T[K]> extends number | boolean
    ? `${Prefix}${K}`
    : NonNullable<T[K]> extends object
      ? LeafPaths<NonNullable<T[K]>, `${Prefix}${K}.`>
      : never;
}[keyof T & string];

/** A field of `stats()` that can become a metric: a key of KNOWN_METRICS that is not one fails to compile. */
type StatsPath = LeafPaths<SessionCacheStats>;

/** A known field's export as written in the table: the name only where it is not the derived one. */
type KnownMetricEntry = Omit<MetricSpec, 'name'> & { name?: string };

// Known stats fields, keyed by their dotted path in `stats()`. A metric's name is its path in
// snake_case with `_total` for a counter (`knownMetricName`); the few written out were published
// under another name before that rule and keep it.
const KNOWN_METRIC_ENTRIES = {
  sessions: { type: 'gauge', unit: '{session}', help: "Sessions now in OpenSSL's internal server cache (SSL_CTX_sess_number)." },
  hits: {
    type: 'counter',
    unit: '{handshake}',
    help: 'Handshakes that resumed a session, by any route: internal cache, get-session callback, TLS 1.2 ticket or TLS 1.3 PSK (SSL_CTX_sess_hits).',
  },
  misses: {
    type: 'counter',
    unit: '{session}',
    help: 'Session IDs offered by clients that were not in the internal cache (SSL_CTX_sess_misses).',
  },
  timeouts: { type: 'counter', unit: '{session}', help: 'Sessions offered that were found but had expired (SSL_CTX_sess_timeouts).' },
  cacheFull: {
    type: 'counter',
    unit: '{session}',
    help: 'Sessions evicted because the internal cache was at its size limit (SSL_CTX_sess_cache_full).',
  },
  callbackHits: {
    type: 'counter',
    unit: '{handshake}',
    help: "Sessions found through a get-session callback (Node 'resumeSession', a shared store); also counted in hits_total (SSL_CTX_sess_cb_hits).",
  },
  accepts: { type: 'counter', unit: '{handshake}', help: 'Server handshakes started (SSL_CTX_sess_accept).' },
  acceptsGood: { type: 'counter', unit: '{handshake}', help: 'Server handshakes completed, full or resumed (SSL_CTX_sess_accept_good).' },
  acceptsRenegotiate: { type: 'counter', unit: '{handshake}', help: 'Server renegotiations started (SSL_CTX_sess_accept_renegotiate).' },
  connects: { type: 'counter', unit: '{handshake}', help: 'Client handshakes started on this context (SSL_CTX_sess_connect).' },
  connectsGood: { type: 'counter', unit: '{handshake}', help: 'Client handshakes completed on this context (SSL_CTX_sess_connect_good).' },
  connectsRenegotiate: {
    type: 'counter',
    unit: '{handshake}',
    help: 'Client renegotiations started on this context (SSL_CTX_sess_connect_renegotiate).',
  },
  'settings.cache.enabled': {
    name: 'enabled',
    type: 'gauge',
    unit: '{flag}',
    help: "1 when OpenSSL's internal server session cache is in use, else 0.",
  },
  'settings.cache.mode': { name: 'mode_flags', type: 'gauge', unit: '{flags}', help: 'Raw SSL_SESS_CACHE_* mode bits on the context.' },
  'settings.cache.size': {
    name: 'size_limit_sessions',
    type: 'gauge',
    unit: '{session}',
    help: 'Most sessions the internal cache keeps (0: no limit).',
  },
  'settings.cache.timeoutSeconds': {
    name: 'timeout_seconds',
    type: 'gauge',
    help: 'Session lifetime, also the ticket lifetime hint, in seconds.',
  },
  'settings.tickets.enabled': {
    name: 'tickets_enabled',
    type: 'gauge',
    unit: '{flag}',
    help: '1 when session tickets are issued and accepted, else 0.',
  },
  'settings.tickets.tls13Count': {
    name: 'tickets_tls13_per_handshake',
    type: 'gauge',
    unit: '{ticket}',
    help: 'Tickets sent after each full TLS 1.3 handshake (SSL_CTX_set_num_tickets).',
  },
  'settings.tickets.pskKe': {
    name: 'tickets_psk_ke',
    type: 'gauge',
    unit: '{flag}',
    help: '1 when resumed TLS 1.3 handshakes may skip the (EC)DHE key exchange (tickets.pskKe: SSL_OP_ALLOW_NO_DHE_KEX | SSL_OP_PREFER_NO_DHE_KEX), else 0.',
  },
  // Ticket key ring (stats().tickets), shared store (stats().shared), fleet (stats().fleet):
  'tickets.issued': { type: 'counter', unit: '{ticket}', help: 'Session tickets encrypted and sent by the key ring.' },
  'tickets.resumed': {
    type: 'counter',
    unit: '{ticket}',
    help: 'Tickets under a key of the ring that OpenSSL resumed (after its HMAC, lifetime and session-ID context checks).',
  },
  'tickets.renewed': {
    type: 'counter',
    unit: '{ticket}',
    help: 'Tickets accepted under a key that no longer encrypts and replaced with one under the current key.',
  },
  'tickets.unknownKey': {
    type: 'counter',
    unit: '{ticket}',
    help: 'Tickets offered under a key the ring no longer (or never) had: full handshakes.',
  },
  'tickets.failed': {
    type: 'counter',
    unit: '{ticket}',
    help: 'Internal ticket failures (cipher, MAC, randomness): full handshake or no ticket, never a failed connection.',
  },
  'shared.entries': { type: 'gauge', unit: '{session}', help: 'Sessions in the cluster-wide shared store.' },
  'shared.capacity': { type: 'gauge', unit: '{session}', help: 'Sessions the shared store can hold.' },
  'shared.bytesPerSession': { type: 'gauge', unit: 'By', help: 'Shared store file bytes per session: slot plus its 16-byte index entry.' },
  'shared.maxSessionBytes': { type: 'gauge', help: 'Largest DER-encoded session a shared store slot holds, bytes.' },
  'shared.totalBytes': { type: 'gauge', help: 'Size of the shared store file, bytes.' },
  'shared.stripes': { type: 'gauge', unit: '{stripe}', help: 'Lock stripes of the shared store (sets of slots guarded by one lock each).' },
  'shared.expiries': { type: 'counter', unit: '{session}', help: 'Sessions dropped from the shared store because their timeout passed.' },
  'shared.tooLarge': {
    type: 'counter',
    unit: '{session}',
    help: 'Sessions not stored in the shared store because they were larger than a slot.',
  },
  'shared.lockWaits': {
    type: 'counter',
    unit: '{wait}',
    help: 'Shared store lock acquisitions that had to wait for another process or thread.',
  },
  'shared.lockTimeouts': {
    type: 'counter',
    unit: '{wait}',
    help: 'Shared store lock waits given up after 2 ms: each a miss or an unstored session, never a stalled handshake.',
  },
  'shared.corrupt': {
    type: 'counter',
    unit: '{entry}',
    help: 'Shared store entries that failed their checksum or did not decode: misses, dropped.',
  },
  'shared.hits': { type: 'counter', unit: '{lookup}', help: 'Lookups the shared store answered.' },
  'shared.misses': { type: 'counter', unit: '{lookup}', help: 'Lookups the shared store could not answer.' },
  'shared.contextMisses': {
    type: 'counter',
    unit: '{lookup}',
    help: 'Shared store lookups that found the session ID only under another session-ID context: misses, nothing decoded.',
  },
  'shared.stores': { type: 'counter', unit: '{session}', help: 'Sessions written to the shared store.' },
  'shared.evictions': { type: 'counter', unit: '{session}', help: 'Sessions evicted from the shared store to make room.' },
  'shared.recoveries': { type: 'counter', unit: '{recovery}', help: 'Times the shared store recovered from an inconsistent state.' },
  'shared.lost': {
    type: 'gauge',
    unit: '{flag}',
    help: 'The shared store file was truncated under this process and is not mapped again yet (1): every lookup is a miss.',
  },
  'shared.reopens': {
    type: 'counter',
    unit: '{reopen}',
    help: 'Times this process mapped the shared store file again after finding it truncated.',
  },
  'shared.ticketKeys': {
    type: 'gauge',
    unit: '{key}',
    help: 'Ticket keys the shared store holds for the TicketKeyRing.generate() rings attached with it (0 for a store not in memory).',
  },
  'fleet.lookups': { type: 'counter', unit: '{lookup}', help: 'Session-ID lookups sent to Redis.' },
  'fleet.timeouts': { type: 'counter', unit: '{lookup}', help: 'Redis lookups abandoned at the deadline (full handshake).' },
  'fleet.stores': { type: 'counter', unit: '{session}', help: 'Sessions written to Redis.' },
  'fleet.writesDropped': {
    type: 'counter',
    unit: '{session}',
    help: 'Sessions not written to Redis because this member held fleet.maxSessions live entries.',
  },
  'fleet.ringVersion': { type: 'gauge', unit: '{version}', help: 'Version of the ticket ring document last loaded from Redis.' },
  'fleet.lastSyncAgeSeconds': { type: 'gauge', help: 'Seconds since the ticket ring last loaded from Redis (-1: never).' },
  'fleet.rotations': { type: 'counter', unit: '{key}', help: 'Fleet ticket keys this member created.' },
  'fleet.localRotations': { type: 'counter', unit: '{key}', help: 'Ticket keys created locally while Redis was unreachable.' },
  'fleet.syncErrors': { type: 'counter', unit: '{sync}', help: 'Failed ticket ring syncs with Redis (the ring kept its keys).' },
  'fleet.replication.published': { type: 'counter', unit: '{session}', help: 'Sessions this member issued and wrote to the fleet stream.' },
  'fleet.replication.dropped': {
    type: 'counter',
    unit: '{session}',
    help: 'Sessions not written to the fleet stream (Redis failed the write, or too many writes were waiting); they stay local.',
  },
  'fleet.replication.applied': { type: 'counter', unit: '{session}', help: "Other members' sessions applied to this member's store." },
  'fleet.replication.expired': {
    type: 'counter',
    unit: '{entry}',
    help: 'Stream entries that arrived past their session lifetime (not applied).',
  },
  'fleet.replication.rejected': {
    type: 'counter',
    unit: '{entry}',
    help: 'Stream entries dropped because they did not open under the fleet secret and session-ID context (forged, garbage, another fleet).',
  },
  'fleet.replication.notStored': {
    type: 'counter',
    unit: '{session}',
    help: 'Replicated sessions the store did not take (larger than a slot, a lock not taken in time).',
  },
  'fleet.replication.otherContext': {
    type: 'counter',
    unit: '{entry}',
    help: 'Stream entries of members of another session-ID context (another service on the same stream and secret): skipped unopened.',
  },
  'fleet.replication.flushes': {
    type: 'counter',
    unit: '{flush}',
    help: "Flushes received from other members (each emptied this member's store).",
  },
  'fleet.replication.caughtUp': {
    type: 'gauge',
    unit: '{flag}',
    help: '1 once this member has read the fleet stream to its end since attach (every live session applied), else 0.',
  },
  'fleet.replication.lagP50Ms': {
    name: 'fleet_replication_lag_p50_milliseconds',
    type: 'gauge',
    help: "Median time from a session's stream write to this member's store, over the last 1024 applied (-1 before any).",
  },
  'fleet.replication.lagP99Ms': {
    name: 'fleet_replication_lag_p99_milliseconds',
    type: 'gauge',
    help: "99th percentile time from a session's stream write to this member's store, over the last 1024 applied (-1 before any).",
  },
  'fleet.replication.silentMs': {
    name: 'fleet_replication_silent_milliseconds',
    type: 'gauge',
    help: 'Milliseconds since the fleet stream last answered this member (grows while Redis is down or slow).',
  },
  'fleet.hits': { type: 'counter', unit: '{lookup}', help: 'Lookups the fleet store (Redis) answered.' },
  'fleet.misses': { type: 'counter', unit: '{lookup}', help: 'Lookups the fleet store (Redis) could not answer.' },
  'fleet.errors': {
    type: 'counter',
    unit: '{operation}',
    help: 'Fleet store operations that failed (each a full handshake, never a failed connection).',
  },
} satisfies Partial<Record<StatsPath, KnownMetricEntry>>;

/** The metric name of a known field: its dotted path in snake_case, with `_total` for a counter. */
function knownMetricName(path: string, type: MetricSpec['type']): string {
  return `${path.split('.').map(snake).join('_')}${type === 'counter' ? '_total' : ''}`;
}

/**
 * Known stats fields, keyed by their dotted path in `stats()`. Modules that add a stats group
 * add their fields here; anything not listed is exported by `fallbackSpec`.
 */
export const KNOWN_METRICS: Readonly<Record<string, MetricSpec>> = Object.freeze(
  Object.fromEntries(
    Object.entries(KNOWN_METRIC_ENTRIES).map(([path, entry]: [string, KnownMetricEntry]) => [
      path,
      { name: entry.name ?? knownMetricName(path, entry.type), ...entry },
    ]),
  ),
);

/**
 * `stats().resumption` and the resumption ratio: metrics with labels (`protocol`, `reason`) or
 * computed, not one stats field each. The session age is a histogram whose buckets are counted
 * natively (its `type` here is that of its `_count`).
 */
export const RESUMPTION_METRICS = Object.freeze({
  ratio: {
    name: 'resumption_ratio',
    type: 'gauge',
    unit: '1',
    help: 'Resumed over completed handshakes since attach: hits_total / accepts_good_total (0 before the first handshake). hits_total already counts callback hits.',
  },
  offered: {
    name: 'resumption_offered_total',
    type: 'counter',
    unit: '{handshake}',
    help: "Handshakes whose ClientHello offered a session (session ID, TLS 1.2 ticket or TLS 1.3 PSK), by negotiated protocol; a TLS 1.3 client's random legacy session ID is not an offer.",
  },
  resumed: {
    name: 'resumption_resumed_total',
    type: 'counter',
    unit: '{handshake}',
    help: 'Offered sessions OpenSSL resumed, by protocol.',
  },
  resumedPskKe: {
    name: 'resumption_resumed_psk_ke_total',
    type: 'counter',
    unit: '{handshake}',
    help: 'Of the resumed sessions, TLS 1.3 resumptions without a key exchange (psk_ke, tickets.pskKe): no forward secrecy of their own.',
  },
  failed: {
    name: 'resumption_failed_total',
    type: 'counter',
    unit: '{handshake}',
    help: 'Offered sessions not resumed, by protocol and reason (notFound, unknownKey, badTicket, expired, tooOld, contextMismatch, protocolMismatch, storeError, notYetReplicated); see docs/resumption-reasons.md.',
  },
  sessionAge: {
    name: 'session_age_seconds',
    type: 'counter',
    unit: 's',
    help: 'Age of sessions at resumption, seconds since their original full handshake (whatever renewals happened), by protocol; counted natively at each resumption.',
  },
} satisfies Record<string, MetricSpec>);

const RESUMPTION_RATIO: MetricSpec = RESUMPTION_METRICS.ratio;

function snake(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9_]/g, '_')
    .toLowerCase();
}

// Field names that read as event counts; everything else is taken as a level.
// A single past-tense word ("issued", "evicted") or a key ending in Hits/Misses/Errors/Failures/Total.
// "bytesUsed" is a level, so a trailing participle after a noun does not count.
const COUNTER_WORD = /^[a-z]+ed$|^(hits|misses|errors|failures|total)$|(Hits|Misses|Errors|Failures|Total)$/;

/**
 * Spec for a field not in KNOWN_METRICS: the path in snake_case (the `settings.` group keeps
 * only what follows it, as settings are gauges), a counter with `_total` when the last key reads
 * as an event count (one past-tense word such as "issued", or ending in Hits, Misses, Errors,
 * Failures or Total), else a gauge. Units come from the key (`timeoutSeconds` -> `_seconds`).
 */
export function fallbackSpec(path: string): MetricSpec {
  const parts = path.split('.');
  const last = parts[parts.length - 1]!;
  const isSetting = parts[0] === 'settings';
  const base = (isSetting ? parts.slice(1) : parts).map(snake).join('_');
  const counter = !isSetting && COUNTER_WORD.test(last);
  const name = counter ? `${base.replace(/_total$/, '')}_total` : base;
  return {
    name,
    type: counter ? 'counter' : 'gauge',
    help: `stats().${path} of the attached server (no description known; exported by name).`,
  };
}

/**
 * What the collector reads: a SessionCache, or any object whose `stats()` returns nested
 * numbers (e.g. a wrapper that adds a group). `once`/`off` let it leave on 'detach'.
 */
export interface StatsSource {
  stats(): object;
  /** Per-protocol resumption counts and the session-age histogram (a SessionCache has it). */
  _resumptionDetail?(): NativeResumptionStats;
  readonly attached?: boolean;
  once?(event: 'detach', listener: () => void): unknown;
  off?(event: 'detach', listener: () => void): unknown;
}

/**
 * The attached servers a collector reads (Prometheus here, OpenTelemetry in otel.ts), by label.
 * A handle that detaches leaves by itself. `discover` gets what a handle reports when it is
 * added, so the collector registers its metrics before the first collection.
 */
export class StatsSources {
  readonly #byLabel = new Map<string, StatsSource>();
  readonly #onDetach = new Map<StatsSource, () => void>();
  readonly #discover: (stats: Map<string, number>) => void;

  constructor(discover: (stats: Map<string, number>) => void) {
    this.#discover = discover;
  }

  entries(): IterableIterator<[string, StatsSource]> {
    return this.#byLabel.entries();
  }

  /**
   * @throws TypeError (ERR_INVALID_ARG_TYPE) for a `cache` that is not a handle or an empty
   *   `label`; RangeError (ERR_INVALID_ARG_VALUE) for a label already added.
   */
  add(label: string, cache: StatsSource): void {
    if (typeof cache !== 'object' || cache === null || typeof cache.stats !== 'function') {
      throw typeError('cache', 'a handle returned by attach()', cache);
    }
    if (typeof label !== 'string' || label.length === 0) throw typeError('server', 'a non-empty string', label);
    if (this.#byLabel.has(label)) throw rangeError('server', 'a name not already added', JSON.stringify(label), ErrorCodes.invalidValue);
    this.#byLabel.set(label, cache);
    if (cache.once) {
      const onDetach = () => this.remove(cache);
      cache.once('detach', onDetach);
      this.#onDetach.set(cache, onDetach);
    }
    const stats = StatsSources.read(cache);
    if (stats) this.#discover(stats);
  }

  remove(cache: StatsSource): void {
    for (const [label, c] of this.#byLabel) if (c === cache) this.#byLabel.delete(label);
    const onDetach = this.#onDetach.get(cache);
    if (onDetach && cache.off) cache.off('detach', onDetach);
    this.#onDetach.delete(cache);
  }

  clear(): void {
    for (const [cache, fn] of this.#onDetach) cache.off?.('detach', fn);
    this.#onDetach.clear();
    this.#byLabel.clear();
  }

  /** `stats()` flattened, or undefined when the handle is (or just became) detached. */
  static read(cache: StatsSource): Map<string, number> | undefined {
    if (cache.attached === false) return undefined;
    try {
      return flattenStats(cache.stats());
    } catch {
      return undefined; // detached between the check and the read: nothing this collection
    }
  }

  static readDetail(cache: StatsSource): NativeResumptionStats | undefined {
    try {
      return cache._resumptionDetail?.();
    } catch {
      return undefined;
    }
  }
}

/** Options for `SessionCacheMetrics`. */
export interface SessionCacheMetricsOptions {
  /** Registry to register in. Default: prom-client's global `register`. */
  registry?: Registry;
  /** Prefix of every metric name. Default: "tls_resumption_". */
  prefix?: string;
  /** Label that tells attached servers apart. Default: "server". */
  labelName?: string;
}

export type PromClient = typeof import('prom-client');

export function loadPromClient(): PromClient {
  try {
    return require('prom-client') as PromClient;
  } catch {
    throw withCode(
      new Error('tls-resumption metrics need prom-client, an optional peer dependency: npm install prom-client'),
      ErrorCodes.peerMissing,
    );
  }
}

// Per-key ticket counters are keyed by key id: as metric names they would churn with every
// rotation, so they stay in stats() and out of Prometheus.
const NOT_EXPORTED = new Set(['tickets.keys', 'resumption']);

/** A prom-client metric object for a histogram whose buckets are counted elsewhere (natively). */
interface CountedHistogram {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }>;
  }>;
  reset(): void;
}

function flatten(value: unknown, path: string, out: Map<string, number>): void {
  if (NOT_EXPORTED.has(path)) return;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) out.set(path, value);
  } else if (typeof value === 'boolean') {
    out.set(path, value ? 1 : 0);
  } else if (typeof value === 'bigint') {
    out.set(path, Number(value));
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value) && !Buffer.isBuffer(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flatten(v, path ? `${path}.${k}` : k, out);
  }
}

/** Flattens `stats()` into dotted paths with numeric values (booleans 0/1; strings, arrays dropped). */
export function flattenStats(stats: object): Map<string, number> {
  const out = new Map<string, number>();
  flatten(stats, '', out);
  return out;
}

/**
 * A prom-client collector for one or more attached servers.
 * ```ts
 * const metrics = new SessionCacheMetrics({ registry });
 * metrics.add(attach(apiServer), 'api');
 * metrics.add(attach(adminServer), 'admin');
 * ```
 * A handle that is detached leaves the collector by itself.
 */
export class SessionCacheMetrics {
  readonly registry: Registry;
  readonly prefix: string;
  readonly labelName: string;
  #prom: PromClient;
  #sources = new StatsSources((stats) => this.#discover(stats));
  #metrics = new Map<string, Counter | Gauge | CountedHistogram>();
  #specs = new Map<string, MetricSpec>();
  /** Metric name -> the stats path it exports. */
  #owners = new Map<string, string>();
  #snapshot: Map<string, Map<string, number>> | undefined;
  #details: Map<string, NativeResumptionStats> = new Map();

  constructor(options: SessionCacheMetricsOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw withCode(new TypeError('SessionCacheMetrics: "options" must be an object.'), ErrorCodes.invalidType);
    this.#prom = loadPromClient();
    this.registry = options.registry ?? this.#prom.register;
    this.prefix = options.prefix ?? 'tls_resumption_';
    this.labelName = options.labelName ?? 'server';
    if (typeof this.prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/.test(this.prefix)) {
      throw withCode(
        new TypeError(`SessionCacheMetrics: "prefix" must match [a-zA-Z_:][a-zA-Z0-9_:]*, got ${JSON.stringify(this.prefix)}.`),
        ErrorCodes.invalidType,
      );
    }
    if (typeof this.labelName !== 'string' || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(this.labelName) || this.labelName.startsWith('__')) {
      throw withCode(
        new TypeError(
          `SessionCacheMetrics: "labelName" must match [a-zA-Z_][a-zA-Z0-9_]* and not start with "__", got ${JSON.stringify(this.labelName)}.`,
        ),
        ErrorCodes.invalidType,
      );
    }
    this.#ensure('', RESUMPTION_RATIO);
    this.#ensureResumption();
  }

  /**
   * Exports `cache` with label `<labelName>="<server>"`.
   * @throws TypeError (ERR_INVALID_ARG_TYPE) for a `cache` that is not a handle or an empty
   *   `server`; RangeError (ERR_INVALID_ARG_VALUE) for a `server` already added.
   */
  add(cache: StatsSource, server: string): this {
    this.#sources.add(server, cache);
    return this;
  }

  /** Stops exporting `cache` (its series disappear from the next scrape). */
  remove(cache: StatsSource): this {
    this.#sources.remove(cache);
    return this;
  }

  /** The full metric names this collector has registered, in registration order. */
  metricNames(): string[] {
    return [...this.#metrics.keys()];
  }

  /** Removes every metric this collector registered from the registry. */
  unregister(): void {
    for (const name of this.#metrics.keys()) this.registry.removeSingleMetric(name);
    this.#metrics.clear();
    this.#sources.clear();
  }

  // stats().resumption, with protocol and reason as labels, and the session-age histogram.
  #ensureResumption(): void {
    const self = this;
    const server = this.labelName;
    const perProtocol = (name: string, help: string, read: (d: NativeResumptionStats, p: (typeof PROTOCOLS)[number]) => number) => {
      const full = this.prefix + name;
      if (this.registry.getSingleMetric(full))
        throw withCode(new Error(`SessionCacheMetrics: a metric named ${full} is already registered.`), ErrorCodes.invalidValue);
      const metric = new this.#prom.Counter({
        name: full,
        help,
        labelNames: [server, 'protocol'],
        registers: [this.registry],
        collect(this: Counter) {
          this.reset();
          self.#snapshotNow();
          for (const [label, d] of self.#details) {
            for (const p of PROTOCOLS) this.inc({ [server]: label, protocol: p }, read(d, p));
          }
        },
      });
      this.#metrics.set(full, metric);
    };
    perProtocol(RESUMPTION_METRICS.offered.name, RESUMPTION_METRICS.offered.help, (d, p) => d.offered[p]);
    perProtocol(RESUMPTION_METRICS.resumed.name, RESUMPTION_METRICS.resumed.help, (d, p) => d.resumed[p]);
    perProtocol(RESUMPTION_METRICS.resumedPskKe.name, RESUMPTION_METRICS.resumedPskKe.help, (d, p) => d.resumedPskKe[p]);

    const failedName = `${this.prefix}${RESUMPTION_METRICS.failed.name}`;
    if (this.registry.getSingleMetric(failedName))
      throw withCode(new Error(`SessionCacheMetrics: a metric named ${failedName} is already registered.`), ErrorCodes.invalidValue);
    const failed = new this.#prom.Counter({
      name: failedName,
      help: RESUMPTION_METRICS.failed.help,
      labelNames: [server, 'protocol', 'reason'],
      registers: [this.registry],
      collect(this: Counter) {
        this.reset();
        self.#snapshotNow();
        for (const [label, d] of self.#details) {
          for (const [reason, byProtocol] of Object.entries(d.failed)) {
            for (const p of PROTOCOLS) this.inc({ [server]: label, protocol: p, reason }, byProtocol[p]);
          }
        }
      },
    });
    this.#metrics.set(failedName, failed);

    const ageName = `${this.prefix}${RESUMPTION_METRICS.sessionAge.name}`;
    if (this.registry.getSingleMetric(ageName))
      throw withCode(new Error(`SessionCacheMetrics: a metric named ${ageName} is already registered.`), ErrorCodes.invalidValue);
    const help = RESUMPTION_METRICS.sessionAge.help;
    const histogram: CountedHistogram = {
      name: ageName,
      help,
      type: 'histogram',
      aggregator: 'sum',
      reset() {},
      async get() {
        self.#snapshotNow();
        const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
        for (const [label, d] of self.#details) {
          for (const p of PROTOCOLS) {
            const { counts, sumSeconds } = d.age[p];
            let cumulative = 0;
            counts.forEach((c, i) => {
              cumulative += c;
              const le = i < d.ageBounds.length ? d.ageBounds[i]! : '+Inf';
              values.push({ metricName: `${ageName}_bucket`, labels: { [server]: label, protocol: p, le }, value: cumulative });
            });
            values.push({ metricName: `${ageName}_sum`, labels: { [server]: label, protocol: p }, value: sumSeconds });
            values.push({ metricName: `${ageName}_count`, labels: { [server]: label, protocol: p }, value: cumulative });
          }
        }
        return { name: ageName, help, type: 'histogram', aggregator: 'sum', values };
      },
    };
    this.registry.registerMetric(histogram as unknown as Parameters<Registry['registerMetric']>[0]);
    this.#metrics.set(ageName, histogram);
  }

  #discover(stats: Map<string, number>): void {
    for (const path of stats.keys()) {
      if (!this.#specs.has(path)) this.#ensure(path, KNOWN_METRICS[path] ?? fallbackSpec(path));
    }
  }

  // One stats() per server per scrape: prom-client calls every metric's collect() synchronously
  // in one pass, so the snapshot is dropped in a microtask after that pass.
  #snapshotNow(): Map<string, Map<string, number>> {
    if (this.#snapshot) return this.#snapshot;
    const snap = new Map<string, Map<string, number>>();
    const details = new Map<string, NativeResumptionStats>();
    for (const [server, cache] of this.#sources.entries()) {
      const stats = StatsSources.read(cache);
      if (stats) snap.set(server, stats);
      const detail = stats ? StatsSources.readDetail(cache) : undefined;
      if (detail) details.set(server, detail);
    }
    this.#details = details;
    this.#snapshot = snap;
    queueMicrotask(() => (this.#snapshot = undefined));
    // Fields that appeared since (a key ring attached later): registered for the next scrape.
    for (const stats of snap.values()) this.#discover(stats);
    return snap;
  }

  #ensure(path: string, spec: MetricSpec): void {
    let name = this.prefix + spec.name;
    const owner = this.#owners.get(name);
    if (owner !== undefined && owner !== path) {
      // Two paths map to one name (a setting and a stat of the same key): the later one gets
      // its full dotted path as the name, so neither is lost.
      const full = path.split('.').map(snake).join('_');
      spec = { ...spec, name: spec.type === 'counter' ? `${full.replace(/_total$/, '')}_total` : full };
      name = this.prefix + spec.name;
    }
    this.#specs.set(path, spec);
    if (this.#metrics.has(name)) return;
    this.#owners.set(name, path);
    const self = this;
    const labelNames = [this.labelName];
    const existing = this.registry.getSingleMetric(name);
    if (existing) throw withCode(new Error(`SessionCacheMetrics: a metric named ${name} is already registered.`), ErrorCodes.invalidValue);
    let metric: Counter | Gauge;
    if (spec.type === 'counter') {
      metric = new this.#prom.Counter({
        name,
        help: spec.help,
        labelNames,
        registers: [this.registry],
        collect(this: Counter) {
          this.reset();
          for (const [server, stats] of self.#snapshotNow()) {
            const v = stats.get(path);
            if (v !== undefined && v >= 0) this.inc({ [self.labelName]: server }, v);
          }
        },
      });
    } else if (path === '') {
      metric = new this.#prom.Gauge({
        name,
        help: spec.help,
        labelNames,
        registers: [this.registry],
        collect(this: Gauge) {
          this.reset();
          for (const [server, stats] of self.#snapshotNow()) {
            const good = stats.get('acceptsGood') ?? 0;
            this.set({ [self.labelName]: server }, good > 0 ? (stats.get('hits') ?? 0) / good : 0);
          }
        },
      });
    } else {
      metric = new this.#prom.Gauge({
        name,
        help: spec.help,
        labelNames,
        registers: [this.registry],
        collect(this: Gauge) {
          this.reset();
          for (const [server, stats] of self.#snapshotNow()) {
            const v = stats.get(path);
            if (v !== undefined) this.set({ [self.labelName]: server }, v);
          }
        },
      });
    }
    this.#metrics.set(name, metric);
  }
}
