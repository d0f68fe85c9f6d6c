/**
 * tls-resumption: TLS session resumption for Node's own TLS, HTTPS and HTTP/2 servers.
 *
 * The main entry: `attach()` and the handle it returns, the ticket key ring, the option and stat
 * types, and the channel names. Prometheus metrics are at 'tls-resumption/metrics' (so
 * prom-client stays an optional peer), the remote probe at 'tls-resumption/probe', OpenSSL's
 * providers and engines at 'tls-resumption/providers'. Everything else is internal.
 */

// The client side: the outbound session cache (src/client/index.ts lists its public names).
export * from './client';
export type { EventMessage, EventName } from './common/events';
export { Channels } from './common/events';
export type { RedisClientLike } from './common/redis-client';
export type { SessionIdContextInput, SessionIdContextSource, SessionIdContextStats } from './common/session-id-context';
export { SESSION_ID_CONTEXT_INPUTS } from './common/session-id-context';
export type { RemoveSharedStoreOptions, SharedOptions, SharedStoreInfo, SharedStoreStats } from './common/shared-store';
export { listSharedStores, removeSharedStore, SharedLimits } from './common/shared-store';
export type { AttachTarget } from './common/target';
export type {
  CacheCounters,
  FlushOptions,
  ResumptionFailures,
  ResumptionProtocol,
  ResumptionStats,
  SessionCacheEvents,
  SessionCacheListener,
  SessionCacheStats,
  SettingsStats,
} from './server/attach';
export { attach, RESUMPTION_FAILURE_REASONS, SessionCache } from './server/attach';
export type { FleetOptions } from './server/fleet/options';
export type { FleetRingStats } from './server/fleet/redis-key-ring';
export type { FleetSessionStats } from './server/fleet/session-store';
export type { AttachOptions, CacheOptions, ResolvedOptions, TicketOptions } from './server/options';
export { CacheMode, DEFAULT_MAX_SESSION_AGE_SECONDS, Limits } from './server/options';
export type { NginxModule, NginxSessionIdContextOptions } from './server/peer-session-id-context';
export { haproxySessionIdContext, nginxSessionIdContext } from './server/peer-session-id-context';
// The ring and its option and stat types (src/server/ticket-key-ring/index.ts lists them).
export * from './server/ticket-key-ring';
