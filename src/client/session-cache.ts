/**
 * The outbound session cache: sessions Node's TLS clients receive are filed per upstream and
 * offered to the next connection to the same upstream, each TLS 1.3 ticket once. Plugs into
 * `https.Agent`, undici (`fetch`), `tls.connect` and `http2.connect`; every route ends in `#open`
 * (take a session, pass it as tls.connect's `session`) and `#track` (watch the handshake and the
 * 'session' events). Nothing here throws into a connection: an internal failure is a full handshake.
 */
import { constants } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';

import { publish } from '../common/events';
import type { SharedStoreStats } from '../common/shared-store';
import { ErrorCodes, expectKind, optionalBoolean, optionalInteger, typeError, withCode } from '../common/validate';
import { type ClientProtocol, type ClientSession, type ClientSessionStore, MemoryStore, type StoreCounters } from './memory-store';
import { type ClientSessionsOptions, type ResolvedClientSessionsOptions, resolveClientSessionsOptions } from './options';
import { type ContextChoice, SecureContextCache, type SecureContextStats } from './secure-contexts';
import { sessionFacts, withoutPeerCertificate } from './session-facts';
import { SharedClientStore } from './shared-store';
import {
  addUpstreamStats,
  type ClientCounter,
  type ClientRefusalReason,
  type ClientUpstreamStats,
  copyUpstreamStats,
  emptyUpstreamStats,
} from './stats';
import { type UpstreamKey, upstreamKey } from './upstream-key';

/** Upstreams whose counters `stats().upstreams` keeps (least recently used dropped; the totals keep everything). */
export const MAX_UPSTREAM_STATS = 10000;

/** `stats()` of a client session cache. The top-level counters add up every upstream. */
export interface ClientSessionStats extends ClientUpstreamStats {
  /** What the store holds now, and its budgets. */
  cache: StoreCounters & {
    maxSessions: number;
    maxBytes: number;
    ticketsPerUpstream: number /** The `pskKe` option: connections offer psk_ke. */;
    pskKe: boolean;
  };
  /** With the `shared` option: the store file's counters (all processes), and `unreadable`: entries this process took out that did not decode (a full handshake each). */
  shared?: SharedStoreStats & { unreadable: number };
  /** The SecureContexts reused across connections (`maxSecureContexts`). */
  contexts: SecureContextStats;
  /** Counters per upstream, by label: `host:port`, `/servername` when it differs from host, `#<8 hex>` when a client identity or other TLS options are set. */
  upstreams: Record<string, ClientUpstreamStats>;
}

/** The connector function undici's `Agent`, `Pool` and `Client` take as their `connect` option. */
export type UndiciConnector = (
  options: {
    hostname: string;
    host?: string;
    protocol: string;
    port: string | number;
    servername?: string | null;
    localAddress?: string | null;
    httpSocket?: net.Socket;
  },
  callback: (...args: [null, net.Socket | tls.TLSSocket] | [Error, null]) => void,
) => void;

