/**
 * Session IDs across machines: Redis as a second level behind the in-process (and shared) cache,
 * through Node's asynchronous 'newSession' / 'resumeSession' server events.
 *
 * TLS 1.2 only, by construction: Node pauses the handshake for 'resumeSession' after its own JS
 * ClientHello parser read the legacy session_id field; a TLS 1.3 PSK identity (the stateful
 * ticket) sits in the pre_shared_key extension, which that parser never reads, and Node's
 * native get-session callback cannot wait for I/O. TLS 1.3 clients across a fleet resume through
 * a shared ticket key ring instead (`TicketKeyRing.fromRedis` / `fromSecret`).
 *
 * Only IDs a member issued are looked up: members issue session IDs that end with a tag keyed by
 * the fleet secret (native/server/session_id_tag.cc), and a ClientHello whose ID carries no valid tag
 * (every TLS 1.3 ClientHello's random legacy ID, another server's ID) is answered at once, with
 * no Redis round trip (`skipped`). A TLS 1.2 resumption through Redis costs exactly one GET.
 *
 * Entries are scoped by the server's session-ID context (fleet-entry.ts): a lookup from a server
 * of another context asks Redis for another key and misses before anything is fetched or opened.
 *
 * Fail-open: a lookup past its deadline, any Redis error, or a reply that does not open under
 * the fleet secret continues the handshake as a full one. Nothing here throws into the server.
 */
import * as crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import type * as tls from 'node:tls';
import { type EntryScope, openSessionEntry, sealSessionEntry, sessionEntryKey } from '../../common/fleet-entry';
import { type NativeAttachment, native } from '../../common/native';
import type { RedisAdapter } from '../../common/redis-client';
import type { SealedBox } from '../../common/sealed-box';

/** `stats().fleet` counters for the session store. */
export interface FleetSessionStats {
  /** Lookups sent to Redis (ClientHellos with a fleet-issued session ID not created in this process). */
  lookups: number;
  /** ClientHellos whose session ID no fleet member issued (TLS 1.3 legacy IDs, other servers'): no Redis round trip. */
  skipped: number;
  /** Lookups that returned a session. */
  hits: number;
  /** Lookups that found nothing. */
  misses: number;
  /** Lookups abandoned at the deadline. */
  timeouts: number;
  /** Redis errors and replies that did not open (garbage, forged, another secret). */
  errors: number;
  /** Sessions written. */
  stores: number;
  /** Sessions not written because this member's `fleet.maxSessions` entries were all still live (a flood of full handshakes): they resume on this member only. */
  writesDropped: number;
}

/** How long after attach() Redis has to answer a PING before the fleet reports it unreachable, milliseconds. */
export const STARTUP_PING_MS = 1000;

/** A lookup abandoned at its deadline, as 'fleetError' reports it. */
function lookupTimeoutError(ms: number): Error {
  return Object.assign(
    new Error(`fleet: a session lookup in Redis took longer than fleet.lookupTimeoutMs (${ms} ms); the handshake went on as a full one`),
    {
      code: 'ERR_TLS_RESUMPTION_FLEET_TIMEOUT',
    },
  );
}

const ID_BYTES = 32;
const TAG_OFFSET = 24;

type ResumeCallback = (err: Error | null, session?: Buffer | null) => void;

export interface SessionStoreSettings {
  redis: RedisAdapter;
  box: SealedBox;
  prefix: string;
  lookupTimeoutMs: number;
  /** Session lifetime in seconds, read at write time (it follows configure()). */
  timeoutSeconds: () => number;
  /** Upper bound on locally-known IDs remembered (the cache size). */
  maxLocal: number;
  /** Live entries this member may hold in Redis at once (`fleet.maxSessions`). */
  maxSessions: number;
  /** Told the session ID of each lookup that failed or timed out (stats().resumption.failed.storeError). */
  onLookupFailed?: (id: Buffer) => void;
  /** The session-ID context derived from the store's secret and prefix. */
  sessionIdContext: Buffer;
  /** 16 bytes derived from the fleet secret: the key of the session-ID tag. */
  idTagKey: Buffer;
  /** The fingerprint of the session-ID context in force (fleet-entry.ts), read per operation: it follows configure(). */
  scope: () => string;
  /** The bytes of the session-ID context in force, which entries are sealed under (fleet-entry.ts). */
  contextBytes: () => Buffer;
}

export class FleetSessionStore extends EventEmitter {
  readonly counters: FleetSessionStats = {
    lookups: 0,
    skipped: 0,
    hits: 0,
    misses: 0,
    timeouts: 0,
    errors: 0,
    stores: 0,
    writesDropped: 0,
  };
  #settings: SessionStoreSettings;
  #server: tls.Server | undefined;
  // IDs this process created: OpenSSL's own cache answers those, so no Redis round trip.
  #local = new Map<string, number>();
  // Expiry times (ms) of the entries this member wrote, oldest first, in a ring: the bound on what
  // a flood of unique full handshakes can make this member put in Redis, checked without a round trip.
  readonly #written: Float64Array;
  #writtenHead = 0;
  #writtenCount = 0;

  constructor(settings: SessionStoreSettings) {
    super();
    this.#settings = settings;
    this.#written = new Float64Array(settings.maxSessions);
  }

