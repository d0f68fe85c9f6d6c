/**
 * `TicketKeyRing.fromRedis()`: the ring holds exactly the keys a fleet shares through Redis (plus
 * local fallbacks while Redis is down). The protocol (lock, sealed document, publish, poll) is
 * src/fleet/redis-key-ring.ts; this is the bridge from its sync loop to the ring's keys.
 */

import { FLEET_ENTRY_PURPOSES } from '../../common/fleet-entry';
import { native } from '../../common/native';
import type { RedisAdapter } from '../../common/redis-client';
import { sealedBox } from '../../common/sealed-box';
import { fleetSessionIdContext } from '../../common/session-id-context';
import { type FleetRingStats, RedisRingSync, type SyncedKey } from '../fleet/redis-key-ring';
import type { RingKeys, RingMode } from './mode';
import type { ResolvedRedisRingOptions } from './options';

export class RedisFleet implements RingMode {
  readonly name = 'redis';
  readonly #keys: RingKeys;
  readonly #sync: RedisRingSync;
  readonly #sessionIdContext: Buffer;

  /** `wrappingSecret` is a checked copy the caller wipes. */
  constructor(keys: RingKeys, redis: RedisAdapter, options: ResolvedRedisRingOptions, wrappingSecret: Buffer) {
    this.#keys = keys;
    const box = sealedBox(wrappingSecret, FLEET_ENTRY_PURPOSES.ringDocument);
    this.#sessionIdContext = fleetSessionIdContext(wrappingSecret, `redis-ring\0${options.key}`);
    this.#sync = new RedisRingSync(
      {
        redis,
        box,
        key: options.key,
        rotateEverySeconds: options.ring.rotateEverySeconds,
        keepKeys: options.ring.keepKeys,
        pollIntervalSeconds: options.pollIntervalSeconds,
        rotateLocallyWhenDown: options.rotateLocallyWhenDown,
        now: options.ring.now,
      },
      { replaceKeys: (synced, encrypting) => this.#replaceKeys(synced, encrypting) },
    );
    this.#sync.on('refused', (reason: string) => keys.announce('ringDocumentRefused', { reason }));
  }

  /** The fleet's next key is made under its lock, by whichever member gets it. */
  rotate(): void {
    void this.#sync.rotateNow();
  }

  start(): void {
    void this.ready();
  }

  /** Wipes the JS copies of fleet keys too (native keys stay until detach). */
  stop(): void {
    this.#sync.stop();
  }

  /** No timer: fromRedis rings rotate from their sync loop, under the fleet's lock. */
  nextRotationDue(): undefined {
    return undefined;
  }

  keyRemoved(): boolean {
    return false;
  }

  checkEncryptingAdd(): void {}

  /** Derived from the wrapping secret and the ring's Redis key: one per fleet. */
  sessionIdContext(): Buffer {
    return this.#sessionIdContext;
  }

  ready(): Promise<void> {
    return this.#sync.start();
  }

  onError(listener: (err: Error) => void): () => void {
    const sync = this.#sync;
    sync.on('error', listener);
    return () => sync.off('error', listener);
  }

  fleetStats(): FleetRingStats {
    return this.#sync.stats();
  }

  // Make the native ring hold exactly the fleet's keys (plus local fallbacks).
  #replaceKeys(synced: SyncedKey[], encryptingIndex: number): void {
    const keys = this.#keys;
    const wanted = new Set<string>();
    let encrypting: string | null = null;
    synced.forEach((k, i) => {
      const id = native.ringAddKey(keys.handle, k.bytes);
      if (!id) return;
      wanted.add(id);
      if (!keys.has(id)) keys.record(id, { source: 'fleet', bits: 256, addedAt: k.createdAt });
      if (i === encryptingIndex) encrypting = id;
    });
    // The new key encrypts before the old ones go (as a generated ring rotates): no moment without
    // an encrypting key, and 'ticketRotate' comes before 'keyRemoved' in every mode.
    keys.switchEncrypting(encrypting, true);
    keys.keepOnly('fleet', wanted, () => 'aged-out');
  }
}
