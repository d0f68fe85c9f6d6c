/**
 * Ticket keys for a fleet, coordinated through Redis (`TicketKeyRing.fromRedis`).
 *
 * The ring document lives at `key`, sealed whole under a key derived from `wrappingSecret`
 * (format: fleet-entry.ts), keys newest first. Anyone who can write to Redis is outside the
 * trust boundary: a document that does not open, is out of bounds (size, key count, times) or
 * carries an older version than the one loaded is refused; the ring keeps its keys, counts it
 * (`documentsRefused`, `syncErrors`) and emits a `RingDocumentRefused` error. Reads are bounded
 * (GETRANGE), publishes coalesce into one pending sync, and timers are clamped, so a flood of
 * forged documents costs bounded work. One member at a time creates the next key: it takes the lock (`{key}:lock`,
 * hash-tagged into the document's Redis Cluster slot; `key:lock` when `key` has a tag) with
 * `SET NX PX`, re-reads the document, prepends a fresh key, trims to `keepKeys`, bumps `v`,
 * writes it and publishes `v` on `key:changed`. Every member reloads on that message and also
 * polls, so a missed message or a restarted member converges within one poll interval.
 *
 * A new key decrypts everywhere before anyone encrypts with it: it activates `activationDelay`
 * after creation (one poll interval plus a margin), so no member issues tickets that another
 * member cannot open yet. Members switch to it at the same instant (its `activateAt`).
 *
 * Fail-static: when Redis is down or returns something that does not open, the ring keeps its
 * last keys; with `rotateLocallyWhenDown` it keeps rotating on its own (keys other members cannot
 * open) and drops back to the fleet's keys when Redis returns, keeping its local keys as
 * decrypt-only until they age out. Nothing here throws into the server.
 */
import * as crypto from 'node:crypto';
import { EventEmitter } from 'node:events';

import { openRingDocument, RING_DOCUMENT_LIMITS, type RingDocument, RingDocumentRefused, sealRingDocument } from '../../common/fleet-entry';
import type { RedisAdapter } from '../../common/redis-client';
import type { SealedBox } from '../../common/sealed-box';

/** A key to hand to the native ring. `bytes` is wiped by the caller after use. */
export interface SyncedKey {
  bytes: Buffer;
  createdAt: number;
  activateAt: number;
  local: boolean;
}

/** What the sync drives: the ring's native keys. */
export interface SyncTarget {
  /** Make the ring hold exactly these keys (plus nothing else), the given one encrypting. */
  replaceKeys(keys: SyncedKey[], encryptingIndex: number): void;
}

export interface RedisRingSyncSettings {
  redis: RedisAdapter;
  box: SealedBox;
  key: string;
  rotateEverySeconds: number;
  keepKeys: number;
  pollIntervalSeconds: number;
  rotateLocallyWhenDown: boolean;
  now: () => number;
}

/** `stats().fleet` figures of the ring sync. */
export interface FleetRingStats {
  /** Version of the ring document last loaded (0 before the first load). */
  ringVersion: number;
  /** Seconds since the ring last loaded from Redis successfully (-1: never). */
  lastSyncAgeSeconds: number;
  /** Keys this member created for the fleet. */
  rotations: number;
  /** Keys created locally while Redis was unreachable. */
  localRotations: number;
  /** Failed Redis calls and documents that did not open. */
  syncErrors: number;
  /** Ring documents refused (forged, out of bounds, older than the one loaded): the ring kept its keys. */
  documentsRefused: number;
}

const LOCK_TTL_MS = 10_000;
/** Timer bounds: never a busy re-arm, never past setTimeout's 32-bit range. */
const MIN_TIMER_MS = 10;
const MAX_TIMER_MS = 0x7fffffff;

/**
 * The lock beside the ring document, in the document's Redis Cluster slot: a key whose hash tag
 * is the whole document key hashes like the document itself.
 */
export function lockKeyOf(key: string): string {
  return /\{[^}]+\}/.test(key) ? `${key}:lock` : `{${key}}:lock`;
}

