/**
 * OpenTelemetry instruments for client session caches (`clientSessions()`), through
 * `@opentelemetry/api` (an optional peer). The metrics are CLIENT_METRICS of
 * src/ops/client-metrics.ts, the list the Prometheus collector reads; names follow OpenTelemetry's
 * conventions the way the server's instruments do (src/ops/otel.ts): counters lose `_total`, the
 * unit moves into `unit`, `tls_resumption_client_resumed_total` is `tls_resumption.client.resumed`
 * (`{connection}`). Every instrument is observable, read in one batch callback when the SDK
 * collects: nothing runs on the connection path.
 */
import type { BatchObservableResult, Meter, MeterProvider, Observable, ObservableCounter, ObservableGauge } from '@opentelemetry/api';

import { typeError } from '../common/validate';
import { CLIENT_METRICS, ClientCacheExporter, checkClientExportOptions } from './client-metrics';
import { loadOtelApi } from './otel';

/** Options of `ClientSessionInstruments`. */
export interface ClientSessionInstrumentsOptions {
  /** Meter to create the instruments on. Default: `meterProvider`'s, else the global provider's, meter "tls-resumption". */
  meter?: Meter;
  /** Provider to take the meter from when `meter` is not given. Default: `metrics.getMeterProvider()` (the global one). */
  meterProvider?: MeterProvider;
  /** Prefix of every instrument name. Default: "tls_resumption.client.". */
  prefix?: string;
  /**
   * Attribute `upstream` on the per-upstream counters: one time series per upstream, so a cache
   * used for thousands of hosts makes thousands of series. false: one series per cache. Default: true.
   */
  perUpstream?: boolean;
}

const OPTION_KEYS: readonly (keyof ClientSessionInstrumentsOptions)[] = ['meter', 'meterProvider', 'prefix', 'perUpstream'];

/**
 * OpenTelemetry instruments for one or more client session caches, attribute `cache`.
 * ```ts
 * import { ClientSessionInstruments } from 'tls-resumption/otel';
 * new ClientSessionInstruments({ meterProvider }).add(sessions, 'outbound');
 * ```
 */
export class ClientSessionInstruments extends ClientCacheExporter {
  readonly meter: Meter;
  readonly prefix: string;
  readonly perUpstream: boolean;
  #instruments: Array<ObservableCounter | ObservableGauge> = [];
  #callback = (result: BatchObservableResult) => this.#observe(result);

  constructor(options: ClientSessionInstrumentsOptions = {}) {
    super();
    this.perUpstream = checkClientExportOptions(
      options,
      OPTION_KEYS,
      /^$|^[a-zA-Z][a-zA-Z0-9_.-]*$/,
      'empty or a string matching [a-zA-Z][a-zA-Z0-9_.-]*',
    ).perUpstream;
    for (const k of ['meter', 'meterProvider'] as const) {
      if (options[k] !== undefined && (typeof options[k] !== 'object' || options[k] === null)) throw typeError(k, 'an object', options[k]);
    }
    this.prefix = options.prefix ?? 'tls_resumption.client.';
    this.meter = options.meter ?? (options.meterProvider ?? loadOtelApi().metrics.getMeterProvider()).getMeter('tls-resumption');
    for (const spec of CLIENT_METRICS) {
      const name = `${this.prefix}${spec.name.replace(/_total$/, '')}`;
      const opts = { description: spec.help, unit: spec.unit };
      this.#instruments.push(
        spec.type === 'counter' ? this.meter.createObservableCounter(name, opts) : this.meter.createObservableGauge(name, opts),
      );
    }
    this.meter.addBatchObservableCallback(this.#callback, this.#instruments as Observable[]);
  }

  /** Stops observing every cache. */
  close(): void {
    this.meter.removeBatchObservableCallback(this.#callback, this.#instruments as Observable[]);
    this.forgetCaches();
  }

  #observe(result: BatchObservableResult): void {
    for (const [cache, stats] of this.readCaches()) {
      CLIENT_METRICS.forEach((spec, i) => {
        for (const [labels, value] of spec.points(stats, this.perUpstream))
          result.observe(this.#instruments[i]!, value, { cache, ...labels });
      });
    }
  }
}
