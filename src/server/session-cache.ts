/**
 * The handle `attach()` returns: a live attachment to one server or secure context, its events,
 * options, stats and lifecycle.
 */
import * as crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import type * as tls from 'node:tls';

import { type EventName, hasListeners, publish } from '../common/events';
import { FLEET_ENTRY_PURPOSES, type RingDocumentRefusal } from '../common/fleet-entry';
import { type NativeAttachment, type NativeResumptionSample, type NativeResumptionStats, native } from '../common/native';
import { sealedBox } from '../common/sealed-box';
import { chooseSessionIdContext, fleetSessionIdContext, SessionIdContextControl } from '../common/session-id-context';
import { type ResolvedSharedOptions, SharedHook, sameShared } from '../common/shared-store';
import { externalOf, type NodeSecureContext, serverContext } from '../common/target';
import { argTypeError, ErrorCodes, invalidState, typeError, withCode } from '../common/validate';
import type { ResolvedFleet } from './fleet/options';
import { FleetReplication } from './fleet/replication';
import { FleetSessionStore } from './fleet/session-store';
import { type AttachOptions, defaultOptions, mergeOptions, type OptionRequest, parseAttachOptions, type ResolvedOptions } from './options';
import { type SessionCacheStats, type SettingsStats, toResumption, toStats, ZERO_COUNTERS } from './stats';
import type { TicketKeyRing } from './ticket-key-ring';
import type { KeyRemovedReason, RingModeName } from './ticket-key-ring/mode';
import { hangRingOnSniContexts } from './ticket-ring-sni';

/** Options for `flush()`. */
export interface FlushOptions {
  /** Drop every session, not only the expired ones. Default: false. */
  all?: boolean;
}

/** How often sampled resumption failures are drained and published, milliseconds. */
const SAMPLE_DRAIN_MS = 1000;

/**
 * The message of each event a SessionCache emits (and publishes on the channel of the same key in
 * `Channels`): `cache.on('ticketRotate', (m) => m.keyId)` is typed, and a misspelled event name
 * does not compile.
 */
export interface SessionCacheEvents {
  /** `attach()` made the handle. */
  attach: { cache: SessionCache; options: ResolvedOptions };
  /** `detach()`: Node's settings are back. */
  detach: { cache: SessionCache };
  /** `configure()` changed settings: the options now in force. */
  configure: { cache: SessionCache; options: ResolvedOptions };
  /** `flush()` dropped `removed` sessions. */
  flush: { cache: SessionCache; all: boolean; removed: number };
  /** The ring's new encrypting key (its public name; key bytes never). */
  ticketRotate: { cache: SessionCache; keyId: string; mode: RingModeName };
  /** A key left the ring. */
  keyRemoved: { cache: SessionCache; keyId: string; reason: KeyRemovedReason; mode: RingModeName };
  /** A fleet (Redis) operation failed or timed out; the handshake went on as a full one. */
  fleetError: { cache: SessionCache; error: Error & { code?: string } };
  /** The shared store file was truncated under this process and was mapped again (or could not be: `error`). */
  sharedStoreReopened: { cache: SessionCache; path: string; reopened: boolean; error?: string };
  /** A `fromRedis` ring refused the document in Redis and kept its keys. */
  ringDocumentRefused: { cache: SessionCache; reason: RingDocumentRefusal; mode: RingModeName };
  /** A sampled offered session that did not resume (at most one per reason per second). */
  resumptionFailed: { cache: SessionCache } & NativeResumptionSample;
}

// Every channel of the server side has a message type here, and nothing else does
// (`clientRefused` is the client cache's: ClientSessionCache emits it).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const EVENTS_MATCH_CHANNELS: Same<keyof SessionCacheEvents, Exclude<EventName, 'clientRefused'>> = true;
void EVENTS_MATCH_CHANNELS;

/** The listener of event `E`. */
export type SessionCacheListener<E extends keyof SessionCacheEvents> = (message: SessionCacheEvents[E]) => void;

