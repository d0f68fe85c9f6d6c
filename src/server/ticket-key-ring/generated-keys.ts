/**
 * `TicketKeyRing.generate()`: random 80-byte keys, a new one every `rotateEverySeconds`; the last
 * `keepKeys` keys are kept (the encrypting one included), so tickets survive `keepKeys - 1`
 * rotations.
 *
 * Alone, the keys are this process's. Attached together with a shared store that lives in memory
 * (a named store under /dev/shm, or a `path` on tmpfs), the keys are the store's: its key table
 * (native/server/shared_ticket_keys.cc) holds them for every process that uses the store, so the workers
 * of a cluster encrypt and decrypt with the same keys and rotate them together, as nginx keeps
 * its keys in shared memory. The first process to find the table empty, or its newest key
 * `rotateEverySeconds` old, makes the next key there; the others take it at their own timer, and
 * a ticket under a key a process has not taken yet is looked up in the table by the ticket
 * callback itself. A store on disk never gets keys: they would reach the disk in clear.
 * The session-ID context is the server's own either way (the README sets `sessionIdContext`).
 */
import cluster from 'node:cluster';
import * as crypto from 'node:crypto';

import { type NativeAttachment, type NativeSharedKey, native } from '../../common/native';
import { invalidState, rangeError } from '../../common/validate';
import type { KeyMeta, RingKeys, RingMode } from './mode';

/** Most keys a shared store's key table holds (kMaxSharedTicketKeys in native/common/shared_store_layout.h). */
export const MAX_SHARED_TICKET_KEYS = 32;

/**
 * How often a ring that shares a store's keys syncs with the table, milliseconds: a key another
 * process revoked (`remove()`) stops decrypting here, and its hand rotation starts encrypting
 * here, within this. (A ticket under a key this process has not taken yet is looked up in the
 * table at once.) Also the retry after a sync whose table lock timed out.
 */
export const SHARED_SYNC_MS = 1000;

export class GeneratedKeys implements RingMode {
  readonly name = 'generated';
  readonly #keys: RingKeys;
  #lastRotation = 0;
  /** Set while the keys are a shared store's: its path and the attachments that share through it. */
  #store: { path: string; users: Set<object> } | undefined;
  #warnedOnDisk = false;

  constructor(keys: RingKeys) {
    this.#keys = keys;
  }

  /** A new random key encrypts from now (in the shared store when there is one); the oldest beyond `keepKeys` age out. */
  rotate(manual: boolean): void {
    if (this.#store) {
      this.#sync(manual);
      return;
    }
    const { handle, options } = this.#keys;
    const key = crypto.randomBytes(80);
    let id: string;
    try {
      id = native.ringAddKey(handle, key);
    } finally {
      key.fill(0);
    }
    this.#keys.record(id, { source: 'generated', bits: 256, addedAt: options.now() });
    this.#keys.makeEncrypting(id);
    this.#lastRotation = options.now();
  }

  start(): void {}

  stop(): void {}

  nextRotationDue(): number {
    const due = this.#lastRotation + this.#keys.options.rotateEverySeconds * 1000;
    return this.#store ? Math.min(due, this.#keys.options.now() + SHARED_SYNC_MS) : due;
  }

  /** A generated ring never stays without an encrypting key: removing it rotates at once. A shared key leaves the store too. */
  keyRemoved(_meta: KeyMeta, wasEncrypting: boolean, keyId: string): boolean {
    if (this.#store) native.ringRemoveShared(this.#keys.handle, keyId);
    return wasEncrypting;
  }

  checkEncryptingAdd(): void {}

  sessionIdContext(): undefined {
    return undefined;
  }

  checkShare(path: string, store: string): void {
    if (this.#store && this.#store.path !== path) {
      throw invalidState(
        `This TicketKeyRing.generate() ring takes its keys from the shared store ${this.#store.path}; it cannot also take them from ${path}. Give each store its own ring.`,
      );
    }
    const { keepKeys } = this.#keys.options;
    if (keepKeys > MAX_SHARED_TICKET_KEYS) {
      throw rangeError(
        'keepKeys',
        `at most ${MAX_SHARED_TICKET_KEYS} keys for a generated ring attached with a shared store (${store})`,
        `${keepKeys} keys`,
      );
    }
  }

  share(user: object, attachment: NativeAttachment, path: string): boolean {
    if (this.#store) {
      this.#store.users.add(user);
      return true;
    }
    if (!native.ringShareKeys(this.#keys.handle, attachment)) {
      this.#warnOnDisk(path);
      return false;
    }
    this.#store = { path, users: new Set([user]) };
    this.#sync(false);
    return true;
  }

  unshare(user: object): void {
    if (!this.#store?.users.delete(user) || this.#store.users.size > 0) return;
    native.ringShareKeys(this.#keys.handle, null);
    this.#store = undefined;
  }

  // The store's keys become the ring's: new ones recorded, the ones the store no longer holds
  // (this process's own keys from before it joined, keys past keepKeys) dropped, the newest encrypts.
  #sync(rotate: boolean): void {
    const { handle, options } = this.#keys;
    const now = options.now();
    const keys: NativeSharedKey[] | null = native.ringSyncShared(handle, now, options.rotateEverySeconds * 1000, options.keepKeys, rotate);
    if (keys === null) {
      // Another process held the table past its bound: keep the keys we have and try again soon.
      return;
    }
    for (const k of keys) {
      if (!this.#keys.has(k.id)) this.#keys.record(k.id, { source: 'generated', bits: 256, addedAt: k.createdMs });
    }
    this.#keys.keepOnly('generated', new Set(keys.map((k) => k.id)), () => 'aged-out');
    // Keys the ticket callback took from the table between two syncs and the table has dropped
    // since (the ring records every key it holds otherwise): retired here too.
    for (const id of Object.keys(native.ringStats(handle).keys)) if (!this.#keys.has(id)) native.ringRemoveKey(handle, id);
    this.#keys.switchEncrypting(keys[0]?.id ?? null, true);
    this.#lastRotation = keys[0]?.createdMs ?? now;
  }

  // A cluster worker whose store is on disk keeps its keys to itself: say so once, since its
  // workers then resume only the tickets they issued themselves.
  #warnOnDisk(path: string): void {
    if (this.#warnedOnDisk || !cluster.isWorker) return;
    this.#warnedOnDisk = true;
    process.emitWarning(
      `TicketKeyRing.generate(): the shared store ${path} is not in memory, so this worker keeps its ticket keys to itself (keys never go to disk): the cluster's workers will not resume each other's tickets. Use shared.name (a store under /dev/shm), a path on tmpfs, or TicketKeyRing.fromSecret().`,
      { code: 'TLS_RESUMPTION_RING_NOT_SHARED' },
    );
  }
}
