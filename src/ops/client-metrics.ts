/**
 * Metrics of client session caches (`clientSessions()`): one list (CLIENT_METRICS) that the
 * Prometheus collector here (prom-client, an optional peer) and the OpenTelemetry instruments of
 * src/ops/client-otel.ts both read. Every counter of `ClientUpstreamStats` is one metric with the
 * labels `cache` (the name given to `add()`) and `upstream` (the stats label), refusals by
 * `reason`; the store's level and drops are per cache. Values are read at collection time:
 * nothing runs on the connection path.
 */
import type { Counter, Gauge, Registry } from 'prom-client';

import type { ClientSessionCache, ClientSessionStats } from '../client';
import { CLIENT_COUNTERS, CLIENT_REFUSAL_REASONS, type ClientCounter, type ClientUpstreamStats } from '../client/stats';
import { checkKeys, ErrorCodes, optionalBoolean, rangeError, typeError, withCode } from '../common/validate';
import { loadPromClient } from './metrics';

/** Attribute (label) names and values of one point. */
export type ClientMetricLabels = Readonly<Record<string, string>>;

/** One client metric, as both exporters see it. */
export interface ClientMetricSpec {
  /** Name after the prefix, Prometheus style: counters end in `_total`. */
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  /** OpenTelemetry unit (UCUM). */
  unit: string;
  /** Labels beyond `cache`, as exported when per-upstream export is on. */
  labels: readonly ('upstream' | 'reason')[];
  /** The points of one cache's stats, without the `cache` label. */
  points(stats: ClientSessionStats, perUpstream: boolean): Array<[ClientMetricLabels, number]>;
}

/** Help text and unit of each per-upstream counter (the list itself is CLIENT_COUNTERS). */
const COUNTER_DOCS: Readonly<Record<ClientCounter, readonly [help: string, unit: string]>> = Object.freeze({
  connections: ['TLS connections opened through the client session cache.', '{connection}'],
  offered: ['Connections that offered a cached session.', '{connection}'],
  resumed: ['Offered connections that resumed.', '{connection}'],
  resumedPskKe: ['Resumed connections that ran no key exchange (TLS 1.3 psk_ke).', '{connection}'],
  full: ['Connections that made a full handshake because nothing was cached for the upstream.', '{connection}'],
  failed: ['Connections that closed before their handshake completed.', '{connection}'],
  received: ['Sessions the server gave that the cache filed (TLS 1.3 tickets, TLS 1.2 sessions).', '{session}'],
  unusable: ['Sessions the server gave that cannot be resumed or do not decode (not filed).', '{session}'],
});

function snake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** One point per upstream (label `upstream`), or one for the cache's totals. */
function perUpstreamPoints(
  s: ClientSessionStats,
  perUpstream: boolean,
  read: (u: ClientUpstreamStats) => number,
  labels: ClientMetricLabels = {},
): Array<[ClientMetricLabels, number]> {
  if (!perUpstream) return [[labels, read(s)]];
  return Object.entries(s.upstreams).map(([upstream, u]) => [{ upstream, ...labels }, read(u)]);
}

/** Every client metric, in the order they are exported. */
export const CLIENT_METRICS: readonly ClientMetricSpec[] = Object.freeze([
  ...CLIENT_COUNTERS.map(
    (counter): ClientMetricSpec => ({
      name: `${snake(counter)}_total`,
      type: 'counter',
      help: COUNTER_DOCS[counter][0],
      unit: COUNTER_DOCS[counter][1],
      labels: ['upstream'],
      points: (s, perUpstream) => perUpstreamPoints(s, perUpstream, (u) => u[counter]),
    }),
  ),
  {
    name: 'refused_total',
    type: 'counter',
    help: `Offered sessions the server answered with a full handshake, by reason (${CLIENT_REFUSAL_REASONS.join(', ')}).`,
    unit: '{connection}',
    labels: ['upstream', 'reason'],
    points: (s, perUpstream) =>
      CLIENT_REFUSAL_REASONS.flatMap((reason) => perUpstreamPoints(s, perUpstream, (u) => u.refused[reason], { reason })),
  },
  {
    name: 'sessions',
    type: 'gauge',
    help: 'Sessions the client cache holds now.',
    unit: '{session}',
    labels: [],
    points: (s) => [[{}, s.cache.sessions]],
  },
  {
    name: 'bytes',
    type: 'gauge',
    help: 'Bytes of session data the client cache holds now.',
    unit: 'By',
    labels: [],
    points: (s) => [[{}, s.cache.bytes]],
  },
  {
    name: 'evicted_total',
    type: 'counter',
    help: 'Sessions dropped for room (ticketsPerUpstream, maxSessions, maxBytes, or the shared store file).',
    unit: '{session}',
    labels: [],
    points: (s) => [[{}, s.cache.evicted]],
  },
  {
    name: 'expired_total',
    type: 'counter',
    help: 'Sessions dropped because their lifetime passed.',
    unit: '{session}',
    labels: [],
    points: (s) => [[{}, s.cache.expired]],
  },
  {
    name: 'secure_contexts_created_total',
    type: 'counter',
    help: 'SecureContexts the cache built for reuse (one per set of context options).',
    unit: '{context}',
    labels: [],
    points: (s) => [[{}, s.contexts.created]],
  },
  {
    name: 'secure_contexts_reused_total',
    type: 'counter',
    help: 'Connections that used a SecureContext built for an earlier one.',
    unit: '{connection}',
    labels: [],
    points: (s) => [[{}, s.contexts.reused]],
  },
  {
    name: 'secure_contexts_unshared_total',
    type: 'counter',
    help: 'Connections given a SecureContext built for them alone: its build read an option name the key did not hold yet (keyed from then on).',
    unit: '{connection}',
    labels: [],
    points: (s) => [[{}, s.contexts.unshared]],
  },
  {
    name: 'secure_contexts_stock_total',
    type: 'counter',
    help: "Connections left to Node's own new SecureContext (reuse off, options Node refused, a build that enumerated the options).",
    unit: '{connection}',
    labels: [],
    points: (s) => [[{}, s.contexts.stock]],
  },
]);

