/**
 * tls-resumption: TLS session resumption for Node's own TLS, HTTPS and HTTP/2 servers.
 *
 * The main entry: `attach()` and the handle it returns, the ticket key ring, the option and stat
 * types, and the channel names. Prometheus metrics are at 'tls-resumption/metrics' (so
 * prom-client stays an optional peer), the remote probe at 'tls-resumption/probe', OpenSSL's
 * providers and engines at 'tls-resumption/providers'. Everything else is internal.
 */
export { attach, RESUMPTION_FAILURE_REASONS, SessionCache } from './attach';
export type {
  CacheCounters,
  FlushOptions,
  ResumptionFailures,
  ResumptionProtocol,
  ResumptionStats,
  SessionCacheStats,
  SettingsStats,
} from './attach';
export { CacheMode, DEFAULT_MAX_SESSION_AGE_SECONDS, Limits } from './options';
export type { AttachOptions, CacheOptions, ResolvedOptions, TicketOptions } from './options';
export type { AttachTarget } from './target';
export { TicketKeyRing } from './ticket-key-ring';
export type {
  AddKeyFileOptions,
  AddKeyOptions,
  AddSecretOptions,
  RedisTicketKeyRingOptions,
  TicketKeyCounters,
  TicketKeyFormat,
  TicketKeyInfo,
  TicketKeyRingOptions,
  TicketKeyRole,
  TicketRingStats,
} from './ticket-key-ring';
export type { FleetOptions } from './fleet/options';
export type { FleetSessionStats } from './fleet/session-store';
export type { FleetRingStats } from './fleet/redis-key-ring';
export type { RedisClientLike } from './fleet/redis-client';
export { SharedLimits } from './shared-store';
export type { SharedOptions, SharedStoreStats } from './shared-store';
export { Channels } from './events';
export type { EventMessage, EventName } from './events';