/** Options of `connector()`: undici's own connect options that matter here, and TLS options for every connection. */
export interface ConnectorOptions extends tls.ConnectionOptions {
  /** Offer h2 in ALPN (undici's `allowH2`; pass the same value to the undici Agent). Default: false. */
  allowH2?: boolean;
  /** Connect timeout in milliseconds (undici's `connect.timeout`). Default: 10000. */
  timeout?: number;
  /** TCP keep-alive on the socket (undici's default: on, 60 s initial delay). */
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

interface Offer {
  key: UpstreamKey;
  session: ClientSession | undefined;
  stats: ClientUpstreamStats;
}

/** The https.Agent internals the cache replaces (lib/https.js on every supported line). */
interface AgentSessionHooks {
  createConnection: (...args: unknown[]) => net.Socket;
  _getSession: (key: string) => Buffer | undefined;
  _cacheSession: (key: string, session: Buffer) => void;
  _evictSession: (key: string) => void;
}

const INSTALLED = Symbol('tls-resumption.clientSessions');

/** The longest delay Node's timers take (2^31 - 1 ms). */
const MAX_TIMER_MS = 0x7fffffff;

function serverNameOf(host: string | undefined): string | undefined {
  if (!host) return undefined;
  let name = host;
  if (name.startsWith('[')) name = name.slice(1, name.indexOf(']'));
  else if (name.lastIndexOf(':') > 0 && name.indexOf(':') === name.lastIndexOf(':')) name = name.slice(0, name.indexOf(':'));
  return net.isIP(name) ? undefined : name;
}

/**
 * A client session cache. Create one with `clientSessions(options)` and plug it in:
 * `sessions.agent()` / `sessions.install(agent)` (https), `sessions.connector()` (undici, fetch),
 * `sessions.connect()` (tls.connect), `sessions.http2Connect()` (http2.connect).
 */
export class ClientSessionCache extends EventEmitter {
  /** The options in force, defaults filled in. */
  readonly options: ResolvedClientSessionsOptions;
  readonly #store: ClientSessionStore;
  readonly #shared: SharedClientStore | undefined;
  readonly #totals = emptyUpstreamStats();
  /** Map order is recency, for the bound on per-upstream counters. */
  readonly #upstreams = new Map<string, ClientUpstreamStats>();
  /** Upstreams (by their counters) whose handshakes reported an (EC)DH ephemeral key to `getEphemeralKeyInfo()`. */
  readonly #groupVisible = new WeakSet<ClientUpstreamStats>();
  readonly #contexts: SecureContextCache;
  #closed = false;

  /** @internal use `clientSessions()`. */
  constructor(options: ClientSessionsOptions | undefined) {
    super();
    this.options = resolveClientSessionsOptions(options);
    this.#shared = this.options.shared ? new SharedClientStore(this.options.shared, this.options.ticketsPerUpstream) : undefined;
    this.#store = this.#shared ?? new MemoryStore(this.options);
    this.#contexts = new SecureContextCache(this.options.maxSecureContexts);
  }

  #statsFor(label: string): ClientUpstreamStats {
    let s = this.#upstreams.get(label);
    if (s) {
      this.#upstreams.delete(label);
    } else {
      s = emptyUpstreamStats();
      if (this.#upstreams.size >= MAX_UPSTREAM_STATS) this.#upstreams.delete(this.#upstreams.keys().next().value as string);
    }
    this.#upstreams.set(label, s);
    return s;
  }

  /** Takes the session to offer to the upstream `options` reach; counts the connection. */
  #prepare(options: tls.ConnectionOptions): Offer {
    const key = upstreamKey(options);
    const stats = this.#statsFor(key.label);
    let session: ClientSession | undefined;
    if (!this.#closed && options.session === undefined) {
      try {
        session = this.#store.take(key.id, key.digest, Date.now());
      } catch {
        session = undefined;
      }
    }
    return { key, session, stats };
  }

