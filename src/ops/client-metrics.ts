/**
 * Prometheus metrics for client session caches (`clientSessions()`), through prom-client (an
 * optional peer). Every counter of `ClientUpstreamStats` becomes `<prefix><name>_total` with the
 * labels `cache` (the name given to `add()`) and `upstream` (the stats label), refusals by
 * `reason`; the store's level and drops are per cache. Values are read at scrape time: nothing
 * runs on the connection path.
 */
import type { Counter, Gauge, Registry } from 'prom-client';

import type { ClientSessionCache, ClientSessionStats } from '../client';
import { CLIENT_COUNTERS, CLIENT_REFUSAL_REASONS, type ClientCounter } from '../client/stats';
import { ErrorCodes, withCode } from '../common/validate';
import { loadPromClient } from './metrics';

/** `# HELP` of each per-upstream counter (the list itself is CLIENT_COUNTERS). */
const COUNTER_HELP: Readonly<Record<ClientCounter, string>> = Object.freeze({
  connections: 'TLS connections opened through the client session cache.',
  offered: 'Connections that offered a cached session.',
  resumed: 'Offered connections that resumed.',
  resumedPskKe: 'Resumed connections that ran no key exchange (TLS 1.3 psk_ke).',
  full: 'Connections that made a full handshake because nothing was cached for the upstream.',
  failed: 'Connections that closed before their handshake completed.',
  received: 'Sessions the server gave that the cache filed (TLS 1.3 tickets, TLS 1.2 sessions).',
  unusable: 'Sessions the server gave that cannot be resumed or do not decode (not filed).',
});

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
export class ClientSessionMetrics {
  readonly registry: Registry;
  readonly prefix: string;
  readonly perUpstream: boolean;
  #caches = new Map<string, ClientSessionCache>();
  #metrics: Array<Counter | Gauge> = [];

  constructor(options: ClientSessionMetricsOptions = {}) {
    const prom = loadPromClient();
    this.registry = options.registry ?? prom.register;
    this.prefix = options.prefix ?? 'tls_resumption_client_';
    this.perUpstream = options.perUpstream ?? true;
    const self = this;
    const labels = this.perUpstream ? ['cache', 'upstream'] : ['cache'];
    // Reads every cache once per metric collect: stats() is a copy of counters, no I/O.
    const each = (fn: (cache: string, s: ClientSessionStats) => void) => {
      for (const [name, cache] of self.#caches) fn(name, cache.stats());
    };
    for (const counter of CLIENT_COUNTERS) {
      this.#metrics.push(
        new prom.Counter({
          name: `${this.prefix}${counter}_total`,
          help: COUNTER_HELP[counter],
          labelNames: labels,
          registers: [this.registry],
          collect(this: Counter) {
            this.reset();
            each((cache, s) => {
              if (!self.perUpstream) this.inc({ cache }, s[counter]);
              else for (const [upstream, u] of Object.entries(s.upstreams)) this.inc({ cache, upstream }, u[counter]);
            });
          },
        }),
      );
    }
    this.#metrics.push(
      new prom.Counter({
        name: `${this.prefix}refused_total`,
        help: `Offered sessions the server answered with a full handshake, by reason (${CLIENT_REFUSAL_REASONS.join(', ')}).`,
        labelNames: [...labels, 'reason'],
        registers: [this.registry],
        collect(this: Counter) {
          this.reset();
          each((cache, s) => {
            for (const reason of CLIENT_REFUSAL_REASONS) {
              if (!self.perUpstream) this.inc({ cache, reason }, s.refused[reason]);
              else for (const [upstream, u] of Object.entries(s.upstreams)) this.inc({ cache, upstream, reason }, u.refused[reason]);
            }
          });
        },
      }),
    );
    const store: Array<[string, 'gauge' | 'counter', string, (s: ClientSessionStats) => number]> = [
      ['sessions', 'gauge', 'Sessions the client cache holds now.', (s) => s.cache.sessions],
      ['bytes', 'gauge', 'Bytes of session data the client cache holds now.', (s) => s.cache.bytes],
      [
        'evicted_total',
        'counter',
        'Sessions dropped for room (ticketsPerUpstream, maxSessions, maxBytes, or the shared store file).',
        (s) => s.cache.evicted,
      ],
      ['expired_total', 'counter', 'Sessions dropped because their lifetime passed.', (s) => s.cache.expired],
    ];
    for (const [name, type, help, read] of store) {
      const common = { name: `${this.prefix}${name}`, help, labelNames: ['cache'], registers: [this.registry] };
      this.#metrics.push(
        type === 'gauge'
          ? new prom.Gauge({
              ...common,
              collect(this: Gauge) {
                this.reset();
                each((cache, s) => this.set({ cache }, read(s)));
              },
            })
          : new prom.Counter({
              ...common,
              collect(this: Counter) {
                this.reset();
                each((cache, s) => this.inc({ cache }, read(s)));
              },
            }),
      );
    }
  }

  /** Exports `cache` with label `cache="<name>"`. Throws when the name is empty or in use. */
  add(cache: ClientSessionCache, name: string): this {
    if (typeof name !== 'string' || name.length === 0)
      throw withCode(new TypeError('ClientSessionMetrics.add: "name" must be a non-empty string.'), ErrorCodes.invalidType);
    if (this.#caches.has(name))
      throw withCode(new Error(`ClientSessionMetrics.add: cache label "${name}" is already in use.`), ErrorCodes.invalidValue);
    this.#caches.set(name, cache);
    return this;
  }

  /** Stops exporting `cache`. */
  remove(cache: ClientSessionCache): this {
    for (const [name, c] of this.#caches) if (c === cache) this.#caches.delete(name);
    return this;
  }

  /** Removes every metric this collector registered from the registry. */
  unregister(): void {
    for (const m of this.#metrics) this.registry.removeSingleMetric((m as unknown as { name: string }).name);
    this.#metrics = [];
    this.#caches.clear();
  }
}