/**
 * What both exporters of client caches share: the caches they read, by the name given to
 * `add()`, so `add` and `remove` behave (and refuse) the same way in each.
 */
export abstract class ClientCacheExporter {
  #caches = new Map<string, ClientSessionCache>();

  /** Exports `cache` with label (attribute) `cache="<name>"`. Throws when the name is empty or in use. */
  add(cache: ClientSessionCache, name: string): this {
    const owner = this.constructor.name;
    if (typeof cache !== 'object' || cache === null || typeof (cache as { stats?: unknown }).stats !== 'function') {
      throw typeError('cache', 'a client session cache (clientSessions())', cache);
    }
    if (typeof name !== 'string' || name.length === 0) {
      throw withCode(new TypeError(`${owner}.add: "name" must be a non-empty string.`), ErrorCodes.invalidType);
    }
    if (this.#caches.has(name))
      throw withCode(new Error(`${owner}.add: cache label "${name}" is already in use.`), ErrorCodes.invalidValue);
    this.#caches.set(name, cache);
    return this;
  }

  /** Stops exporting `cache`. */
  remove(cache: ClientSessionCache): this {
    for (const [name, c] of this.#caches) if (c === cache) this.#caches.delete(name);
    return this;
  }

  protected forgetCaches(): void {
    this.#caches.clear();
  }

  /** Each cache's stats, read once per call (stats() is a copy of counters, no I/O). */
  protected readCaches(): Array<[name: string, stats: ClientSessionStats]> {
    return [...this.#caches].map(([name, cache]) => [name, cache.stats()]);
  }
}

/** The options both exporters share, checked once. */
export function checkClientExportOptions(
  options: unknown,
  known: readonly string[],
  prefixPattern: RegExp,
  prefixAccepted: string,
): { perUpstream: boolean } {
  if (typeof options !== 'object' || options === null) throw typeError('options', 'an object', options);
  checkKeys('options', options, known);
  const { prefix, perUpstream } = options as { prefix?: unknown; perUpstream?: unknown };
  if (prefix !== undefined && (typeof prefix !== 'string' || !prefixPattern.test(prefix))) {
    throw rangeError('prefix', prefixAccepted, JSON.stringify(prefix), ErrorCodes.invalidValue);
  }
  return { perUpstream: optionalBoolean('perUpstream', perUpstream) ?? true };
}

/** Options of `ClientSessionMetrics`. */
export interface ClientSessionMetricsOptions {
  /** Registry to register in. Default: prom-client's global `register`. */
  registry?: Registry;
  /** Prefix of every metric name. Default: "tls_resumption_client_". */
  prefix?: string;
  /**
   * Export the counters per upstream (label `upstream`): one series per upstream and counter, so
   * a cache used for thousands of hosts makes thousands of series. false: one series per cache.
   * Default: true.
   */
  perUpstream?: boolean;
}

/**
 * A prom-client collector for client session caches.
 * ```ts
 * const metrics = new ClientSessionMetrics({ registry });
 * metrics.add(sessions, 'outbound');
 * ```
 */
export class ClientSessionMetrics extends ClientCacheExporter {
  readonly registry: Registry;
  readonly prefix: string;
  readonly perUpstream: boolean;
  #metrics: Array<Counter | Gauge> = [];

  constructor(options: ClientSessionMetricsOptions = {}) {
    super();
    const o = checkClientExportOptions(
      options,
      ['registry', 'prefix', 'perUpstream'],
      /^$|^[a-zA-Z_:][a-zA-Z0-9_:]*$/,
      'empty or a string matching [a-zA-Z_:][a-zA-Z0-9_:]*',
    );
    const prom = loadPromClient();
    this.registry = options.registry ?? prom.register;
    this.prefix = options.prefix ?? 'tls_resumption_client_';
    this.perUpstream = o.perUpstream;
    const read = () => this.readCaches();
    const perUpstream = this.perUpstream;
    for (const spec of CLIENT_METRICS) {
      const common = {
        name: `${this.prefix}${spec.name}`,
        help: spec.help,
        labelNames: ['cache', ...(perUpstream ? spec.labels : spec.labels.filter((l) => l !== 'upstream'))],
        registers: [this.registry],
      };
      // prom-client's Counter cannot be set, only raised: a reset then inc to the value read.
      const fill = (metric: { reset(): void }, put: (labels: ClientMetricLabels, value: number) => void) => {
        metric.reset();
        for (const [cache, stats] of read())
          for (const [labels, value] of spec.points(stats, perUpstream)) put({ cache, ...labels }, value);
      };
      this.#metrics.push(
        spec.type === 'gauge'
          ? new prom.Gauge({
              ...common,
              collect(this: Gauge) {
                fill(this, (l, v) => this.set(l, v));
              },
            })
          : new prom.Counter({
              ...common,
              collect(this: Counter) {
                fill(this, (l, v) => this.inc(l, v));
              },
            }),
      );
    }
  }

  /** Removes every metric this collector registered from the registry. */
  unregister(): void {
    for (const m of this.#metrics) this.registry.removeSingleMetric((m as unknown as { name: string }).name);
    this.#metrics = [];
    this.forgetCaches();
  }
}
