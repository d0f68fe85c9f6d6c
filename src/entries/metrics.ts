/**
 * 'tls-resumption/metrics': Prometheus metrics for attached servers. prom-client is an optional
 * peer dependency, loaded when a `SessionCacheMetrics` is made.
 */

export type { MetricSpec, SessionCacheMetricsOptions, StatsSource } from '../ops/metrics';
export { KNOWN_METRICS, SessionCacheMetrics } from '../ops/metrics';
