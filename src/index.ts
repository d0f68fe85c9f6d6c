/**
 * tls-resumption: TLS session resumption for Node's own TLS, HTTPS and HTTP/2 servers.
 */
export { attach, SessionCache } from './attach';
export type { CacheCounters, FlushOptions, SessionCacheStats, SettingsStats } from './attach';
export { CacheMode, Limits } from './options';
export type { AttachOptions, CacheOptions, ResolvedOptions, TicketOptions } from './options';
export type { AttachTarget } from './target';
export { selfSignedCertificate } from './certificate';
export type { SelfSignedCertificate } from './certificate';
export { TicketKeyRing } from './ticket-key-ring';
export type {
  AddKeyFileOptions,
  AddKeyOptions,
  AddSecretOptions,
  TicketKeyCounters,
  TicketKeyFormat,
  TicketKeyInfo,
  TicketKeyRingOptions,
  TicketKeyRole,
  TicketRingStats,
} from './ticket-key-ring';
export type { RedisTicketKeyRingOptions } from './ticket-key-ring';
export type { FleetOptions } from './fleet/options';
export type { FleetSessionStats } from './fleet/session-store';
export type { FleetRingStats } from './fleet/redis-key-ring';
export type { RedisClientLike } from './fleet/redis-client';
export { Channels, publish } from './events';
export type { EventMessage, EventName } from './events';
export { engines, keySource, loadEngineKey, loadProvider, opensslInfo, providers, redactKeyIdentifier } from './providers';
export type { CpuFeatures, EngineInfo, EngineKeyOptions, KeySource, LoadProviderOptions, OpenSslInfo, PinSource, ProviderInfo } from './providers';
export { probe } from './probe';
export type { ProbeOptions, ProbeReport, ProtocolProbe } from './probe';
export { formatProbeReport } from './probe';
export { inspectReport, nodeSessionDefaults } from './inspect';
export type { InspectReport, NodeSessionDefaults } from './inspect';
export { KeyFormats, generateKeyMaterial, writeKeyFile } from './keygen';
export type { KeyFormat } from './keygen';
// Prometheus metrics live at 'tls-resumption/metrics' so that prom-client stays optional.
export { SharedLimits, sharedStorePath } from './shared-store';
export type { SharedOptions, SharedStoreStats } from './shared-store';
