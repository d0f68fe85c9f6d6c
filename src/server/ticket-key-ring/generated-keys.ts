/**
 * `TicketKeyRing.generate()`: random 80-byte keys, a new one every `rotateEverySeconds`; the last
 * `keepKeys` keys are kept (the encrypting one included), so tickets survive `keepKeys - 1`
 * rotations. Nothing is shared with other processes, so there is no session-ID context to agree on.
 */
import * as crypto from 'node:crypto';

import { native } from '../../common/native';
import type { KeyMeta, RingKeys, RingMode } from './mode';

export class GeneratedKeys implements RingMode {
  readonly name = 'generated';
  readonly #keys: RingKeys;
  #lastRotation = 0;

  constructor(keys: RingKeys) {
    this.#keys = keys;
  }

  /** A new random key encrypts from now; the oldest beyond `keepKeys` age out. */
  rotate(): void {
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
    return this.#lastRotation + this.#keys.options.rotateEverySeconds * 1000;
  }

  /** A generated ring never stays without an encrypting key: removing it rotates at once. */
  keyRemoved(_meta: KeyMeta, wasEncrypting: boolean): boolean {
    return wasEncrypting;
  }

  checkEncryptingAdd(): void {}

  sessionIdContext(): undefined {
    return undefined;
  }
}
