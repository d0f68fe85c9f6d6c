/**
 * `attach()` and the handle it returns. One handle per target: attaching twice reconfigures
 * the same handle, so a context never carries two sets of native state.
 */
import * as tls from 'node:tls';

import { native, NativeAttachment, NativeStats } from './native';
import { AttachOptions, ResolvedOptions, defaultOptions, resolveOptions } from './options';
import { AttachTarget, NodeSecureContext, resolveTarget, serverContext } from './target';
import { ResolvedSharedOptions, SharedHook, SharedStoreStats, resolveShared, sameShared } from './shared-store';

/** OpenSSL's SSL_CTX_sess_* counters for the attached context (names as Python's session_stats()). */
export interface CacheCounters {
  /** Sessions now in the internal cache. */
  sessions: number;
  /** Sessions resumed from the internal cache. */
  hits: number;
  /** Session IDs a client offered that were not in the cache. */
  misses: number;
  /** Sessions offered that were found but had expired. */
  timeouts: number;
  /** Sessions evicted because the cache was at `size`. */
  cacheFull: number;
  /** Sessions resumed through a get-session callback (Node's 'resumeSession', a shared store). */
  callbackHits: number;
  /** Server handshakes started. */
  accepts: number;
  /** Server handshakes completed. */
  acceptsGood: number;
  /** Server renegotiations started. */
  acceptsRenegotiate: number;
  /** Client handshakes started (client contexts only). */
  connects: number;
  /** Client handshakes completed. */
  connectsGood: number;
  /** Client renegotiations started. */
  connectsRenegotiate: number;
}

/** The settings in force on the context, read back from OpenSSL. */
export interface SettingsStats {
  cache: {
    /** Whether OpenSSL's internal server cache is in use. */
    enabled: boolean;
    /** Raw SSL_SESS_CACHE_* mode. */
    mode: number;
    /** Most sessions kept (0: no limit). */
    size: number;
    /** Session lifetime, seconds. */
    timeoutSeconds: number;
  };
  tickets: {
    enabled: boolean;
    /** Tickets after each full TLS 1.3 handshake. */
    tls13Count: number;
  };
}

/** What `stats()` returns. */
export interface SessionCacheStats extends CacheCounters {
  settings: SettingsStats;
  /** The shared store's counters (all processes using it), when `shared` is attached. */
  shared?: SharedStoreStats;
}

/** Options for `flush()`. */
export interface FlushOptions {
  /** Drop every session, not only the expired ones. Default: false. */
  all?: boolean;
}

const SESS_CACHE_SERVER = 0x2;
const SESS_CACHE_NO_INTERNAL = 0x300;

function toStats(raw: NativeStats): SessionCacheStats {
  const { mode, size, timeoutSeconds, ticketsEnabled, tls13Count, ...counters } = raw;
  const enabled = (mode & SESS_CACHE_SERVER) !== 0 && (mode & SESS_CACHE_NO_INTERNAL) !== SESS_CACHE_NO_INTERNAL;
  return {
    ...counters,
    settings: {
      cache: { enabled, mode, size, timeoutSeconds },
      tickets: { enabled: ticketsEnabled, tls13Count },
    },
  };
}

const handles = new WeakMap<object, SessionCache>();

/** A live attachment to one server or secure context. */
export class SessionCache {
  #server: tls.Server | undefined;
  #context: NodeSecureContext;
  #native: NativeAttachment | undefined;
  #options: ResolvedOptions;
  #restoreSetSecureContext: (() => void) | undefined;
  #shared: SharedHook | undefined;

  /** @internal use `attach()` */
  constructor(server: tls.Server | undefined, context: NodeSecureContext, options: unknown) {
    this.#server = server;
    this.#context = context;
    const handle = native.attach(context.context._external);
    // Validate against the context's own defaults before anything is applied; a bad option
    // leaves the context exactly as Node had it.
    try {
      this.#options = resolveOptions(options, defaultOptions(native.nodeDefaults(handle)), ['shared']);
      this.#shared = openShared(server, handle, options);
    } catch (err) {
      native.detach(handle);
      throw err;
    }
    this.#native = handle;
    this.#apply(handle, this.#options);
    if (server) this.#followSetSecureContext(server);
  }

  /** True until `detach()`. */
  get attached(): boolean {
    return this.#native !== undefined;
  }

