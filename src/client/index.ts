/**
 * The client side: a session cache for the TLS connections a Node process opens (https.Agent,
 * undici and fetch, tls.connect, http2.connect). `clientSessions()` is its one entry point.
 */
import type { ClientSessionsOptions } from './options';
import { ClientSessionCache } from './session-cache';

/**
 * A client session cache: every TLS connection made through it offers a session from an earlier
 * connection to the same upstream (same host, port, servername and TLS options), each TLS 1.3
 * ticket once. Plug it in with one line:
 * `https.get(url, { agent: sessions.agent() })`,
 * `new undici.Agent({ connect: sessions.connector() })`, `sessions.connect(options)`,
 * `sessions.http2Connect(authority)`. Throws TypeError/RangeError naming the field for bad options.
 */
export function clientSessions(options?: ClientSessionsOptions): ClientSessionCache {
  return new ClientSessionCache(options);
}

export type { ClientProtocol, StoreCounters } from './memory-store';
export type { ClientSessionsOptions } from './options';
export { ClientLimits } from './options';
export type { ClientSessionStats, ConnectorOptions, UndiciConnector } from './session-cache';
export { ClientSessionCache } from './session-cache';
export type { ClientRefusalReason, ClientUpstreamStats } from './stats';
export { CLIENT_REFUSAL_REASONS } from './stats';
