/**
 * tls-session-cache: TLS session resumption for Node's own TLS, HTTPS and HTTP/2 servers.
 */
export { attach, SessionCache } from './attach';
export type { CacheCounters, FlushOptions, SessionCacheStats, SettingsStats } from './attach';
export { CacheMode, Limits } from './options';
export type { AttachOptions, CacheOptions, ResolvedOptions, TicketOptions } from './options';
export type { AttachTarget } from './target';
export { selfSignedCertificate } from './certificate';
export type { SelfSignedCertificate } from './certificate';
export { SharedLimits, sharedStorePath } from './shared-store';
export type { SharedOptions, SharedStoreStats } from './shared-store';