  /** The options in force, defaults filled in. */
  get options(): ResolvedOptions {
    return { cache: { ...this.#options.cache }, tickets: { ...this.#options.tickets } };
  }

  /** Counters and current settings. Cheap: one native call reading OpenSSL's counters. */
  stats(): SessionCacheStats {
    const stats = toStats(native.stats(this.#live()));
    if (this.#shared) stats.shared = this.#shared.stats();
    return stats;
  }

  /**
   * Changes settings live. Fields not named keep their current values. Validated completely
   * first: on error nothing changes.
   */
  configure(options: AttachOptions): this {
    const next = resolveOptions(options, this.#options, ['shared']);
    checkSharedUnchanged(options, this.#shared?.options);
    this.#apply(this.#live(), next);
    this.#options = next;
    return this;
  }

  /** Drops expired sessions (or every session with `{ all: true }`); returns how many went. */
  flush(options: FlushOptions = {}): number {
    const all = options.all ?? false;
    if (typeof all !== 'boolean') throw new TypeError(`Option "all" must be a boolean, got ${typeof all}.`);
    if (!this.#shared) return native.flush(this.#live(), all);
    // Our own flush must not delete from the shared store what other workers still use;
    // flush({ all: true }) then empties the store on purpose.
    const n = native.flushLocal(this.#live(), all);
    this.#shared.flush(all);
    return n;
  }

  /** Restores exactly what Node had set (mode, size, timeout, ticket options, callbacks). Idempotent. */
  detach(): void {
    const handle = this.#native;
    if (!handle) return;
    this.#native = undefined;
    this.#restoreSetSecureContext?.();
    this.#shared?.detach();
    this.#shared = undefined;
    native.detach(handle);
    if (this.#server) handles.delete(this.#server);
    handles.delete(this.#context.context);
  }

  /** @internal */
  _reattach(options: unknown): this {
    if (options !== undefined) this.configure(options as AttachOptions);
    return this;
  }

  #live(): NativeAttachment {
    if (!this.#native) throw new Error('This session cache was detached.');
    return this.#native;
  }

  #apply(handle: NativeAttachment, o: ResolvedOptions): void {
    native.applyCache(handle, o.cache.enabled, o.cache.mode, o.cache.size, o.cache.timeoutSeconds);
    native.applyTickets(handle, o.tickets.enabled, o.tickets.tls13Count);
  }

  // setSecureContext() swaps the server's SSL_CTX; the attachment moves to the new one with the
  // same options, and the old context gets Node's settings back.
  #followSetSecureContext(server: tls.Server): void {
    const original = server.setSecureContext;
    const self = this;
    const wrapped = function (this: tls.Server, options: tls.SecureContextOptions) {
      original.call(this, options);
      self.#moveTo(serverContext(server));
    };
    server.setSecureContext = wrapped;
    this.#restoreSetSecureContext = () => {
      if (server.setSecureContext === wrapped) server.setSecureContext = original;
    };
  }

  #moveTo(context: NodeSecureContext): void {
    const old = this.#native;
    if (!old || context === this.#context) return;
    const handle = native.attach(context.context._external);
    this.#apply(handle, this.#options);
    this.#shared?.moveTo(handle);
    native.detach(old);
    handles.delete(this.#context.context);
    this.#context = context;
    this.#native = handle;
    handles.set(context.context, this);
  }
}

function openShared(server: tls.Server | undefined, handle: NativeAttachment, options: unknown): SharedHook | undefined {
  const shared = resolveShared((options as { shared?: unknown } | undefined)?.shared);
  if (!shared) return undefined;
  if (!server) {
    throw new TypeError(
      'Option "shared" needs a tls.Server, https.Server or http2 secure server target: Node resets the session callbacks on every connection and only a server lets the store re-install them.',
    );
  }
  return new SharedHook(server, handle, shared);
}

function checkSharedUnchanged(options: unknown, current: ResolvedSharedOptions | undefined): void {
  const asked = (options as { shared?: unknown } | undefined)?.shared;
  if (asked === undefined) return;
  if (!sameShared(resolveShared(asked), current)) {
    throw new Error('Option "shared" cannot be changed on a live attachment: detach() and attach() again.');
  }
}

/**
 * Attaches the session cache to a tls.Server, https.Server, http2 secure server or
 * tls.SecureContext and applies `options`. Attaching again to the same target returns the same
 * handle, reconfigured with the new options.
 * @throws TypeError for a target or option of the wrong type; RangeError for an option out of range.
 */
export function attach(target: AttachTarget, options?: AttachOptions): SessionCache {
  const { server, context } = resolveTarget(target);
  const existing = (server && handles.get(server)) ?? handles.get(context.context);
  if (existing?.attached) return existing._reattach(options);
  const handle = new SessionCache(server, context, options);
  if (server) handles.set(server, handle);
  handles.set(context.context, handle);
  return handle;
}
