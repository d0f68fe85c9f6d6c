/**
 * TicketKeyRing: the session-ticket keys of one or more attached contexts, held natively (key
 * bytes never come back to JavaScript). The newest key encrypts, every key in the ring decrypts,
 * tickets under an older key are renewed, and on TLS 1.3 every resumption gets a fresh ticket.
 *
 * Two ways to fill a ring:
 * - `generate()`: random 80-byte keys, a new one every `rotateEverySeconds`; the last `keepKeys`
 *   keys are kept (the encrypting one included), so tickets survive `keepKeys - 1` rotations.
 * - `fromSecret()`: the key of each time epoch (`floor(now / rotateEverySeconds)`) is
 *   HKDF-SHA256(secret, epoch), so every process holding the secret encrypts with the same key
 *   and rotates at the same instant without messaging. The previous `keepKeys - 1` epochs and
 *   the next epoch (clock skew) decrypt.
 *
 * Key ids are the hex of the 16-byte key name: not secret (every ticket carries the name in clear).
 */
import * as crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as util from 'node:util';

import { publish } from '../events';
import { type RedisClientLike, redisAdapter } from '../fleet/redis-client';
import { type FleetRingStats, RedisRingSync, type SyncedKey } from '../fleet/redis-key-ring';
import { checkSecret, sealedBox } from '../fleet/sealed-box';
import { fleetSessionIdContext, secretRingSessionIdContext } from '../fleet/session-id-context';
import type { NativeRing } from '../native';
import { native } from '../native';
import { expectKind, rangeError, typeError } from '../validate';
import { copyBytes, haproxyKeyLines, nginxKeyFile, ringOrderKey } from './key-formats';
import {
  type ResolvedRingOptions,
  resolveAddKeyFileOptions,
  resolveAddOptions,
  resolveAddSecretOptions,
  resolveRedisRingOptions,
  resolveRingOptions,
} from './options';

import type {
  AddKeyFileOptions,
  AddKeyOptions,
  AddSecretOptions,
  RedisTicketKeyRingOptions,
  TicketKeyCounters,
  TicketKeyInfo,
  TicketKeyRingOptions,
  TicketRingStats,
} from './types';

interface KeyMeta {
  source: TicketKeyInfo['source'];
  bits: 128 | 256;
  addedAt: number;
  /** Insertion order, to order keys added within the same millisecond. */
  seq: number;
  epoch?: number;
  secretId?: string;
}

/** Longest delay setTimeout accepts; longer waits are re-armed. */
const MAX_TIMER_MS = 0x7fffffff;
const SECRET_MIN = 32;
const SECRET_MAX = 64;

/** Shared native ring plus the JS bookkeeping of which key encrypts and when it rotates. */
export class TicketKeyRing {
  readonly #handle: NativeRing;
  readonly #mode: 'generated' | 'secret' | 'redis';
  #redisSync: RedisRingSync | undefined;
  #ready: Promise<void> = Promise.resolve();
  readonly #options: ResolvedRingOptions;
  readonly #meta = new Map<string, KeyMeta>();
  /** Keys subject to aging (generated, or added to encrypt), oldest first. */
  #rotation: string[] = [];
  #encrypting: string | null = null;
  #lastRotation = 0;
  /** fromSecret: secret ids, the encrypting one (or none) named separately. */
  #secrets: string[] = [];
  #primarySecret: string | null = null;
  /** fromSecret: `${secretId}:${epoch}` removed by the user; never derived again. */
  readonly #revoked = new Set<string>();
  readonly #users = new Set<object>();
  /** fromSecret / fromRedis: the session-ID context derived from the fleet's identity. */
  #sessionIdContext: Buffer | undefined;

  // Rotation and removal are told to every attached handle ('ticketRotate' / 'keyRemoved' events
  // and diagnostics channels). Ids only: they are the key names every ticket carries in clear.
  #announce(name: 'ticketRotate' | 'keyRemoved', fields: Record<string, unknown>): void {
    for (const user of this.#users) if (user instanceof EventEmitter) publish(user, name, { ...fields, mode: this.#mode });
  }
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;

  private constructor(mode: 'generated' | 'secret' | 'redis', options: ResolvedRingOptions) {
    this.#handle = native.ringNew();
    this.#mode = mode;
    this.#options = options;
  }

