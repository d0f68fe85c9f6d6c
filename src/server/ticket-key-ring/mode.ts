/**
 * The seam between the ring (ring.ts: native handle, key bookkeeping, attached users, the rotation
 * timer) and the three ways its keys are filled, each a small strategy object:
 * generated-keys.ts (`generate()`), secret-epochs.ts (`fromSecret()`), redis-fleet.ts
 * (`fromRedis()`). The ring calls a mode through `RingMode`; a mode changes keys only through
 * `RingKeys`, so what `list()`, `stats()` and the events show stays in one place.
 */

import type { NativeAttachment, NativeRing } from '../../common/native';
import type { FleetRingStats } from '../fleet/redis-key-ring';
import type { ResolvedRingOptions } from './options';
import type { TicketKeyInfo } from './types';

/** Why a key left the ring (the `keyRemoved` event): past `keepKeys`, or taken out by the user (`remove()`, `removeSecret()`). */
export type KeyRemovedReason = 'aged-out' | 'removed';

/** The ring's `mode`. */
export type RingModeName = 'generated' | 'secret' | 'redis';

/** The ring's record of one key the native ring holds. */
export interface KeyMeta {
  source: TicketKeyInfo['source'];
  bits: 128 | 256;
  addedAt: number;
  /** Insertion order, to order keys added within the same millisecond. */
  seq: number;
  epoch?: number;
  secretId?: string;
}

/** What a mode may do to the ring's keys. */
export interface RingKeys {
  readonly handle: NativeRing;
  readonly options: ResolvedRingOptions;
  /** Whether the ring has a record of the key. */
  has(id: string): boolean;
  /** Records a key the native ring now holds (its insertion order is the ring's). */
  record(id: string, meta: Omit<KeyMeta, 'seq'>): void;
  /** The id of the first recorded key that `matches`. */
  find(matches: (meta: KeyMeta) => boolean): string | undefined;
  /** Removes, natively too, every key from `source` that is not in `wanted`, announcing each with the reason `reasonOf` gives. */
  keepOnly(source: KeyMeta['source'], wanted: ReadonlySet<string>, reasonOf: (meta: KeyMeta) => KeyRemovedReason): void;
  /** Makes `id` (or no key) the encrypting one when it is not already; `announce`: emit 'ticketRotate' for a key. */
  switchEncrypting(id: string | null, announce: boolean): void;
  /** Makes `id` encrypt from now and ages out the oldest rotated keys beyond `keepKeys`, announcing both. */
  makeEncrypting(id: string): void;
  /** Tells every attached handle (events and channels) that something happened to the ring's fleet. */
  announce(name: 'ringDocumentRefused', fields: Record<string, unknown>): void;
}

/** One way of filling a ring, called by the ring only. */
export interface RingMode {
  readonly name: RingModeName;
  /** `rotate()` (`manual`), or the ring's timer at `nextRotationDue()`: whatever a rotation means in this mode. */
  rotate(manual: boolean): void;
  /** A first context started using the ring. */
  start(): void;
  /** No context uses the ring any more, or `close()`: stop background work. */
  stop(): void;
  /** When the ring's timer should next call `rotate()`, in ms since 1970; undefined: never. */
  nextRotationDue(): number | undefined;
  /** `remove()` took a key out of the ring. @returns whether the ring rotates now. */
  keyRemoved(meta: KeyMeta, wasEncrypting: boolean, keyId: string): boolean;
  /** `add(key, { encrypt: true })` is about to run: throws when the mode picks the encrypting key itself. */
  checkEncryptingAdd(): void;
  /** The session-ID context the mode's fleet shares, if it has one. */
  sessionIdContext(): Buffer | undefined;
  /**
   * generate() only: `user` attached the ring together with the shared store at `path`; the
   * mode takes its keys from the store from now (see generated-keys.ts). @returns false when
   * the store cannot hold keys (it is not in memory).
   */
  share?(user: object, attachment: NativeAttachment, path: string): boolean;
  /** generate() only: throws when the ring cannot take its keys from the store at `path`. */
  checkShare?(path: string, store: string): void;
  /** generate() only: `user` no longer uses the ring. */
  unshare?(user: object): void;
  /** fromRedis only: see `TicketKeyRing.ready()`. */
  ready?(): Promise<void>;
  /** fromRedis only: see `TicketKeyRing.onError()`. */
  onError?(listener: (err: Error) => void): () => void;
  /** fromRedis only: the figures merged into `stats().fleet`. */
  fleetStats?(): FleetRingStats;
}
