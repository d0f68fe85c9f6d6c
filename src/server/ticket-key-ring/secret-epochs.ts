/**
 * `TicketKeyRing.fromSecret()`: the key of each time epoch (`floor(now / rotateEverySeconds)`) is
 * HKDF-SHA256(secret, epoch), so every process holding the secret encrypts with the same key and
 * rotates at the same instant without messaging. The previous `keepKeys - 1` epochs and the next
 * epoch (clock skew) decrypt. A ring may hold several secrets (a fleet moving from one to
 * another); one of them, or none, encrypts.
 */

import { native } from '../../common/native';
import { secretRingSessionIdContext } from '../../common/session-id-context';
import { rangeError, typeError } from '../../common/validate';
import { copyBytes } from './key-formats';
import type { KeyMeta, RingKeys, RingMode } from './mode';

const SECRET_MIN = 32;
const SECRET_MAX = 64;

/** A private copy of a secret of `fromSecret()` / `addSecret()`, for the caller to wipe. Throws naming "secret". */
export function copySecret(secret: unknown): Buffer {
  const copy = copyBytes('secret', secret, false);
  if (copy.length < SECRET_MIN || copy.length > SECRET_MAX) {
    const n = copy.length;
    copy.fill(0);
    throw rangeError('secret', `between ${SECRET_MIN} and ${SECRET_MAX} bytes`, `${n} bytes`);
  }
  return copy;
}

export class SecretEpochs implements RingMode {
  readonly name = 'secret';
  readonly #keys: RingKeys;
  readonly #sessionIdContext: Buffer;
  /** Secret ids, the encrypting one (or none) named separately. */
  #secrets: string[] = [];
  #primarySecret: string | null = null;
  /** `${secretId}:${epoch}` removed by the user; never derived again. */
  readonly #revoked = new Set<string>();

  /** `secret` is a checked copy (see `copySecret`); the caller wipes it. */
  constructor(keys: RingKeys, secret: Buffer) {
    this.#keys = keys;
    this.#sessionIdContext = secretRingSessionIdContext();
    const id = native.ringAddSecret(keys.handle, secret);
    this.#secrets.push(id);
    this.#primarySecret = id;
    this.sync();
  }

  /** A secret ring cannot rotate ahead of the clock (the fleet would disagree): it re-derives the window. */
  rotate(): void {
    this.sync();
  }

  /** The epoch may have moved on while no context used the ring. */
  start(): void {
    this.sync();
  }

  stop(): void {}

  nextRotationDue(): number {
    return (this.#epoch() + 1) * this.#keys.options.rotateEverySeconds * 1000;
  }

  /** A removed key is never derived again; without it no ticket is issued until the next epoch. */
  keyRemoved(meta: KeyMeta): boolean {
    if (meta.source === 'derived') this.#revoked.add(`${meta.secretId}:${meta.epoch}`);
    return false;
  }

  checkEncryptingAdd(): void {
    throw typeError(
      'encrypt',
      'false on a fromSecret ring (it encrypts with the derived key of the epoch; use addSecret() for a new secret)',
      true,
    );
  }

  /** One for every ring made from a secret (see src/fleet/session-id-context.ts). */
  sessionIdContext(): Buffer {
    return this.#sessionIdContext;
  }

  /** `addSecret()`, its options checked; `secret` is a checked copy the caller wipes. @returns the secret's id. */
  addSecret(secret: Buffer, encrypt: boolean): string {
    const id = native.ringAddSecret(this.#keys.handle, secret);
    if (!this.#secrets.includes(id)) this.#secrets.push(id);
    if (encrypt) this.#primarySecret = id;
    this.sync();
    return id;
  }

  /** `removeSecret()`. @returns whether the secret was in the ring. */
  removeSecret(secretId: string): boolean {
    if (!this.#secrets.includes(secretId)) return false;
    native.ringRemoveSecret(this.#keys.handle, secretId);
    this.#secrets = this.#secrets.filter((s) => s !== secretId);
    if (this.#primarySecret === secretId) this.#primarySecret = null;
    this.sync();
    return true;
  }

  #epoch(): number {
    return Math.floor(this.#keys.options.now() / 1000 / this.#keys.options.rotateEverySeconds);
  }

  /** Derives the window of the current epoch for every secret and drops what fell out. */
  sync(): void {
    const keys = this.#keys;
    const { options } = keys;
    const { keepKeys } = options;
    const epoch = this.#epoch();
    const wanted = new Set<string>();
    let encrypting: string | null = null;
    for (const secretId of this.#secrets) {
      for (let e = epoch - keepKeys + 1; e <= epoch + 1; e++) {
        if (e < 0 || this.#revoked.has(`${secretId}:${e}`)) continue;
        const id = keys.find((m) => m.secretId === secretId && m.epoch === e) ?? native.ringDeriveKey(keys.handle, secretId, e);
        if (!keys.has(id)) keys.record(id, { source: 'derived', bits: 256, addedAt: options.now(), epoch: e, secretId });
        wanted.add(id);
        if (secretId === this.#primarySecret && e === epoch) encrypting = id;
      }
    }
    // The new key encrypts before the old ones go, as in every mode. Keys of a secret
    // removeSecret() took out were removed by the user; the others aged out.
    keys.switchEncrypting(encrypting, true);
    keys.keepOnly('derived', wanted, (m) => (m.secretId !== undefined && this.#secrets.includes(m.secretId) ? 'aged-out' : 'removed'));
    for (const revoked of [...this.#revoked]) {
      const e = Number(revoked.slice(revoked.indexOf(':') + 1));
      if (e < epoch - keepKeys) this.#revoked.delete(revoked);
    }
  }
}