  /**
   * A ring of random 80-byte keys (AES-256-CBC + HMAC-SHA256), one encrypting from now.
   * Rotation is automatic while the ring is attached.
   * @throws TypeError / RangeError for a bad option, naming it.
   */
  static generate(options?: TicketKeyRingOptions): TicketKeyRing {
    const ring = new TicketKeyRing('generated', resolveRingOptions(options));
    ring.rotate();
    return ring;
  }

  /**
   * A ring whose keys are HKDF-SHA256(secret, epoch): identical in every process holding the same
   * secret and options. The secret is copied into native memory; wipe your own copy when done.
   * @param secret 32 to 64 random bytes.
   * @throws TypeError / RangeError naming "secret" or the bad option.
   */
  static fromSecret(secret: Uint8Array, options?: TicketKeyRingOptions): TicketKeyRing {
    const resolved = resolveRingOptions(options);
    const copy = TicketKeyRing.#checkSecret(secret);
    const ring = new TicketKeyRing('secret', resolved);
    try {
      ring.#sessionIdContext = secretRingSessionIdContext();
      const id = native.ringAddSecret(ring.#handle, copy);
      ring.#secrets.push(id);
      ring.#primarySecret = id;
    } finally {
      copy.fill(0);
    }
    ring.#sync();
    return ring;
  }

  /**
   * A ring whose keys every member of a fleet loads from Redis (see src/fleet/redis-key-ring.ts):
   * one member at a time creates the next key under a `SET NX PX` lock, writes the ring sealed
   * under `wrappingSecret`, and publishes; the others reload on the message and poll. A new key
   * decrypts everywhere before anyone encrypts with it. Redis down: the ring keeps its last keys.
   * Syncing runs while the ring is attached (or after `ready()`); `close()` stops it.
   * @param client an ioredis or node-redis client you created and own.
   * @throws TypeError / RangeError naming the bad option.
   */
  static fromRedis(client: RedisClientLike, options: RedisTicketKeyRingOptions): TicketKeyRing {
    // A non-object `options` is reported before a bad client, the other options after it.
    expectKind('options', options, 'object');
    const redis = redisAdapter(client, 'client');
    const { key, wrappingSecret, pollIntervalSeconds, rotateLocallyWhenDown, ring: resolved } = resolveRedisRingOptions(options);
    const secret = checkSecret('wrappingSecret', wrappingSecret);
    const box = sealedBox(secret, 'fleet/ticket-keys');
    const ring = new TicketKeyRing('redis', resolved);
    ring.#sessionIdContext = fleetSessionIdContext(secret, `redis-ring\0${key}`);
    secret.fill(0);
    ring.#redisSync = new RedisRingSync(
      {
        redis,
        box,
        key,
        rotateEverySeconds: resolved.rotateEverySeconds,
        keepKeys: resolved.keepKeys,
        pollIntervalSeconds,
        rotateLocallyWhenDown,
        now: resolved.now,
      },
      { replaceKeys: (keys, encrypting) => ring.#replaceFleetKeys(keys, encrypting) },
    );
    return ring;
  }

  /**
   * fromRedis rings: starts syncing (or, when running, syncs now) and resolves once that load
   * from Redis was tried. Never rejects: a Redis failure is counted and reported on `onError` listeners.
   */
  ready(): Promise<void> {
    if (this.#redisSync) this.#ready = this.#redisSync.start();
    return this.#ready;
  }

  /** fromRedis rings: stops syncing and wipes the JS copies of fleet keys (native keys stay until detach). */
  close(): void {
    this.#redisSync?.stop();
  }

  /** fromRedis rings: hear Redis failures (the ring keeps its last keys meanwhile). Returns an unsubscribe function. */
  onError(listener: (err: Error) => void): () => void {
    const sync = this.#redisSync;
    if (!sync) return () => undefined;
    sync.on('error', listener);
    return () => sync.off('error', listener);
  }

  /** @internal the session-ID context of the ring's fleet (fromSecret: one for all; fromRedis: from wrapping secret and key). */
  _sessionIdContext(): Buffer | undefined {
    return this.#sessionIdContext;
  }

  /** @internal fromRedis figures merged into `stats().fleet`. */
  _fleetStats(): FleetRingStats | undefined {
    return this.#redisSync?.stats();
  }

  // fromRedis: make the native ring hold exactly the fleet's keys (plus local fallbacks).
  #replaceFleetKeys(keys: SyncedKey[], encryptingIndex: number): void {
    const wanted = new Set<string>();
    let encrypting: string | null = null;
    keys.forEach((k, i) => {
      const id = native.ringAddKey(this.#handle, k.bytes);
      if (!id) return;
      wanted.add(id);
      if (!this.#meta.has(id)) this.#meta.set(id, { source: 'fleet', bits: 256, addedAt: k.createdAt, seq: this.#seq++ });
      if (i === encryptingIndex) encrypting = id;
    });
    for (const [id, m] of [...this.#meta]) {
      if (m.source === 'fleet' && !wanted.has(id)) {
        native.ringRemoveKey(this.#handle, id);
        this.#meta.delete(id);
      }
    }
    if (encrypting !== this.#encrypting) {
      native.ringSetEncrypting(this.#handle, encrypting ?? '');
      this.#encrypting = encrypting;
      if (encrypting) this.#announce('ticketRotate', { keyId: encrypting });
    }
  }

  static #checkSecret(secret: unknown): Buffer {
    const copy = copyBytes('secret', secret, false);
    if (copy.length < SECRET_MIN || copy.length > SECRET_MAX) {
      const n = copy.length;
      copy.fill(0);
      throw rangeError('secret', `between ${SECRET_MIN} and ${SECRET_MAX} bytes`, `${n} bytes`);
    }
    return copy;
  }

  /** 'generated' (random keys) or 'secret' (derived from secrets). */
  get mode(): 'generated' | 'secret' | 'redis' {
    return this.#mode;
  }

  /** Seconds between rotations (or per epoch). */
  get rotateEverySeconds(): number {
    return this.#options.rotateEverySeconds;
  }

  /** Keys kept from rotation, the encrypting one included. */
  get keepKeys(): number {
    return this.#options.keepKeys;
  }

  /**
   * Generated rings: a new random key encrypts from now; the previous ones decrypt until they
   * are more than `keepKeys - 1` rotations old. Secret rings: re-derive the window for the
   * current epoch (a secret ring cannot rotate ahead of the clock: the fleet would disagree).
   */
  rotate(): void {
    if (this.#redisSync) {
      void this.#redisSync.rotateNow();
      return;
    }
    if (this.#mode === 'secret') {
      this.#sync();
      return;
    }
    const key = crypto.randomBytes(80);
    let id: string;
    try {
      id = native.ringAddKey(this.#handle, key);
    } finally {
      key.fill(0);
    }
    this.#meta.set(id, { source: 'generated', bits: 256, addedAt: this.#options.now(), seq: this.#seq++ });
    this.#makeEncrypting(id);
    this.#lastRotation = this.#options.now();
    this.#schedule();
  }

  /**
   * Adds a key (48 or 80 bytes, see `format`). Decrypt-only keys stay until `remove()`; a key
   * added with `encrypt: true` encrypts from now and ages out like a rotated key. Adding a key
   * already in the ring changes nothing but its role (when `encrypt` is true). The bytes are
   * copied into native memory; your buffer is not modified.
   * @returns the key id.
   * @throws TypeError for a non-buffer key or bad option; RangeError naming "key" for a bad length.
   */
  add(key: Uint8Array | string, options: AddKeyOptions = {}): string {
    const { encrypt, format } = resolveAddOptions(options);
    if (encrypt && this.#mode === 'secret') {
      throw typeError(
        'encrypt',
        'false on a fromSecret ring (it encrypts with the derived key of the epoch; use addSecret() for a new secret)',
        true,
      );
    }
    const copy = ringOrderKey(key, format);
    try {
      const id = native.ringAddKey(this.#handle, copy);
      if (!this.#meta.has(id)) {
        this.#meta.set(id, { source: 'added', bits: copy.length === 80 ? 256 : 128, addedAt: this.#options.now(), seq: this.#seq++ });
      }
      if (encrypt) this.#makeEncrypting(id);
      return id;
    } finally {
      copy.fill(0);
    }
  }

  /**
   * Loads a key file's contents: nginx `ssl_session_ticket_key` (one raw 48/80-byte key) or
   * HAProxy `tls-ticket-keys` (base64 lines). Validated completely before any key is added.
   * @returns the key ids in file order.
   */
  addKeyFile(contents: Uint8Array | string, options: AddKeyFileOptions): string[] {
    const { encrypt, format } = resolveAddKeyFileOptions(options);
    if (format === 'nginx') return [this.add(nginxKeyFile(contents), { encrypt, format: 'nginx' })];
    const lines = haproxyKeyLines(contents);
    const encryptIndex = encrypt ? Math.max(0, lines.length - 2) : -1;
    return lines.map((line, i) => this.add(line, { format: 'haproxy', encrypt: i === encryptIndex }));
  }

  /**
   * Removes a key now (revocation): its tickets get full handshakes and count as `unknownKey`.
   * Removing the encrypting key of a generated ring rotates to a fresh key at once; on a secret
   * ring no ticket is issued until the next epoch (the key is never derived again).
   * @returns whether the key was in the ring.
   */
  remove(keyId: string): boolean {
    if (typeof keyId !== 'string') throw typeError('keyId', 'a string', keyId);
    const meta = this.#meta.get(keyId);
    if (!meta) return false;
    native.ringRemoveKey(this.#handle, keyId);
    this.#meta.delete(keyId);
    this.#announce('keyRemoved', { keyId, reason: 'removed' });
    this.#rotation = this.#rotation.filter((id) => id !== keyId);
    if (meta.source === 'derived') this.#revoked.add(`${meta.secretId}:${meta.epoch}`);
    if (this.#encrypting === keyId) {
      this.#encrypting = null;
      if (this.#mode === 'generated') this.rotate();
    }
    return true;
  }

  /**
   * fromSecret rings: adds another secret. With `encrypt: false` its keys only decrypt (the
   * overlap window while a fleet moves to or from it); with `encrypt: true` it becomes the secret
   * that encrypts and the previous one only decrypts.
   * @returns the secret's id (an HKDF fingerprint).
   */
  addSecret(secret: Uint8Array, options: AddSecretOptions = {}): string {
    if (this.#mode !== 'secret') throw new TypeError('addSecret() needs a ring made by TicketKeyRing.fromSecret().');
    const { encrypt } = resolveAddSecretOptions(options);
    const copy = TicketKeyRing.#checkSecret(secret);
    let id: string;
    try {
      id = native.ringAddSecret(this.#handle, copy);
    } finally {
      copy.fill(0);
    }
    if (!this.#secrets.includes(id)) this.#secrets.push(id);
    if (encrypt) this.#primarySecret = id;
    this.#sync();
    return id;
  }

  /** fromSecret rings: drops a secret and every key derived from it. @returns whether it was there. */
  removeSecret(secretId: string): boolean {
    if (typeof secretId !== 'string') throw typeError('secretId', 'a string', secretId);
    if (!this.#secrets.includes(secretId)) return false;
    native.ringRemoveSecret(this.#handle, secretId);
    this.#secrets = this.#secrets.filter((s) => s !== secretId);
    if (this.#primarySecret === secretId) this.#primarySecret = null;
    this.#sync();
    return true;
  }

  /** The keys: ids, roles, sources and ages, the encrypting key first, then newest first. Never key bytes. */
  list(): TicketKeyInfo[] {
    const now = this.#options.now();
    const out: Array<{ info: TicketKeyInfo; start: number; seq: number }> = [];
    for (const [id, m] of this.#meta) {
      const start = m.source === 'derived' ? m.epoch! * this.#options.rotateEverySeconds * 1000 : m.addedAt;
      const info: TicketKeyInfo = {
        id,
        role: id === this.#encrypting ? 'encrypt' : 'decrypt',
        source: m.source,
        bits: m.bits,
        ageSeconds: Math.round((now - start) / 10) / 100,
      };
      if (m.epoch !== undefined) info.epoch = m.epoch;
      if (m.secretId !== undefined) info.secretId = m.secretId;
      out.push({ info, start, seq: m.seq });
    }
    out.sort((a, b) => (a.info.role !== b.info.role ? (a.info.role === 'encrypt' ? -1 : 1) : b.start - a.start || b.seq - a.seq));
    return out.map((o) => o.info);
  }

  /** Ring counters (shared by every context the ring is attached to). */
  stats(): TicketRingStats {
    const raw = native.ringStats(this.#handle);
    const keys: Record<string, TicketKeyCounters> = {};
    for (const [id, k] of Object.entries(raw.keys)) keys[id] = { encrypted: k.encrypted, decrypted: k.decrypted };
    return { issued: raw.issued, resumed: raw.resumed, renewed: raw.renewed, unknownKey: raw.unknownKey, failed: raw.failed, keys };
  }

  /** JSON shows the key list only. */
  toJSON(): TicketKeyInfo[] {
    return this.list();
  }

  [util.inspect.custom](_depth: number, options: util.InspectOptionsStylized, inspect: typeof util.inspect): string {
    const summary = { mode: this.#mode, rotateEverySeconds: this.rotateEverySeconds, keepKeys: this.keepKeys, keys: this.list() };
    return `TicketKeyRing ${inspect(summary, { ...options, depth: options.depth == null ? null : options.depth + 1 })}`;
  }

  /** How many attached contexts use the ring; automatic rotation runs only while this is above 0. */
  get attachedContexts(): number {
    return this.#users.size;
  }

  /** @internal the native ring, for attach(). */
  _native(): NativeRing {
    return this.#handle;
  }

  /** @internal a context starts using the ring: rotation runs while at least one does. */
  _use(user: object): void {
    this.#users.add(user);
    if (this.#users.size === 1) {
      if (this.#redisSync) void this.ready();
      if (this.#mode === 'secret') this.#sync();
      this.#schedule();
    }
  }

  /** @internal a context stopped using the ring. */
  _release(user: object): void {
    this.#users.delete(user);
    if (this.#users.size === 0) this.#redisSync?.stop();
    if (this.#users.size === 0 && this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #makeEncrypting(id: string): void {
    native.ringSetEncrypting(this.#handle, id);
    if (this.#encrypting !== id) this.#announce('ticketRotate', { keyId: id });
    this.#encrypting = id;
    if (this.#mode === 'secret') return;
    this.#rotation = this.#rotation.filter((r) => r !== id);
    this.#rotation.push(id);
    const meta = this.#meta.get(id);
    if (meta) {
      meta.addedAt = this.#options.now();
      meta.seq = this.#seq++;
    }
    while (this.#rotation.length > this.#options.keepKeys) {
      const old = this.#rotation.shift()!;
      native.ringRemoveKey(this.#handle, old);
      this.#meta.delete(old);
      this.#announce('keyRemoved', { keyId: old, reason: 'aged-out' });
    }
  }

  #epoch(): number {
    return Math.floor(this.#options.now() / 1000 / this.#options.rotateEverySeconds);
  }

  /** fromSecret: derive the window of the current epoch for every secret, drop what fell out. */
  #sync(): void {
    const epoch = this.#epoch();
    const wanted = new Set<string>();
    let encrypting: string | null = null;
    for (const secretId of this.#secrets) {
      for (let e = epoch - this.#options.keepKeys + 1; e <= epoch + 1; e++) {
        if (e < 0 || this.#revoked.has(`${secretId}:${e}`)) continue;
        const id = this.#derivedId(secretId, e) ?? native.ringDeriveKey(this.#handle, secretId, e);
        if (!this.#meta.has(id))
          this.#meta.set(id, { source: 'derived', bits: 256, addedAt: this.#options.now(), seq: this.#seq++, epoch: e, secretId });
        wanted.add(id);
        if (secretId === this.#primarySecret && e === epoch) encrypting = id;
      }
    }
    for (const [id, m] of [...this.#meta]) {
      if (m.source === 'derived' && !wanted.has(id)) {
        native.ringRemoveKey(this.#handle, id);
        this.#meta.delete(id);
      }
    }
    if (encrypting !== this.#encrypting) {
      native.ringSetEncrypting(this.#handle, encrypting ?? '');
      this.#encrypting = encrypting;
    }
    for (const revoked of [...this.#revoked]) {
      const e = Number(revoked.slice(revoked.indexOf(':') + 1));
      if (e < epoch - this.#options.keepKeys) this.#revoked.delete(revoked);
    }
    this.#schedule();
  }

  #derivedId(secretId: string, epoch: number): string | undefined {
    for (const [id, m] of this.#meta) if (m.secretId === secretId && m.epoch === epoch) return id;
    return undefined;
  }

  /** Arms the rotation timer for the next due time, only while some context uses the ring. */
  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    // fromRedis rings rotate from their sync loop, under the fleet's lock.
    if (this.#users.size === 0 || this.#redisSync) return;
    const periodMs = this.#options.rotateEverySeconds * 1000;
    const due = this.#mode === 'secret' ? (this.#epoch() + 1) * periodMs : this.#lastRotation + periodMs;
    const delay = Math.min(Math.max(due - this.#options.now(), 1), MAX_TIMER_MS);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#options.now() >= due) this.rotate();
      else this.#schedule();
    }, delay);
    this.#timer.unref();
  }
}
