/**
 * TicketKeyRing: the session-ticket keys of one or more attached contexts, held natively (key
 * bytes never come back to JavaScript). The newest key encrypts, every key in the ring decrypts,
 * tickets under an older key are renewed, and on TLS 1.3 every resumption gets a fresh ticket.
 *
 * The class keeps the native handle, the record of every key (source, age, role), the attached
 * contexts and the rotation timer; how keys are made is its mode (see mode.ts): random keys
 * (generated-keys.ts), keys derived from a secret per epoch (secret-epochs.ts) or a fleet's keys
 * in Redis (redis-fleet.ts).
 *
 * Key ids are the hex of the 16-byte key name: not secret (every ticket carries the name in clear).
 */
import { EventEmitter } from 'node:events';
import * as util from 'node:util';

import { publish } from '../../common/events';
import type { NativeAttachment, NativeRing } from '../../common/native';
import { native } from '../../common/native';
import { type RedisClientLike, redisAdapter } from '../../common/redis-client';
import { checkSecret } from '../../common/sealed-box';
import { expectKind, typeError } from '../../common/validate';
import type { FleetRingStats } from '../fleet/redis-key-ring';
import { GeneratedKeys } from './generated-keys';
import { haproxyKeyLines, nginxKeyFile, ringOrderKey } from './key-formats';
import type { KeyMeta, RingKeys, RingMode } from './mode';
import {
  type ResolvedRingOptions,
  resolveAddKeyFileOptions,
  resolveAddOptions,
  resolveAddSecretOptions,
  resolveRedisRingOptions,
  resolveRingOptions,
} from './options';
import { RedisFleet } from './redis-fleet';
import { copySecret, SecretEpochs } from './secret-epochs';
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

/** Longest delay setTimeout accepts; longer waits are re-armed. */
const MAX_TIMER_MS = 0x7fffffff;

/** Shared native ring plus the JS bookkeeping of which key encrypts and when it rotates. */
export class TicketKeyRing {
  readonly #handle: NativeRing;
  readonly #mode: RingMode;
  readonly #options: ResolvedRingOptions;
  readonly #meta = new Map<string, KeyMeta>();
  /** Keys subject to aging (generated, or added to encrypt), oldest first. */
  #rotation: string[] = [];
  #encrypting: string | null = null;
  readonly #users = new Set<object>();

  // Rotation and removal are told to every attached handle ('ticketRotate' / 'keyRemoved' events
  // and diagnostics channels). Ids only: they are the key names every ticket carries in clear.
  #announce(name: 'ticketRotate' | 'keyRemoved' | 'ringDocumentRefused', fields: Record<string, unknown>): void {
    for (const user of this.#users) if (user instanceof EventEmitter) publish(user, name, { ...fields, mode: this.#mode.name });
  }
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;

  private constructor(options: ResolvedRingOptions, mode: (keys: RingKeys) => RingMode) {
    this.#handle = native.ringNew();
    this.#options = options;
    this.#mode = mode(this.#ringKeys());
  }

