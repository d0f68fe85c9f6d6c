/**
 * Options of `clientSessions()`: how many sessions the outbound cache keeps, per upstream and in
 * all, and for how long. Checked once, with the package's one validation module, before anything
 * is built.
 */
import { type ResolvedSharedOptions, resolveShared, type SharedOptions } from '../common/shared-store';
import { optionalBoolean, optionalInteger, optionGroup } from '../common/validate';

/** Options of `clientSessions()`. Every field is optional. */
export interface ClientSessionsOptions {
  /**
   * TLS 1.3 tickets kept per upstream. Each ticket is offered once (RFC 8446 C.4) and taken out
   * of the cache when it is, so up to this many parallel connections to one upstream each resume
   * with their own. Default: 8 (rustls' choice). Range: 1 to 64.
   */
  ticketsPerUpstream?: number;
  /** Sessions held in all (TLS 1.3 tickets plus TLS 1.2 sessions, every upstream). The least recently used upstream gives up its oldest session first. Default: 65536. Range: 1 to 16777216. */
  maxSessions?: number;
  /** Bytes of session data held in all (the DER sessions Node hands out). Default: 67108864 (64 MiB). Range: 4096 to 17179869184 (16 GiB). */
  maxBytes?: number;
  /**
   * Longest time a session is offered after it was received, in seconds, whatever lifetime the
   * server announced (the ticket lifetime hint, or the session timeout when there is none).
   * Default: 604800 (one week, RFC 8446's limit). Range: 1 to 604800 seconds.
   */
  maxLifetimeSeconds?: number;
  /**
   * Keep the sessions in a shared store instead of this process's memory: every process that
   * opens the same `name` (a file under /dev/shm, this user's) or `path` (a persistent file: the
   * cache survives a restart) draws from one cache, and two processes never get the same TLS 1.3
   * ticket. The same option group as the server side's `shared` (sizes, slot bytes; a client
   * session is about 700-1700 bytes with Node's envelope: give `slotBytes` 2048 or more). Use a
   * store of its own, not a server's. `maxSessions` and `maxBytes` do not apply: the file's size does.
   */
  shared?: SharedOptions;
  /**
   * Offer TLS 1.3 resumption without a key exchange (psk_ke): every connection through the cache
   * sets SSL_OP_ALLOW_NO_DHE_KEX, so a server that prefers psk_ke (`attach(server, { tickets:
   * { pskKe: true } })` on Node 22 or later, OpenSSL 3.3+) resumes without running (EC)DHE or
   * X25519MLKEM768 again. Servers that do not prefer psk_ke go on with psk_dhe_ke; any server
   * that prefers it (not only this package's) gets psk_ke, so use a cache with this option for
   * your own upstreams only. The trade-off: a session resumed
   * this way has no forward secrecy of its own (its keys derive from the first handshake's), so
   * whoever later gets that handshake's secret reads the whole chain; the server's
   * `maxSessionAgeSeconds` bounds the chain. Works on every Node line (the client only offers).
   * Counted in `stats().resumedPskKe`. Default: false.
   */
  pskKe?: boolean;
  /**
   * SecureContexts kept for reuse: connections whose context options are equal (`ca`, `cert`,
   * `key`, `ciphers`, `minVersion`, ... every option Node's `tls.createSecureContext` reads) share
   * one context instead of building a new one each, as Node's https.Agent and undici do. Least
   * recently used dropped first. 0 turns reuse off (Node builds a context per connection).
   * See docs/client-secure-contexts.md. Default: 256. Range: 0 to 65536 contexts.
   */
  maxSecureContexts?: number;
}

/** `ClientSessionsOptions` with every default filled in. */
export type ResolvedClientSessionsOptions = Required<Omit<ClientSessionsOptions, 'shared'>> & {
  shared: ResolvedSharedOptions | undefined;
};

/** Defaults and ranges of `ClientSessionsOptions`, in one place. */
export const ClientLimits = Object.freeze({
  defaultTicketsPerUpstream: 8,
  maxTicketsPerUpstream: 64,
  defaultMaxSessions: 65536,
  maxMaxSessions: 16 * 1024 * 1024,
  defaultMaxBytes: 64 * 1024 * 1024,
  minMaxBytes: 4096,
  maxMaxBytes: 16 * 1024 * 1024 * 1024,
  maxLifetimeSeconds: 604800,
  defaultMaxSecureContexts: 256,
  maxMaxSecureContexts: 65536,
});

const KNOWN = ['ticketsPerUpstream', 'maxSessions', 'maxBytes', 'maxLifetimeSeconds', 'shared', 'pskKe', 'maxSecureContexts'] as const;

/** Validates `clientSessions()` options (TypeError / RangeError naming the field); nothing is built on a throw. */
export function resolveClientSessionsOptions(value: unknown): ResolvedClientSessionsOptions {
  const o = optionGroup('options', value ?? {}, KNOWN);
  return {
    ticketsPerUpstream:
      optionalInteger('ticketsPerUpstream', o.ticketsPerUpstream, 1, ClientLimits.maxTicketsPerUpstream, 'tickets') ??
      ClientLimits.defaultTicketsPerUpstream,
    maxSessions:
      optionalInteger('maxSessions', o.maxSessions, 1, ClientLimits.maxMaxSessions, 'sessions') ?? ClientLimits.defaultMaxSessions,
    maxBytes:
      optionalInteger('maxBytes', o.maxBytes, ClientLimits.minMaxBytes, ClientLimits.maxMaxBytes, 'bytes') ?? ClientLimits.defaultMaxBytes,
    maxLifetimeSeconds:
      optionalInteger('maxLifetimeSeconds', o.maxLifetimeSeconds, 1, ClientLimits.maxLifetimeSeconds, 'seconds') ??
      ClientLimits.maxLifetimeSeconds,
    shared: resolveShared(o.shared),
    pskKe: optionalBoolean('pskKe', o.pskKe) ?? false,
    maxSecureContexts:
      optionalInteger('maxSecureContexts', o.maxSecureContexts, 0, ClientLimits.maxMaxSecureContexts, 'contexts') ??
      ClientLimits.defaultMaxSecureContexts,
  };
}