  /** Room for one more live entry in Redis: expired writes leave the ring first. */
  #takeWriteSlot(now: number, expiresAt: number): boolean {
    const ring = this.#written;
    while (this.#writtenCount > 0 && ring[this.#writtenHead]! <= now) {
      this.#writtenHead = (this.#writtenHead + 1) % ring.length;
      this.#writtenCount--;
    }
    if (this.#writtenCount === ring.length) return false;
    ring[(this.#writtenHead + this.#writtenCount) % ring.length] = expiresAt;
    this.#writtenCount++;
    return true;
  }

  /** The session-ID context derived from the store's secret and prefix. */
  get sessionIdContext(): Buffer {
    return this.#settings.sessionIdContext;
  }

  /** Session IDs the context issues from now on carry the fleet's tag. */
  tagSessionIds(handle: NativeAttachment): void {
    native.sessionIdTag(handle, this.#settings.idTagKey);
  }

  /** Whether a fleet member issued this ID (its tag verifies). */
  #issuedByFleet(id: Buffer): boolean {
    if (id.length !== ID_BYTES) return false;
    const tag = crypto
      .createHmac('sha256', this.#settings.idTagKey)
      .update(id.subarray(0, TAG_OFFSET))
      .digest()
      .subarray(0, ID_BYTES - TAG_OFFSET);
    return crypto.timingSafeEqual(tag, id.subarray(TAG_OFFSET));
  }

  install(server: tls.Server): void {
    this.#server = server;
    server.on('newSession', this.#onNewSession);
    server.on('resumeSession', this.#onResumeSession);
    this.#pingAtStart();
  }

  // Redis down at start-up would otherwise show only as lookups failing one by one (and, with
  // ioredis's offline queue, as nothing at all until each lookup's deadline).
  #pingAtStart(): void {
    let answered = false;
    const timer = setTimeout(() => {
      if (answered) return;
      answered = true;
      this.#fail(
        Object.assign(
          new Error(
            `fleet: Redis did not answer PING within ${STARTUP_PING_MS} ms of attach(); lookups fail open (full handshakes) until it does`,
          ),
          {
            code: 'ERR_TLS_RESUMPTION_FLEET_UNREACHABLE',
          },
        ),
      );
    }, STARTUP_PING_MS);
    timer.unref();
    this.#settings.redis.command('PING').then(
      () => {
        answered = true;
        clearTimeout(timer);
      },
      (err) => {
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        this.#fail(err);
      },
    );
  }

  uninstall(): void {
    this.#server?.off('newSession', this.#onNewSession);
    this.#server?.off('resumeSession', this.#onResumeSession);
    this.#server = undefined;
    this.#local.clear();
  }

  /** Forget local IDs (after a flush of the in-process cache). */
  forgetLocal(): void {
    this.#local.clear();
  }

  #key(id: Buffer): string {
    return sessionEntryKey(this.#settings.prefix, this.#settings.scope(), id);
  }

  /** An entry at `key` is sealed under the same scope format as a stream entry; Redis's EX is its expiry. */
  #entryScope(key: string, id: Buffer): EntryScope {
    return { at: key, sessionIdContext: this.#settings.contextBytes(), kind: 's', id: id.toString('hex'), expiresAt: '' };
  }

  #fail(err: unknown): void {
    this.counters.errors++;
    this.#report(err);
  }

  #report(err: unknown): void {
    // An 'error' event with no listener would throw into the server: report only when heard.
    if (this.listenerCount('error') > 0) this.emit('error', err instanceof Error ? err : new Error(String(err)));
  }

  #onNewSession = (id: Buffer, data: Buffer, done: () => void): void => {
    // Let the handshake finish now; the write happens behind it.
    done();
    // TLS 1.3 sessions resume through a PSK that no member can look up here (see the top of
    // this file): writing them would only fill Redis.
    if (native.inspectSession(data)?.protocol === 'TLSv1.3') return;
    const s = this.#settings;
    const ttl = s.timeoutSeconds();
    const hex = id.toString('hex');
    const now = Date.now();
    if (this.#local.size >= s.maxLocal) this.#local.delete(this.#local.keys().next().value as string);
    this.#local.set(hex, now + ttl * 1000);
    if (!this.#takeWriteSlot(now, now + ttl * 1000)) {
      this.counters.writesDropped++;
      return;
    }
    const key = this.#key(id);
    s.redis.command('SET', key, sealSessionEntry(s.box, this.#entryScope(key, id), data), 'EX', ttl).then(
      () => void this.counters.stores++,
      (err) => this.#fail(err),
    );
  };

  #onResumeSession = (id: Buffer, done: ResumeCallback): void => {
    const hex = id.toString('hex');
    const localExpiry = this.#local.get(hex);
    if (localExpiry !== undefined) {
      if (localExpiry > Date.now()) return done(null, null);
      this.#local.delete(hex);
    }
    if (!this.#issuedByFleet(id)) {
      this.counters.skipped++;
      return done(null, null);
    }
    const s = this.#settings;
    const key = this.#key(id);
    let finished = false;
    const finish = (session: Buffer | null) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      done(null, session);
    };
    const timer = setTimeout(() => {
      if (finished) return;
      this.counters.timeouts++;
      s.onLookupFailed?.(id);
      finish(null);
      this.#report(lookupTimeoutError(s.lookupTimeoutMs));
    }, s.lookupTimeoutMs);
    this.counters.lookups++;
    s.redis.command('GET', key).then(
      (reply) => {
        if (finished) return;
        if (reply === null || reply === undefined) {
          this.counters.misses++;
          return finish(null);
        }
        const session = openSessionEntry(s.box, this.#entryScope(key, id), reply);
        if (!session) {
          this.#fail(new Error(`fleet: the session stored at ${key} did not open under the fleet secret`));
          return finish(null);
        }
        this.counters.hits++;
        // Node decodes the session inside done() (setSession): the plaintext copy goes right after.
        finish(session);
        session.fill(0);
      },
      (err) => {
        if (finished) return;
        this.#fail(err);
        s.onLookupFailed?.(id);
        finish(null);
      },
    );
  };
}