  /** What the mode may do to the keys: the same bookkeeping add() and remove() use. */
  #ringKeys(): RingKeys {
    return {
      handle: this.#handle,
      options: this.#options,
      has: (id) => this.#meta.has(id),
      record: (id, meta) => this.#record(id, meta),
      find: (matches) => {
        for (const [id, m] of this.#meta) if (matches(m)) return id;
        return undefined;
      },
      keepOnly: (source, wanted, reasonOf) => {
        for (const [id, m] of [...this.#meta]) {
          if (m.source === source && !wanted.has(id)) {
            native.ringRemoveKey(this.#handle, id);
            this.#meta.delete(id);
            this.#announce('keyRemoved', { keyId: id, reason: reasonOf(m) });
          }
        }
      },
      switchEncrypting: (id, announce) => {
        if (id === this.#encrypting) return;
        native.ringSetEncrypting(this.#handle, id ?? '');
        this.#encrypting = id;
        if (announce && id) this.#announce('ticketRotate', { keyId: id });
      },
      makeEncrypting: (id) => this.#makeEncrypting(id),
      announce: (name, fields) => this.#announce(name, fields),
    };
  }

  /**
   * A ring of random 80-byte keys (AES-256-CBC + HMAC-SHA256), one encrypting from now.
   * Rotation is automatic while the ring is attached.
   * @throws TypeError / RangeError for a bad option, naming it.
   */
  static generate(options?: TicketKeyRingOptions): TicketKeyRing {
    const ring = new TicketKeyRing(resolveRingOptions(options), (keys) => new GeneratedKeys(keys));
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
    const copy = copySecret(secret);
    try {
      return new TicketKeyRing(resolved, (keys) => new SecretEpochs(keys, copy));
    } finally {
      copy.fill(0);
    }
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
    const resolved = resolveRedisRingOptions(options);
    const secret = checkSecret('wrappingSecret', resolved.wrappingSecret);
    try {
      return new TicketKeyRing(resolved.ring, (keys) => new RedisFleet(keys, redis, resolved, secret));
    } finally {
      secret.fill(0);
    }
  }

  /**
   * fromRedis rings: starts syncing (or, when running, syncs now) and resolves once that load
   * from Redis was tried. Never rejects: a Redis failure is counted and reported on `onError` listeners.
   */
  ready(): Promise<void> {
    return this.#mode.ready?.() ?? Promise.resolve();
  }

  /** fromRedis rings: stops syncing and wipes the JS copies of fleet keys (native keys stay until detach). */
  close(): void {
    this.#mode.stop();
  }

  /** fromRedis rings: hear Redis failures (the ring keeps its last keys meanwhile). Returns an unsubscribe function. */
  onError(listener: (err: Error) => void): () => void {
    return this.#mode.onError?.(listener) ?? (() => undefined);
  }

  /** @internal the session-ID context of the ring's fleet (fromSecret: one for all; fromRedis: from wrapping secret and key). */
  _sessionIdContext(): Buffer | undefined {
    return this.#mode.sessionIdContext();
  }

  /** @internal fromRedis figures merged into `stats().fleet`. */
  _fleetStats(): FleetRingStats | undefined {
    return this.#mode.fleetStats?.();
  }

  /** 'generated' (random keys) or 'secret' (derived from secrets). */
  get mode(): 'generated' | 'secret' | 'redis' {
    return this.#mode.name;
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
    this.#mode.rotate(true);
    this.#schedule();
  }

  /**
   * Adds a key (48 or 80 bytes, see `format`). Decrypt-only keys stay until `remove()`; a key
   * added with `encrypt: true` encrypts from now and ages out like a rotated key. Adding a key
   * already in the ring changes nothing but its role (when `encrypt` is true). The bytes are
   * copied into native memory; your buffer is not modified.
   * A string key is one line of an HAProxy `tls-ticket-keys` file (base64) and needs
   * `format: 'haproxy'`; every other format takes bytes.
   * @returns the key id.
   * @throws TypeError for a non-buffer key or bad option; RangeError naming "key" for a bad length.
   */
  add(key: Uint8Array, options?: AddKeyOptions): string;
  add(key: string, options: AddKeyOptions & { format: 'haproxy' }): string;
  add(key: Uint8Array | string, options: AddKeyOptions = {}): string {
    const { encrypt, format } = resolveAddOptions(options);
    if (encrypt) this.#mode.checkEncryptingAdd();
    const copy = ringOrderKey(key, format);
    try {
      const id = native.ringAddKey(this.#handle, copy);
      if (!this.#meta.has(id)) this.#record(id, { source: 'added', bits: copy.length === 80 ? 256 : 128, addedAt: this.#options.now() });
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
    // Refused before the first key goes in: the mode's check would otherwise come at the
    // encrypting line, after the lines before it were added.
    if (encrypt) this.#mode.checkEncryptingAdd();
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
    const wasEncrypting = this.#encrypting === keyId;
    if (wasEncrypting) this.#encrypting = null;
    if (this.#mode.keyRemoved(meta, wasEncrypting, keyId)) this.rotate();
    return true;
  }

  /**
   * fromSecret rings: adds another secret. With `encrypt: false` its keys only decrypt (the
   * overlap window while a fleet moves to or from it); with `encrypt: true` it becomes the secret
   * that encrypts and the previous one only decrypts.
   * @returns the secret's id (an HKDF fingerprint).
   */
  addSecret(secret: Uint8Array, options: AddSecretOptions = {}): string {
    const mode = this.#mode;
    if (!(mode instanceof SecretEpochs)) throw new TypeError('addSecret() needs a ring made by TicketKeyRing.fromSecret().');
    const { encrypt } = resolveAddSecretOptions(options);
    const copy = copySecret(secret);
    let id: string;
    try {
      id = mode.addSecret(copy, encrypt);
    } finally {
      copy.fill(0);
    }
    this.#schedule();
    return id;
  }

  /** fromSecret rings: drops a secret and every key derived from it. @returns whether it was there. */
  removeSecret(secretId: string): boolean {
    if (typeof secretId !== 'string') throw typeError('secretId', 'a string', secretId);
    if (!(this.#mode instanceof SecretEpochs) || !this.#mode.removeSecret(secretId)) return false;
    this.#schedule();
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
    const summary = { mode: this.#mode.name, rotateEverySeconds: this.rotateEverySeconds, keepKeys: this.keepKeys, keys: this.list() };
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
      this.#mode.start();
      this.#schedule();
    }
  }

  /** @internal throws when `user`'s shared store at `path` (`store`: as the user named it) cannot hold the ring's keys. */
  _checkShare(path: string, store: string): void {
    this.#mode.checkShare?.(path, store);
  }

  /** @internal `user` attached the ring with a shared store: generated rings take their keys from it (see generated-keys.ts). */
  _share(user: object, attachment: NativeAttachment, path: string): void {
    if (this.#mode.share?.(user, attachment, path)) this.#schedule();
  }

  /** @internal a context stopped using the ring. */
  _release(user: object): void {
    this.#mode.unshare?.(user);
    this.#users.delete(user);
    if (this.#users.size === 0) this.#mode.stop();
    if (this.#users.size === 0 && this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #record(id: string, meta: Omit<KeyMeta, 'seq'>): void {
    this.#meta.set(id, { ...meta, seq: this.#seq++ });
  }

  #makeEncrypting(id: string): void {
    native.ringSetEncrypting(this.#handle, id);
    if (this.#encrypting !== id) this.#announce('ticketRotate', { keyId: id });
    this.#encrypting = id;
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

  /** Arms the rotation timer for the next due time, only while some context uses the ring. */
  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#users.size === 0) return;
    const due = this.#mode.nextRotationDue();
    if (due === undefined) return;
    const delay = Math.min(Math.max(due - this.#options.now(), 1), MAX_TIMER_MS);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#options.now() >= due) this.#mode.rotate(false);
      this.#schedule();
    }, delay);
    this.#timer.unref();
  }
}