// Typed overloads over EventEmitter's: only the events above, each with its message type.
export interface SessionCache {
  on<E extends keyof SessionCacheEvents>(event: E, listener: SessionCacheListener<E>): this;
  once<E extends keyof SessionCacheEvents>(event: E, listener: SessionCacheListener<E>): this;
  off<E extends keyof SessionCacheEvents>(event: E, listener: SessionCacheListener<E>): this;
  addListener<E extends keyof SessionCacheEvents>(event: E, listener: SessionCacheListener<E>): this;
  removeListener<E extends keyof SessionCacheEvents>(event: E, listener: SessionCacheListener<E>): this;
  prependListener<E extends keyof SessionCacheEvents>(event: E, listener: SessionCacheListener<E>): this;
  prependOnceListener<E extends keyof SessionCacheEvents>(event: E, listener: SessionCacheListener<E>): this;
}

/** @internal One handle per target (server and context): `attach()` finds an existing one here. */
export const handles = new WeakMap<object, SessionCache>();

/**
 * A live attachment to one server or secure context. An EventEmitter: emits the events listed
 * in `Channels` (events.ts) under the same keys ('attach', 'detach', 'configure', 'flush', ...).
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface above adds method signatures only, all implemented by EventEmitter
export class SessionCache extends EventEmitter {
  #server: tls.Server | undefined;
  #context: NodeSecureContext;
  #native: NativeAttachment | undefined;
  #options: ResolvedOptions;
  #restoreSetSecureContext: (() => void) | undefined;
  #fleet: FleetSessionStore | undefined;
  #replication: FleetReplication | undefined;
  /** Tags the session IDs a replicating member issues (the lookup store keeps its own). */
  #idTagKey: Buffer | undefined;
  #rehook: (() => void) | undefined;
  #ring: TicketKeyRing | null = null;
  #unhangRing: (() => void) | undefined;
  #shared: SharedHook | undefined;
  #sessionIdContext: SessionIdContextControl;
  /** The fleet session store's derived session-ID context (set before the store is installed). */
  #fleetSessionIdContext: Buffer | undefined;
  #sampleTimer: NodeJS.Timeout | undefined;
  #restoreSetTicketKeys: (() => void) | undefined;

  /** @internal `attach()` builds handles: `request` was validated there. */
  static _create(server: tls.Server | undefined, context: NodeSecureContext, request: OptionRequest): SessionCache {
    return new SessionCache(server, context, request);
  }

  private constructor(server: tls.Server | undefined, context: NodeSecureContext, request: OptionRequest) {
    super();
    this.#server = server;
    this.#context = context;
    this.#sessionIdContext = new SessionIdContextControl(server, () => this.#context.context);
    let handle: NativeAttachment | undefined;
    // Merged over the context's own defaults before anything is applied; a target that cannot
    // take a group leaves the context exactly as Node had it.
    let fleet: FleetSessionStore | FleetReplication | undefined;
    try {
      handle = native.attach(externalOf(context));
      this.#options = mergeOptions(request, defaultOptions(native.nodeDefaults(handle)));
      fleet = this.#makeFleet(server, request.fleet);
      checkRingShare(request.tickets.keyRing, request.shared);
      this.#shared = openShared(server, handle, request.shared);
    } catch (err) {
      request.fleet?.secret.fill(0);
      if (fleet instanceof FleetReplication) fleet.close();
      if (handle) native.detach(handle);
      throw err;
    }
    this.#native = handle;
    this.#apply(handle, this.#options);
    if (server) {
      this.#followSetSecureContext(server);
      this.#followSetTicketKeys(server);
    }
    this.#sampleTimer = setInterval(() => this.#drainSamples(), SAMPLE_DRAIN_MS);
    this.#sampleTimer.unref();
    if (fleet instanceof FleetSessionStore && server) {
      this.#fleet = fleet;
      fleet.on('error', (err: Error) => this.#onFleetError(err));
      fleet.install(server);
      fleet.tagSessionIds(handle);
    } else if (fleet instanceof FleetReplication && server) {
      this.#replication = fleet;
      fleet.on('error', (err: Error) => this.#onFleetError(err));
      this.#startReplicating(handle);
      // Node resets the session callbacks on every connection; the capture rides on them.
      this.#rehook = () => {
        if (this.#native) native.sharedRehook(this.#native);
      };
      server.on('connection', this.#rehook);
    }
  }

  #startReplicating(handle: NativeAttachment): void {
    const replication = this.#replication!;
    native.fleetCapture(handle, (id: Buffer, der: Buffer, expiresAt: number) => replication.publish(id, der, expiresAt));
    native.sessionIdTag(handle, this.#idTagKey!);
  }

  #makeFleet(server: tls.Server | undefined, f: ResolvedFleet | undefined): FleetSessionStore | FleetReplication | undefined {
    if (f === undefined) return undefined;
    if (!server) {
      throw argTypeError('"fleet" needs a server target (it uses the server\'s session events), not a bare tls.SecureContext.');
    }
    const box = sealedBox(f.secret, FLEET_ENTRY_PURPOSES.sessions);
    const sessionIdContext = fleetSessionIdContext(f.secret, `redis-sessions\0${f.prefix}`);
    const idTagKey = Buffer.from(crypto.hkdfSync('sha256', f.secret, Buffer.alloc(0), 'tls-resumption/fleet/session-id-tag', 16));
    f.secret.fill(0);
    this.#fleetSessionIdContext = sessionIdContext;
    if (f.replicate) {
      this.#idTagKey = idTagKey;
      return new FleetReplication({
        redis: f.redis,
        box,
        streamKey: `${f.prefix}stream`,
        sessionIdContext: () => this.#contextBytes(),
        maxEntries: () => this.#shared?.stats().capacity ?? (this.#options.cache.size || 20480),
        timeoutSeconds: () => this.#options.cache.timeoutSeconds,
        importSession: (der) => (this.#native ? native.fleetImport(this.#native, der) : 'notStored'),
        flushLocal: () => {
          if (this.#native) this.#flushHere(true);
        },
        // OpenSSL's own cache wipes a session when it frees it (SSL_SESSION_free cleanses the master key).
        sweepExpired: () => {
          if (this.#native) this.#shared?.flush(false);
        },
      });
    }
    return new FleetSessionStore({
      redis: f.redis,
      box,
      prefix: f.prefix,
      lookupTimeoutMs: f.lookupTimeoutMs,
      timeoutSeconds: () => this.#options.cache.timeoutSeconds,
      maxLocal: Math.max(1024, this.#options.cache.size || 20480),
      maxSessions: f.maxSessions,
      sessionIdContext,
      idTagKey,
      scope: () => this.#sessionIdContext.scope(),
      contextBytes: () => this.#contextBytes(),
      onLookupFailed: (id) => {
        if (this.#native) native.resumptionStoreError(this.#native, id);
      },
    });
  }

  /** The session-ID context in force, which fleet entries are sealed under. */
  #contextBytes(): Buffer {
    return this.#sessionIdContext.bytes() ?? (this.#native && native.sessionIdContextOf(this.#native)) ?? Buffer.alloc(0);
  }

  // Fleet failures are reported, never thrown: the 'fleetError' event and channel carry them.
  #onFleetError(error: Error): void {
    publish(this, 'fleetError', { error });
  }

  /** True until `detach()`. */
  get attached(): boolean {
    return this.#native !== undefined;
  }

  /** What Node had configured on the context before attach; `detach()` puts exactly this back. */
  get nodeSettings(): SettingsStats {
    const n = native.nodeDefaults(this.#live());
    return toStats({ ...n, ...ZERO_COUNTERS }, toResumption(native.resumptionStats(this.#live()))).settings;
  }

  /** The options in force, defaults filled in. */
  get options(): ResolvedOptions {
    return {
      sessionIdContext: this.#options.sessionIdContext,
      cache: { ...this.#options.cache },
      tickets: { ...this.#options.tickets },
      maxSessionAgeSeconds: this.#options.maxSessionAgeSeconds,
    };
  }

  /** Counters and current settings. Cheap: one native call reading OpenSSL's counters. */
  stats(): SessionCacheStats {
    const handle = this.#live();
    const stats: SessionCacheStats = {
      ...toStats(native.stats(handle), toResumption(native.resumptionStats(handle))),
      sessionIdContext: this.#sessionIdContext.stats(),
    };
    if (this.#ring) stats.tickets = this.#ring.stats();
    const ringFleet = this.#ring?._fleetStats();
    if (this.#fleet || ringFleet || this.#replication) stats.fleet = { ...this.#fleet?.counters, ...ringFleet };
    if (this.#replication) {
      const r = this.#replication.stats();
      stats.fleet!.replication = { ...r, dropped: r.dropped + native.fleetCaptureDropped(handle) };
    }
    if (this.#shared) stats.shared = this.#shared.stats();
    return stats;
  }

  /**
   * Changes settings live. Fields not named keep their current values. Validated completely
   * first: on error nothing changes.
   */
  configure(options: AttachOptions): this {
    if (options && typeof options === 'object' && 'fleet' in options) {
      throw withCode(
        new TypeError('"fleet" is set at attach() and cannot be changed by configure(); detach and attach again.'),
        ErrorCodes.invalidState,
      );
    }
    const request = parseAttachOptions(options, ['cache', 'tickets', 'shared', 'maxSessionAgeSeconds', 'sessionIdContext']);
    checkSharedUnchanged(request.shared, this.#shared?.options);
    checkRingShare(request.tickets.keyRing, this.#shared?.options);
    const next = mergeOptions(request, this.#options);
    this.#apply(this.#live(), next);
    this.#options = next;
    publish(this, 'configure', { options: this.options });
    return this;
  }

  /**
   * Resolves once a replicating fleet member (`fleet.replicate`) has read the fleet's stream to
   * its end: every live session of the fleet is in its store. Await it before `listen()` so a
   * member that joins or restarts resumes the fleet's clients from its first connection. Never
   * rejects (while Redis is unreachable it waits; race it with a timer to start anyway);
   * resolves at once when not replicating or after `detach()`.
   */
  replicated(): Promise<void> {
    return this.#replication?.caughtUp() ?? Promise.resolve();
  }

  /** Drops expired sessions (or every session with `{ all: true }`); returns how many went from this process's cache (a shared store is emptied too by `{ all: true }`, outside the count). A replicating member's `flush({ all: true })` empties every member's store. */
  flush(options: FlushOptions = {}): number {
    const all = options.all ?? false;
    if (typeof all !== 'boolean') throw typeError('all', 'a boolean', all);
    const removed = this.#flushHere(all);
    if (all) this.#replication?.publishFlush();
    publish(this, 'flush', { all, removed });
    return removed;
  }

  #flushHere(all: boolean): number {
    let removed: number;
    if (this.#shared) {
      // Our own flush must not delete from the shared store what other workers still use;
      // flush({ all: true }) then empties the store on purpose.
      removed = native.flushLocal(this.#live(), all);
      this.#shared.flush(all);
    } else {
      removed = native.flush(this.#live(), all);
    }
    if (all) this.#fleet?.forgetLocal();
    return removed;
  }

  /** Restores exactly what Node had set (mode, size, timeout, ticket options, callbacks). Idempotent. */
  detach(): void {
    const handle = this.#native;
    if (!handle) return;
    this.#native = undefined;
    clearInterval(this.#sampleTimer);
    this.#sampleTimer = undefined;
    this.#restoreSetSecureContext?.();
    this.#restoreSetTicketKeys?.();
    this.#fleet?.uninstall();
    this.#fleet = undefined;
    this.#replication?.close();
    this.#replication = undefined;
    if (this.#rehook) this.#server?.off('connection', this.#rehook);
    this.#rehook = undefined;
    this.#idTagKey?.fill(0);
    this.#unhangRing?.();
    this.#unhangRing = undefined;
    this.#ring?._release(this);
    this.#ring = null;
    this.#shared?.detach();
    this.#shared = undefined;
    this.#sessionIdContext.detach();
    native.detach(handle);
    if (this.#server) handles.delete(this.#server);
    handles.delete(this.#context.context);
    publish(this, 'detach');
  }

  #live(): NativeAttachment {
    if (!this.#native) throw invalidState('This session cache was detached.');
    return this.#native;
  }

  #apply(handle: NativeAttachment, o: ResolvedOptions): void {
    native.applyCache(handle, o.cache.enabled, o.cache.mode, o.cache.size, o.cache.timeoutSeconds);
    native.applyTickets(handle, o.tickets.enabled, o.tickets.tls13Count, o.tickets.pskKe, o.tickets.tls13CountOnResumption);
    this.#applyRing(handle, o.tickets.keyRing);
    native.resumptionApply(handle, o.maxSessionAgeSeconds, this.#nodeTicketKeyName());
    this.#sessionIdContext.apply(
      handle,
      chooseSessionIdContext({
        option: o.sessionIdContext,
        server: this.#server,
        ring: o.tickets.keyRing?._sessionIdContext(),
        fleet: this.#fleetSessionIdContext,
        sharedPath: this.#shared?.options.path,
      }),
    );
  }

  /** @internal Benchmark only: removes the resumption counting callbacks (until the next configure). */
  _benchStopCounting(): void {
    native._resumptionCountingOff(this.#live());
  }

  /** @internal The per-protocol, per-reason counts and the session-age histogram (metrics.ts). */
  _resumptionDetail(): NativeResumptionStats {
    return native.resumptionStats(this.#live());
  }

  // The public name (first 16 bytes) of Node's own ticket key: tells a ticket under an unknown
  // key from a forged one when no ring is attached. The key's secret halves stay in Node.
  #nodeTicketKeyName(): Buffer | null {
    const ctx = this.#context.context as { getTicketKeys?: () => Buffer };
    try {
      const keys = ctx.getTicketKeys?.();
      if (!keys || keys.length < 16) return null;
      const name = Buffer.from(keys.subarray(0, 16));
      keys.fill(0);
      return name;
    } catch {
      return null;
    }
  }

  #followSetTicketKeys(server: tls.Server): void {
    const original = server.setTicketKeys;
    const self = this;
    const wrapped = function (this: tls.Server, keys: Buffer) {
      original.call(this, keys);
      if (self.#native) native.resumptionApply(self.#native, self.#options.maxSessionAgeSeconds, self.#nodeTicketKeyName());
    };
    server.setTicketKeys = wrapped;
    this.#restoreSetTicketKeys = () => {
      if (server.setTicketKeys === wrapped) server.setTicketKeys = original;
    };
  }

  // Sampled failures (at most one per reason per second natively) become 'resumptionFailed'.
  #drainSamples(): void {
    if (!this.#native) return;
    this.#reopenSharedIfLost();
    const samples = native.resumptionSamples(this.#native);
    if (samples.length === 0 || !hasListeners(this, 'resumptionFailed')) return;
    for (const s of samples) publish(this, 'resumptionFailed', { ...s });
  }

  // A truncated store file answered misses from zero pages since the fault (shared_store_fault.h):
  // checked once a second here, never on the handshake path.
  #reopenSharedIfLost(): void {
    const outcome = this.#shared?.reopenIfLost();
    if (outcome) publish(this, 'sharedStoreReopened', { path: this.#shared!.options.path, ...outcome });
  }

  // The ring's evp callback on this context; SNI contexts carry the same ring (ticket-ring-sni);
  // the ring's rotation timer runs while some attached context uses it.
  #applyRing(handle: NativeAttachment, ring: TicketKeyRing | null): void {
    // Only touch the evp callback when a ring is or was involved: without one it is Node's.
    if (ring || this.#ring) native.ringAttach(handle, ring ? ring._native() : null);
    if (ring === this.#ring) return;
    const old = this.#ring;
    this.#unhangRing?.();
    this.#unhangRing = undefined;
    this.#ring = ring;
    if (ring) {
      ring._use(this);
      if (this.#shared) ring._share(this, handle, this.#shared.options.path);
      if (this.#server) this.#unhangRing = hangRingOnSniContexts(this.#server, ring, () => this.#context.context);
    }
    old?._release(this);
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
    const handle = native.attach(externalOf(context));
    this.#apply(handle, this.#options);
    this.#shared?.moveTo(handle);
    this.#fleet?.tagSessionIds(handle);
    if (this.#replication) this.#startReplicating(handle);
    native.detach(old);
    handles.delete(this.#context.context);
    this.#context = context;
    this.#native = handle;
    handles.set(context.context, this);
  }
}

function openShared(
  server: tls.Server | undefined,
  handle: NativeAttachment,
  shared: ResolvedSharedOptions | undefined,
): SharedHook | undefined {
  if (!shared) return undefined;
  if (!server) {
    throw argTypeError(
      '"shared" needs a tls.Server, https.Server or http2 secure server target: Node resets the session callbacks on every connection and only a server lets the store re-install them.',
    );
  }
  return new SharedHook(server, handle, shared);
}

// A generated ring attached with a shared store takes its keys from the store: refused before
// anything is applied when it cannot (keepKeys past the store's key table, another store).
function checkRingShare(ring: TicketKeyRing | null | undefined, shared: ResolvedSharedOptions | undefined): void {
  if (!ring || !shared) return;
  ring._checkShare(
    shared.path,
    shared.name !== undefined ? `shared.name ${JSON.stringify(shared.name)}` : `shared.path ${JSON.stringify(shared.path)}`,
  );
}

function checkSharedUnchanged(asked: ResolvedSharedOptions | undefined, current: ResolvedSharedOptions | undefined): void {
  if (asked === undefined) return;
  if (!sameShared(asked, current)) {
    throw invalidState('"shared" cannot be changed on a live attachment: detach() and attach() again.');
  }
}
