/**
 * 'tls-resumption/metrics': Prometheus metrics for attached servers (`SessionCacheMetrics`) and
 * client session caches (`ClientSessionMetrics`). prom-client is an optional peer dependency,
 * loaded when either is made.
 */

export type { ClientSessionMetricsOptions } from '../ops/client-metrics';
export { ClientSessionMetrics } from '../ops/client-metrics';
export type { MetricSpec, SessionCacheMetricsOptions, StatsSource } from '../ops/metrics';
export { KNOWN_METRICS, SessionCacheMetrics } from '../ops/metrics';