  #count(offer: Offer, field: ClientCounter): void {
    offer.stats[field]++;
    this.#totals[field]++;
  }

  /**
   * Files a session Node handed out; returns false when it cannot be resumed. `authorized`: the
   * connection that received it verified the server (`socket.authorized`).
   */
  #file(offer: Offer, data: Buffer, authorized: boolean): boolean {
    const info = sessionFacts(data);
    if (!info || info.protocol === 'other') return false;
    const protocol = info.protocol as ClientProtocol;
    // TLS 1.3: the hint is the ticket's lifetime and 0 means "do not use". TLS 1.2: 0 means
    // unspecified, and the session's timeout bounds it.
    let seconds = info.lifetimeHintSeconds > 0 ? info.lifetimeHintSeconds : protocol === 'TLSv1.3' ? 0 : info.timeoutSeconds;
    seconds = Math.min(seconds, this.options.maxLifetimeSeconds);
    if (seconds <= 0 || (!info.hasTicket && info.sessionIdLength === 0)) return false;
    // The certificate is most of what Node's setSession decodes on each offer, and a resumed TLS
    // 1.3 connection does not use it (session-facts.ts): Node calls the connection authorized
    // because it resumed. Only a verified session may lose it: with it, the connection resumed
    // from an unverified one (rejectUnauthorized: false) reports the verdict the first one had,
    // as stock Node does.
    if (protocol === 'TLSv1.3' && authorized) data = withoutPeerCertificate(data);
    this.#store.put(offer.key.id, offer.key.digest, { data, protocol, expiresAtMs: Date.now() + seconds * 1000 });
    return true;
  }

  #onSession(offer: Offer, data: Buffer, authorized: boolean): void {
    if (this.#closed) return;
    try {
      this.#count(offer, this.#file(offer, data, authorized) ? 'received' : 'unusable');
    } catch {
      this.#count(offer, 'unusable');
    }
  }

  #refused(offer: Offer, session: ClientSession, reason: ClientRefusalReason, protocol: string | null): void {
    offer.stats.refused[reason]++;
    this.#totals.refused[reason]++;
    if (session.protocol === 'TLSv1.2') this.#store.evict(offer.key.id, offer.key.digest, session);
    publish(this, 'clientRefused', { upstream: offer.key.label, reason, protocol: session.protocol, negotiated: protocol });
  }

  /** Watches one connection: its outcome, and every session the server gives it. */
  #track(socket: tls.TLSSocket, offer: Offer): void {
    this.#count(offer, 'connections');
    this.#count(offer, offer.session ? 'offered' : 'full');
    let done = false;
    // Sessions that arrive before the handshake is verified ('secureConnect': Node's own checks
    // and checkServerIdentity passed, or rejectUnauthorized: false) wait for it; a connection
    // that fails its checks files none.
    let early: Buffer[] | undefined = [];
    socket.on('session', (data: Buffer) => {
      if (early) early.push(data);
      else this.#onSession(offer, data, socket.authorized);
    });
    socket.once('secureConnect', () => {
      done = true;
      const waiting = early ?? [];
      early = undefined;
      for (const data of waiting) this.#onSession(offer, data, socket.authorized);
      // An (EC)DH ephemeral key shows a key exchange. Without one, a resumption was psk_ke, or
      // used a group Node does not report as a key: hybrid X25519MLKEM768 (Node 22: {}, Node 24
      // and 26: a 'TLSGroup', which they also report for psk_ke, naming the session's group). So
      // psk_ke is counted only for upstreams whose handshakes have shown an (EC)DH key here.
      let keyExchange = false;
      try {
        const type = (socket.getEphemeralKeyInfo() as { type?: string } | null)?.type;
        keyExchange = type === 'ECDH' || type === 'DH';
        if (keyExchange) this.#groupVisible.add(offer.stats);
      } catch {
        // Counting must never disturb the connection.
      }
      const session = offer.session;
      if (!session) return;
      try {
        if (socket.isSessionReused()) {
          this.#count(offer, 'resumed');
          if (session.protocol === 'TLSv1.3' && !keyExchange && this.#groupVisible.has(offer.stats)) this.#count(offer, 'resumedPskKe');
          // A resumed TLS 1.2 handshake fires no 'session' event, even when the server renewed
          // the ticket: file what the connection holds now if it changed.
          if (session.protocol === 'TLSv1.2' && !this.#closed) {
            const now = socket.getSession();
            if (now && !now.equals(session.data)) this.#file(offer, now, socket.authorized);
          }
        } else {
          const protocol = socket.getProtocol();
          this.#refused(offer, session, protocol === session.protocol ? 'declined' : 'protocolChanged', protocol);
        }
      } catch {
        // Counting must never disturb the connection.
      }
    });
    socket.once('close', () => {
      if (done) return;
      this.#count(offer, 'failed');
      if (offer.session?.protocol === 'TLSv1.2') this.#store.evict(offer.key.id, offer.key.digest, offer.session);
    });
  }

  /**
   * `tls.connect(options, listener)` with a cached session for the upstream (unless `options.session`
   * is given), filing the sessions the connection receives. Works with `options.socket` (STARTTLS).
   */
  connect(options: tls.ConnectionOptions, secureConnectListener?: () => void): tls.TLSSocket {
    expectKind('options', options, 'object');
    if (secureConnectListener !== undefined) expectKind('secureConnectListener', secureConnectListener, 'function');
    if (this.options.pskKe) options = { ...options, secureOptions: this.#withPskKe(options.secureOptions) };
    const offer = this.#prepare(options);
    const { context } = this.#contexts.contextFor(options);
    let socket: tls.TLSSocket;
    try {
      socket = tls.connect(
        offer.session || context
          ? { ...options, ...(offer.session ? { session: offer.session.data } : {}), ...(context ? { secureContext: context } : {}) }
          : options,
        secureConnectListener,
      );
    } catch (err) {
      this.#putBack(offer);
      throw err;
    }
    this.#track(socket, offer);
    return socket;
  }

  /** `secureOptions` with SSL_OP_ALLOW_NO_DHE_KEX: the client offers psk_ke besides psk_dhe_ke. */
  #withPskKe(secureOptions: number | undefined): number {
    return (secureOptions ?? 0) | constants.SSL_OP_ALLOW_NO_DHE_KEX;
  }

  /** A ticket taken for a connection that never started goes back. */
  #putBack(offer: Offer): void {
    if (offer.session?.protocol === 'TLSv1.3') this.#store.put(offer.key.id, offer.key.digest, offer.session);
  }

  /**
   * Installs the cache into an existing `https.Agent` (for example `https.globalAgent`, or the agent
   * you give axios or got) in place of its own one-session-per-host cache. Returns the agent.
   */
  install<A extends https.Agent>(agent: A): A {
    if (!(agent instanceof https.Agent)) {
      throw typeError('agent', 'an instance of https.Agent', agent);
    }
    const hooks = agent as unknown as AgentSessionHooks & { [INSTALLED]?: ClientSessionCache };
    if (hooks[INSTALLED] === this) return agent;
    if (hooks[INSTALLED]) {
      throw withCode(new Error('This https.Agent already has another client session cache installed.'), ErrorCodes.agentInUse);
    }
    const cache = this;
    const createConnection = hooks.createConnection;
    let pending: { offer: Offer; used: boolean } | undefined;
    hooks.createConnection = function (this: https.Agent, ...args: unknown[]): net.Socket {
      const options = (typeof args[0] === 'object' && args[0] !== null ? args[0] : (args[2] ?? args[1] ?? {})) as tls.ConnectionOptions;
      // The agent builds this object for this one connection: the option goes in before the key is made.
      if (cache.options.pskKe) options.secureOptions = cache.#withPskKe(options.secureOptions);
      const own = { offer: cache.#prepare(options), used: false };
      // After the key: a context of the cache's own is not part of what the session is filed under.
      const choice: ContextChoice = cache.#contexts.contextFor(options);
      if (choice.context) options.secureContext = choice.context;
      pending = own;
      let socket: net.Socket;
      try {
        socket = createConnection.apply(this, args);
      } catch (err) {
        cache.#putBack(own.offer);
        throw err;
      } finally {
        pending = undefined;
      }
      // Node did not ask for a session (Node 26: a per-request identity check): nothing was offered.
      if (!own.used && own.offer.session) {
        cache.#putBack(own.offer);
        own.offer.session = undefined;
      }
      if (socket instanceof tls.TLSSocket) cache.#track(socket, own.offer);
      return socket;
    };
    hooks._getSession = () => {
      if (!pending) return undefined;
      pending.used = true;
      return pending.offer.session?.data;
    };
    // Filing and eviction happen in #track, per connection, with the offered session in hand.
    hooks._cacheSession = () => undefined;
    hooks._evictSession = () => undefined;
    hooks[INSTALLED] = this;
    return agent;
  }

  /** A new `https.Agent` (Node's options) drawing on this cache: `https.get(url, { agent: sessions.agent() })`. */
  agent(options?: https.AgentOptions): https.Agent {
    if (options !== undefined) expectKind('options', options, 'object');
    return this.install(new https.Agent(options));
  }

  /**
   * A connector for undici's `Agent`/`Pool`/`Client` (`connect` option), so `fetch` resumes:
   * `fetch(url, { dispatcher: new undici.Agent({ connect: sessions.connector() }) })`. TLS options
   * given here apply to every connection (`ca`, `cert`, `key`, ...). Mirrors undici's own connector
   * (lib/core/connect.js): ALPN, servername from the Host, connect timeout, keep-alive, no delay.
   */
  connector(options: ConnectorOptions = {}): UndiciConnector {
    expectKind('options', options, 'object');
    optionalBoolean('allowH2', options.allowH2);
    optionalInteger('timeout', options.timeout, 0, MAX_TIMER_MS, 'milliseconds');
    optionalBoolean('keepAlive', options.keepAlive);
    optionalInteger('keepAliveInitialDelay', options.keepAliveInitialDelay, 0, MAX_TIMER_MS, 'milliseconds');
    const { allowH2 = false, timeout = 10000, keepAlive, keepAliveInitialDelay, ...tlsOptions } = options;
    return ({ hostname, host, protocol, port, servername, localAddress, httpSocket }, callback) => {
      let socket: net.Socket;
      let settled = false;
      const settle = (err: Error | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) callback(err, null);
        else callback(null, socket);
      };
      if (protocol === 'https:') {
        socket = this.connect({
          highWaterMark: 16384,
          ...tlsOptions,
          servername: servername || tlsOptions.servername || serverNameOf(host) || undefined,
          localAddress: localAddress ?? undefined,
          ALPNProtocols: allowH2 ? ['http/1.1', 'h2'] : ['http/1.1'],
          socket: httpSocket,
          port: Number(port) || 443,
          host: hostname,
        } as tls.ConnectionOptions);
      } else {
        socket = net.connect({
          highWaterMark: 65536,
          localAddress: localAddress ?? undefined,
          port: Number(port) || 80,
          host: hostname,
        } as net.NetConnectOpts);
      }
      if (keepAlive !== false) socket.setKeepAlive(true, keepAliveInitialDelay ?? 60000);
      const timer =
        timeout > 0
          ? setTimeout(() => {
              const err = Object.assign(
                new Error(`Connect Timeout Error (attempted address: ${hostname}:${port}, timeout: ${timeout}ms)`),
                {
                  code: 'UND_ERR_CONNECT_TIMEOUT',
                },
              );
              socket.destroy(err);
              settle(err);
            }, timeout)
          : undefined;
      socket
        .setNoDelay(true)
        .once(protocol === 'https:' ? 'secureConnect' : 'connect', () => settle(null))
        .on('error', (err) => settle(err));
    };
  }

  /** `http2.connect(authority, options, listener)` whose TLS connection draws on this cache. */
  http2Connect(
    authority: string | URL,
    options: http2.SecureClientSessionOptions = {},
    listener?: (session: http2.ClientHttp2Session, socket: net.Socket | tls.TLSSocket) => void,
  ): http2.ClientHttp2Session {
    if (typeof authority !== 'string' && !(authority instanceof URL)) throw typeError('authority', 'a string or a URL', authority);
    expectKind('options', options, 'object');
    if (listener !== undefined) expectKind('listener', listener, 'function');
    return http2.connect(
      authority,
      {
        ...options,
        createConnection: (url: URL) => {
          let host = url.hostname || 'localhost';
          if (host.startsWith('[')) host = host.slice(1, -1);
          const { createConnection: _ignored, ...rest } = options;
          return this.connect({
            ...(rest as tls.ConnectionOptions),
            host,
            port: Number(url.port || 443),
            servername: options.servername ?? (net.isIP(host) ? undefined : host),
            ALPNProtocols: ['h2'],
          });
        },
      },
      listener,
    );
  }

  /** Counters in total and per upstream, and what the store holds. Secrets and session bytes never appear. */
  stats(): ClientSessionStats {
    const upstreams: Record<string, ClientUpstreamStats> = {};
    for (const [label, s] of this.#upstreams) upstreams[label] = copyUpstreamStats(s);
    const totals = emptyUpstreamStats();
    addUpstreamStats(totals, this.#totals);
    return {
      ...totals,
      cache: {
        ...this.#store.counters(),
        maxSessions: this.options.maxSessions,
        maxBytes: this.options.maxBytes,
        ticketsPerUpstream: this.options.ticketsPerUpstream,
        pskKe: this.options.pskKe,
      },
      contexts: this.#contexts.stats(),
      upstreams,
      ...(this.#shared ? { shared: this.#shared.stats() } : {}),
    };
  }

  /** Drops every cached session (counters stay); with `shared`, every process's. */
  clear(): void {
    this.#store.clear();
  }

  /**
   * Stops offering and filing sessions and drops the reused SecureContexts; connections made later are full handshakes with contexts of their own. The
   * in-process cache drops its sessions; a shared store keeps them in its file for the other
   * processes (and, at a path, for the next start) and is unmapped here.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#store.close();
    this.#contexts.close();
  }
}
