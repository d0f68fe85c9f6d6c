/**
 * OpenTelemetry metrics for attached servers, through `@opentelemetry/api` (an optional peer
 * dependency). The metrics are those of the Prometheus module (src/ops/metrics.ts), defined once
 * there: KNOWN_METRICS (with `fallbackSpec` for fields it does not list) and RESUMPTION_METRICS.
 * Every instrument is observable: its value is read from `stats()` when the SDK collects (one
 * `stats()` per server per collection, in one batch callback), so nothing runs between
 * collections and nothing is added to the handshake path.
 *
 * Names follow OpenTelemetry's conventions and give the Prometheus names back through
 * OpenTelemetry's Prometheus exporter: the unit moves out of the name into `unit` (`_seconds` ->
 * `s`, `_milliseconds` -> `ms`, `_bytes` -> `By`, `_ratio` -> `1`), counters lose `_total`, and
 * the stats group becomes a namespace: `tls_resumption_shared_lock_timeouts_total` is
 * `tls_resumption.shared.lock_timeouts` (`{wait}`), `tls_resumption_timeout_seconds` is
 * `tls_resumption.timeout` (`s`).
 */
import type {
  Attributes,
  BatchObservableResult,
  Meter,
  MeterProvider,
  Observable,
  ObservableCounter,
  ObservableGauge,
} from '@opentelemetry/api';

import { checkKeys, ErrorCodes, invalidState, rangeError, typeError, withCode } from '../common/validate';
import { fallbackSpec, KNOWN_METRICS, type MetricSpec, RESUMPTION_METRICS, type StatsSource, StatsSources } from './metrics';

const PROTOCOLS = ['TLSv1.2', 'TLSv1.3'] as const;
/** OpenTelemetry's semantic-convention attribute for the TLS version ("1.2", "1.3"). */
const PROTOCOL_ATTRIBUTE = 'tls.protocol.version';

/** Options of `SessionCacheInstruments`. */
export interface SessionCacheInstrumentsOptions {
  /** Meter to create the instruments on. Default: `meterProvider`'s, else the global provider's, meter "tls-resumption". */
  meter?: Meter;
  /** Provider to take the meter from when `meter` is not given. Default: `metrics.getMeterProvider()` (the global one). */
  meterProvider?: MeterProvider;
  /** Prefix of every instrument name. Default: "tls_resumption.". */
  prefix?: string;
  /** Attribute that tells attached servers apart. Default: "server". */
  attributeName?: string;
}

/** One instrument as OpenTelemetry sees it. */
export interface InstrumentSpec {
  /** Full instrument name, e.g. "tls_resumption.shared.lock_timeouts". */
  name: string;
  description: string;
  unit: string;
  /** counter: an ObservableCounter (monotonic); gauge: an ObservableGauge. */
  type: 'counter' | 'gauge';
}

const OPTION_KEYS: readonly (keyof SessionCacheInstrumentsOptions)[] = ['meter', 'meterProvider', 'prefix', 'attributeName'];

type OtelApi = typeof import('@opentelemetry/api');

/** `@opentelemetry/api`, or an error that says how to install it. */
export function loadOtelApi(): OtelApi {
  try {
    return require('@opentelemetry/api') as OtelApi;
  } catch {
    throw withCode(
      new Error('tls-resumption/otel needs @opentelemetry/api, an optional peer dependency: npm install @opentelemetry/api'),
      ErrorCodes.peerMissing,
    );
  }
}

const UNIT_SUFFIXES: ReadonlyArray<[suffix: string, unit: string]> = [
  ['_milliseconds', 'ms'],
  ['_seconds', 's'],
  ['_bytes', 'By'],
  ['_ratio', '1'],
];

function snake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/**
 * The OpenTelemetry form of a metric of the Prometheus module: `spec` is its entry in
 * KNOWN_METRICS / RESUMPTION_METRICS (or `fallbackSpec(path)`), `path` its stats path ('' for
 * the resumption metrics), which gives the namespace.
 */
export function instrumentSpec(spec: MetricSpec, path: string, prefix = 'tls_resumption.'): InstrumentSpec {
  let base = spec.type === 'counter' ? spec.name.replace(/_total$/, '') : spec.name;
  let unit = spec.unit;
  for (const [suffix, u] of UNIT_SUFFIXES) {
    if (base.endsWith(suffix) && (unit === undefined || unit === u)) {
      base = base.slice(0, -suffix.length);
      unit = u;
      break;
    }
  }
  unit ??= spec.type === 'counter' ? '{event}' : '1';
  // The leading groups of the stats path that the name starts with become namespaces.
  const groups = path.split('.').slice(0, -1).map(snake);
  let named = '';
  for (const g of groups) {
    if (g === 'settings' || !base.startsWith(`${g}_`)) break;
    named += `${g}.`;
    base = base.slice(g.length + 1);
  }
  return { name: `${prefix}${named}${base}`, description: spec.help, unit, type: spec.type };
}

