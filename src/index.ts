/**
 * tls-resumption: TLS session resumption for Node's own TLS, HTTPS and HTTP/2 servers.
 *
 * The main entry: `attach()` and the handle it returns, the ticket key ring, the option and stat
 * types, and the channel names. Prometheus metrics are at 'tls-resumption/metrics' (so
 * prom-client stays an optional peer), the remote probe at 'tls-resumption/probe', OpenSSL's
 * providers and engines at 'tls-resumption/providers'. Everything else is internal.
 */

export type {
  CacheCounters,
  FlushOptions,
  ResumptionFailures,
  ResumptionProtocol,
  ResumptionStats,
  SessionCacheStats,
  SettingsStats,
} from './attach';
export { attach, RESUMPTION_FAILURE_REASONS, SessionCache } from './attach';
export type { EventMessage, EventName } from './events';
export { Channels } from './events';
export type { FleetOptions } from './fleet/options';
export type { RedisClientLike } from './fleet/redis-client';
export type { FleetRingStats } from './fleet/redis-key-ring';
export type { SessionIdContextInput, SessionIdContextSource, SessionIdContextStats } from './fleet/session-id-context';
export { SESSION_ID_CONTEXT_INPUTS } from './fleet/session-id-context';
export type { FleetSessionStats } from './fleet/session-store';
export type { AttachOptions, CacheOptions, ResolvedOptions, TicketOptions } from './options';
export { CacheMode, DEFAULT_MAX_SESSION_AGE_SECONDS, Limits } from './options';
export type { SharedOptions, SharedStoreStats } from './shared-store';
export { SharedLimits } from './shared-store';
export type { AttachTarget } from './target';
// The ring and its option and stat types (src/ticket-key-ring/index.ts lists them).
export * from './ticket-key-ring';