export class RedisRingSync extends EventEmitter {
  readonly #s: RedisRingSyncSettings;
  readonly #target: SyncTarget;
  readonly #member = crypto.randomBytes(8).toString('hex');
  #version = 0;
  #lastSync = -1;
  #fleetKeys: SyncedKey[] = [];
  #localKeys: SyncedKey[] = [];
  #counters = { rotations: 0, localRotations: 0, syncErrors: 0, documentsRefused: 0 };
  #pollTimer: NodeJS.Timeout | undefined;
  #rotateTimer: NodeJS.Timeout | undefined;
  #closeSubscription: (() => void) | undefined;
  #stopped = true;
  #busy: Promise<void> = Promise.resolve();
  /** A sync is queued and has not started: further requests join it. */
  #syncQueued = false;

  constructor(settings: RedisRingSyncSettings, target: SyncTarget) {
    super();
    this.#s = settings;
    this.#target = target;
  }

  /** Milliseconds between a key's creation and its first use for encryption. */
  get activationDelayMs(): number {
    return Math.min(this.#s.pollIntervalSeconds * 1000 + 1000, (this.#s.rotateEverySeconds * 1000) / 2);
  }

  stats(): FleetRingStats {
    return {
      ringVersion: this.#version,
      lastSyncAgeSeconds: this.#lastSync < 0 ? -1 : Math.round((this.#s.now() - this.#lastSync) / 100) / 10,
      ...this.#counters,
    };
  }

  /** Starts syncing: subscribe, load (creating the first key when the fleet has none), poll. Already running: syncs now. */
  start(): Promise<void> {
    if (!this.#stopped) return this.sync();
    this.#stopped = false;
    const poll = () => {
      this.#pollTimer = setTimeout(() => {
        void this.sync().finally(() => !this.#stopped && poll());
      }, this.#s.pollIntervalSeconds * 1000);
      this.#pollTimer.unref();
    };
    poll();
    this.#s.redis
      .subscribe(
        `${this.#s.key}:changed`,
        () => void this.sync(),
        (err) => this.#fail(err),
      )
      .then(
        (close) => (this.#stopped ? close() : (this.#closeSubscription = close)),
        (err) => this.#fail(err),
      );
    return this.sync();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#pollTimer);
    clearTimeout(this.#rotateTimer);
    this.#closeSubscription?.();
    this.#closeSubscription = undefined;
    for (const k of [...this.#fleetKeys, ...this.#localKeys]) k.bytes.fill(0);
    this.#fleetKeys = [];
    this.#localKeys = [];
  }

  /** Loads the ring from Redis and applies it; creates the next key when one is due. Never rejects. */
  sync(): Promise<void> {
    // A burst of publishes (or polls) while one sync waits costs that one sync.
    if (this.#syncQueued) return this.#busy;
    this.#syncQueued = true;
    this.#busy = this.#busy
      .then(() => {
        this.#syncQueued = false;
        return this.#syncOnce();
      })
      .catch((err) => this.#fail(err));
    return this.#busy;
  }

  /** Creates the next fleet key now (if this member gets the lock). Never rejects. */
  rotateNow(): Promise<void> {
    this.#busy = this.#busy.then(() => this.#rotate(true)).catch((err) => this.#fail(err));
    return this.#busy;
  }

  #fail(err: unknown): void {
    this.#counters.syncErrors++;
    if (this.listenerCount('error') > 0) this.emit('error', err instanceof Error ? err : new Error(String(err)));
  }

  /** The document in Redis (undefined: none), opened and bounded. @throws RingDocumentRefused, or Redis' error. */
  async #read(): Promise<RingDocument | undefined> {
    // GETRANGE reads at most maxChars: a huge value costs no more than a refused one.
    const raw = await this.#s.redis.command('GETRANGE', this.#s.key, 0, RING_DOCUMENT_LIMITS.maxChars - 1);
    if (raw === null || raw === undefined || raw === '') return undefined;
    return openRingDocument(this.#s.box, this.#s.key, String(raw), this.#s.now());
  }

  #refused(err: RingDocumentRefused): void {
    this.#counters.documentsRefused++;
    this.emit('refused', err.reason);
    this.#fail(err);
  }

  /** A document that may replace what is loaded: newer than it (an older or replayed one is refused). */
  #newer(doc: RingDocument): boolean {
    if (doc.v >= this.#version) return true;
    for (const k of doc.keys) k.bytes.fill(0);
    this.#refused(new RingDocumentRefused('older-version', `version ${doc.v} is older than the loaded ${this.#version}`));
    return false;
  }

  async #syncOnce(): Promise<void> {
    if (this.#stopped) return;
    let loaded: RingDocument | undefined;
    try {
      loaded = await this.#read();
    } catch (err) {
      if (err instanceof RingDocumentRefused) {
        // Redis answered: the fleet is reachable, the document is not the fleet's. Keep the keys;
        // the member whose rotation is due writes an authentic one over it.
        this.#refused(err);
        await this.#rotateIfDue();
        return;
      }
      this.#fail(err);
      this.#onRedisDown();
      return;
    }
    if (!loaded) {
      await this.#rotate(false);
      return;
    }
    if (!this.#newer(loaded)) return;
    this.#lastSync = this.#s.now();
    if (loaded.v !== this.#version) {
      this.#replaceFleetKeys(toSynced(loaded));
      this.#version = loaded.v;
    } else {
      for (const k of loaded.keys) k.bytes.fill(0);
    }
    this.#apply();
    await this.#rotateIfDue();
  }

  async #rotateIfDue(): Promise<void> {
    const newest = this.#fleetKeys[0];
    if (!newest || this.#s.now() - newest.createdAt >= this.#s.rotateEverySeconds * 1000 - this.activationDelayMs) {
      await this.#rotate(false);
    }
  }

  #replaceFleetKeys(keys: SyncedKey[]): void {
    for (const k of this.#fleetKeys) k.bytes.fill(0);
    this.#fleetKeys = keys;
  }

  // Under the lock: re-read (another member may have rotated), prepend a key, trim, publish.
  async #rotate(force: boolean): Promise<void> {
    if (this.#stopped) return;
    const lockKey = lockKeyOf(this.#s.key);
    let locked: unknown;
    try {
      locked = await this.#s.redis.command('SET', lockKey, this.#member, 'NX', 'PX', LOCK_TTL_MS);
    } catch (err) {
      this.#fail(err);
      this.#onRedisDown();
      return;
    }
    if (locked !== 'OK') {
      // Someone else rotates; their publish (or our poll) brings the key. A member that has no
      // key at all (starting beside the member creating the first one) waits for it instead.
      if (this.#fleetKeys.length === 0) await this.#awaitFirstKey();
      return;
    }
    try {
      // Under the lock: what the fleet holds now, unless Redis holds something that is not the
      // fleet's (forged, older): then this member's own keys are the fleet's state.
      let current: RingDocument | undefined;
      try {
        current = await this.#read();
      } catch (err) {
        if (!(err instanceof RingDocumentRefused)) throw err;
      }
      if (current && !this.#newer(current)) current = undefined;
      const now = this.#s.now();
      const keys = current ? toSynced(current) : this.#fleetKeys.map((k) => ({ ...k, bytes: Buffer.from(k.bytes) }));
      const newest = keys[0];
      const due = force || !newest || now - newest.createdAt >= this.#s.rotateEverySeconds * 1000 - this.activationDelayMs;
      if (!due && current) {
        this.#replaceFleetKeys(keys);
        this.#version = current.v;
        this.#lastSync = now;
        this.#apply();
        return;
      }
      const fresh: SyncedKey = {
        bytes: crypto.randomBytes(80),
        createdAt: now,
        // The very first key of a fleet encrypts at once: nobody holds another one yet.
        activateAt: newest ? now + this.activationDelayMs : now,
        local: false,
      };
      // Not due but the document was not the fleet's: write the fleet's keys back, no new key.
      const next = due ? [fresh, ...keys] : keys;
      if (!due) fresh.bytes.fill(0);
      // keepKeys keys in use, plus the one waiting to activate.
      while (next.length > this.#s.keepKeys + 1) next.pop()!.bytes.fill(0);
      const v = Math.max(current?.v ?? 0, this.#version) + 1;
      const doc = sealRingDocument(this.#s.box, this.#s.key, { v, keys: next });
      await this.#s.redis.command('SET', this.#s.key, doc);
      this.#replaceFleetKeys(next);
      this.#version = v;
      this.#lastSync = now;
      if (due) this.#counters.rotations++;
      this.#apply();
      await this.#s.redis.command('PUBLISH', `${this.#s.key}:changed`, String(v));
    } catch (err) {
      this.#fail(err);
    } finally {
      await this.#s.redis
        .command(
          'EVAL',
          "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
          1,
          lockKey,
          this.#member,
        )
        .catch(() => undefined);
    }
  }

  async #awaitFirstKey(): Promise<void> {
    for (let i = 0; i < LOCK_TTL_MS / 100 && !this.#stopped; i++) {
      await new Promise((r) => setTimeout(r, 100).unref());
      const loaded = await this.#read().catch((err) => {
        if (err instanceof RingDocumentRefused) this.#refused(err);
        else throw err;
        return undefined;
      });
      if (loaded && this.#newer(loaded)) {
        this.#replaceFleetKeys(toSynced(loaded));
        this.#version = loaded.v;
        this.#lastSync = this.#s.now();
        this.#apply();
        return;
      }
    }
  }

  // Fail-static: keep the keys we have; optionally keep rotating on our own.
  #onRedisDown(): void {
    if (!this.#s.rotateLocallyWhenDown) return;
    const now = this.#s.now();
    const newest = [...this.#localKeys, ...this.#fleetKeys].sort((a, b) => b.createdAt - a.createdAt)[0];
    if (newest && now - newest.createdAt < this.#s.rotateEverySeconds * 1000) return;
    this.#localKeys.unshift({ bytes: crypto.randomBytes(80), createdAt: now, activateAt: now, local: true });
    this.#counters.localRotations++;
    this.#apply();
  }

  #allKeys(): SyncedKey[] {
    return [...this.#fleetKeys, ...this.#localKeys];
  }

  // The newest key whose activation time has come; a local key only while Redis is away (a
  // fleet key newer than it wins as soon as Redis is back).
  #encryptingIndex(keys: SyncedKey[]): number {
    const now = this.#s.now();
    let best = -1;
    keys.forEach((k, i) => {
      if (k.activateAt > now) return;
      if (best < 0 || k.createdAt > keys[best]!.createdAt) best = i;
    });
    return best;
  }

  #apply(): void {
    const now = this.#s.now();
    const horizon = this.#s.rotateEverySeconds * 1000 * this.#s.keepKeys;
    this.#localKeys = this.#localKeys.filter((k) => (now - k.createdAt < horizon ? true : (k.bytes.fill(0), false)));
    if (this.#lastSync >= 0 && this.#localKeys.length > 0 && this.#fleetKeys.length > 0) {
      // Back in touch with the fleet: local keys decrypt only from now on.
      const newestFleet = Math.max(...this.#fleetKeys.map((k) => k.createdAt));
      for (const k of this.#localKeys) if (k.createdAt > newestFleet) k.createdAt = newestFleet - 1;
    }
    const keys = this.#allKeys();
    this.#target.replaceKeys(keys, this.#encryptingIndex(keys));
    // Switch at the next activation instant without waiting for a poll.
    clearTimeout(this.#rotateTimer);
    const pending = keys.filter((k) => k.activateAt > now).map((k) => k.activateAt);
    if (pending.length > 0 && !this.#stopped) {
      const delay = Math.min(Math.max(Math.min(...pending) - now + 5, MIN_TIMER_MS), MAX_TIMER_MS);
      this.#rotateTimer = setTimeout(() => this.#apply(), delay);
      this.#rotateTimer.unref();
    }
  }
}

function toSynced(doc: RingDocument): SyncedKey[] {
  return doc.keys.map((k) => ({ bytes: k.bytes, createdAt: k.createdAt, activateAt: k.activateAt, local: false }));
}