/**
 * OpenTelemetry instruments for one or more attached servers.
 * ```ts
 * import { SessionCacheInstruments } from 'tls-resumption/otel';
 * const instruments = new SessionCacheInstruments({ meterProvider });
 * instruments.add(attach(apiServer), 'api');
 * ```
 * A handle that is detached leaves by itself; `close()` stops observing.
 */
export class SessionCacheInstruments {
  readonly meter: Meter;
  readonly prefix: string;
  readonly attributeName: string;
  #sources = new StatsSources((stats) => this.#discover(stats));
  /** Stats path -> its instrument (created once, observed while any server reports the path). */
  #byPath = new Map<string, { spec: InstrumentSpec; instrument: ObservableCounter | ObservableGauge }>();
  #names = new Set<string>();
  #ratio: ObservableGauge;
  #offered: ObservableCounter;
  #resumed: ObservableCounter;
  #resumedPskKe: ObservableCounter;
  #failed: ObservableCounter;
  #ageCount: ObservableCounter;
  #ageSum: ObservableCounter;
  #callback = (result: BatchObservableResult) => this.#observe(result);
  #observables: Observable[] = [];
  #closed = false;

  constructor(options: SessionCacheInstrumentsOptions = {}) {
    if (typeof options !== 'object' || options === null) throw typeError('options', 'an object', options);
    checkKeys('options', options, OPTION_KEYS);
    this.prefix = options.prefix ?? 'tls_resumption.';
    this.attributeName = options.attributeName ?? 'server';
    if (typeof this.prefix !== 'string') throw typeError('prefix', 'a string', this.prefix);
    if (!/^$|^[a-zA-Z][a-zA-Z0-9_.-]*$/.test(this.prefix)) {
      throw rangeError(
        'prefix',
        'empty or a string matching [a-zA-Z][a-zA-Z0-9_.-]*',
        JSON.stringify(this.prefix),
        ErrorCodes.invalidValue,
      );
    }
    if (typeof this.attributeName !== 'string' || this.attributeName.length === 0) {
      throw typeError('attributeName', 'a non-empty string', this.attributeName);
    }
    for (const k of ['meter', 'meterProvider'] as const) {
      if (options[k] !== undefined && (typeof options[k] !== 'object' || options[k] === null)) throw typeError(k, 'an object', options[k]);
    }
    if (options.meter !== undefined) {
      this.meter = options.meter;
    } else {
      const provider = options.meterProvider ?? loadOtelApi().metrics.getMeterProvider();
      this.meter = provider.getMeter('tls-resumption');
    }
    const ratio = instrumentSpec(RESUMPTION_METRICS.ratio, '', this.prefix);
    this.#ratio = this.meter.createObservableGauge(ratio.name, { description: ratio.description, unit: ratio.unit });
    this.#names.add(ratio.name);
    // stats().resumption.offered, .resumed, .failed: the namespace "resumption.".
    const counter = (spec: MetricSpec) => {
      const s = instrumentSpec(spec, 'resumption._', this.prefix);
      this.#names.add(s.name);
      return this.meter.createObservableCounter(s.name, { description: s.description, unit: s.unit });
    };
    this.#offered = counter(RESUMPTION_METRICS.offered);
    this.#resumed = counter(RESUMPTION_METRICS.resumed);
    this.#resumedPskKe = counter(RESUMPTION_METRICS.resumedPskKe);
    this.#failed = counter(RESUMPTION_METRICS.failed);
    // The API has no observable histogram (and recording each resumption would put work on the
    // handshake path): the native histogram's count and sum, as two counters.
    const age = instrumentSpec(RESUMPTION_METRICS.sessionAge, '', this.prefix);
    for (const n of [`${age.name}.count`, `${age.name}.sum`]) this.#names.add(n);
    this.#ageCount = this.meter.createObservableCounter(`${age.name}.count`, {
      description: `Resumptions counted in the session-age histogram, by protocol. ${age.description}`,
      unit: '{handshake}',
    });
    this.#ageSum = this.meter.createObservableCounter(`${age.name}.sum`, {
      description: `Sum of the ages of resumed sessions, by protocol. ${age.description}`,
      unit: 's',
    });
    this.#observables = [this.#ratio, this.#offered, this.#resumed, this.#resumedPskKe, this.#failed, this.#ageCount, this.#ageSum];
    this.meter.addBatchObservableCallback(this.#callback, this.#observables);
  }

  /**
   * Observes `cache` with attribute `<attributeName>: server`.
   * @throws TypeError (ERR_INVALID_ARG_TYPE) for a `cache` that is not a handle or an empty `server`;
   *   RangeError (ERR_INVALID_ARG_VALUE) for a `server` already added; Error after `close()`.
   */
  add(cache: StatsSource, server: string): this {
    if (this.#closed) throw invalidState('SessionCacheInstruments.add: closed.');
    this.#sources.add(server, cache);
    return this;
  }

  /** Stops observing `cache` (its points leave the next collection). */
  remove(cache: StatsSource): this {
    this.#sources.remove(cache);
    return this;
  }

  /** Every instrument this object created, as OpenTelemetry sees it (name, unit, type). */
  instruments(): InstrumentSpec[] {
    return [...this.#byPath.values()].map((e) => e.spec);
  }

  /** Stops observing every server; the meter's instruments report nothing from here on. */
  close(): void {
    this.#closed = true;
    this.meter.removeBatchObservableCallback(this.#callback, this.#observables);
    this.#sources.clear();
  }

  // Fields that appear after add() (a key ring attached later) get their instrument here, and are
  // observed from the next collection on (the batch callback is registered again with them).
  #discover(stats: Map<string, number>): void {
    const added: Observable[] = [];
    for (const path of stats.keys()) {
      if (this.#byPath.has(path)) continue;
      let spec = instrumentSpec(KNOWN_METRICS[path] ?? fallbackSpec(path), path, this.prefix);
      // Two paths to one name (a setting and a stat of one key): the later one gets its full path.
      if (this.#names.has(spec.name)) spec = { ...spec, name: `${this.prefix}${path.split('.').map(snake).join('.')}` };
      this.#names.add(spec.name);
      const opts = { description: spec.description, unit: spec.unit };
      const instrument =
        spec.type === 'counter' ? this.meter.createObservableCounter(spec.name, opts) : this.meter.createObservableGauge(spec.name, opts);
      this.#byPath.set(path, { spec, instrument });
      added.push(instrument);
    }
    if (added.length === 0 || this.#closed) return;
    this.meter.removeBatchObservableCallback(this.#callback, this.#observables);
    this.#observables = [...this.#observables, ...added];
    this.meter.addBatchObservableCallback(this.#callback, this.#observables);
  }

  #observe(result: BatchObservableResult): void {
    const fresh: Array<Map<string, number>> = [];
    for (const [server, cache] of this.#sources.entries()) {
      const stats = StatsSources.read(cache);
      if (!stats) continue;
      fresh.push(stats);
      const base: Attributes = { [this.attributeName]: server };
      for (const [path, value] of stats) {
        const entry = this.#byPath.get(path);
        if (!entry || (entry.spec.type === 'counter' && value < 0)) continue;
        result.observe(entry.instrument, value, base);
      }
      const good = stats.get('acceptsGood') ?? 0;
      result.observe(this.#ratio, good > 0 ? (stats.get('hits') ?? 0) / good : 0, base);
      const detail = StatsSources.readDetail(cache);
      if (!detail) continue;
      for (const p of PROTOCOLS) {
        const at = { ...base, [PROTOCOL_ATTRIBUTE]: p.slice(4) };
        result.observe(this.#offered, detail.offered[p], at);
        result.observe(this.#resumed, detail.resumed[p], at);
        result.observe(this.#resumedPskKe, detail.resumedPskKe[p], at);
        for (const [reason, byProtocol] of Object.entries(detail.failed)) result.observe(this.#failed, byProtocol[p], { ...at, reason });
        const { counts, sumSeconds } = detail.age[p];
        result.observe(
          this.#ageCount,
          counts.reduce((a, b) => a + b, 0),
          at,
        );
        result.observe(this.#ageSum, sumSeconds, at);
      }
    }
    // New fields get their instruments after this collection, not while the SDK runs its callbacks.
    if (fresh.length > 0) queueMicrotask(() => this.#closed || fresh.forEach((stats) => this.#discover(stats)));
  }
}
