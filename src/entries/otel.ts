/**
 * 'tls-resumption/otel': the metrics of 'tls-resumption/metrics' through OpenTelemetry
 * (`@opentelemetry/api`, an optional peer dependency), as observable instruments read when the
 * SDK collects; `ClientSessionInstruments` does the same for client session caches.
 */

export type { ClientSessionInstrumentsOptions } from '../ops/client-otel';
export { ClientSessionInstruments } from '../ops/client-otel';
export type { InstrumentSpec, SessionCacheInstrumentsOptions } from '../ops/otel';
export { instrumentSpec, SessionCacheInstruments } from '../ops/otel';
