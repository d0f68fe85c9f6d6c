/**
 * AES-256-GCM sealing for everything the fleet writes to Redis (sessions and ticket keys): what
 * sits in Redis is useless without the wrapping secret every member was given. A key per purpose
 * is derived with HKDF-SHA256 so a session blob can never be opened as a ticket key or the reverse.
 */
import * as crypto from 'node:crypto';

import { native } from './native';
import { rangeError, typeError } from './validate';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Seals and opens blobs under one derived key. The key never leaves this closure. */
export interface SealedBox {
  /** base64(iv | tag | ciphertext); `label` is bound as additional data (e.g. the Redis key). */
  seal(plain: Buffer, label: string): string;
  /** The plaintext, or undefined for anything forged, truncated, garbage or sealed under another label. */
  open(sealed: unknown, label: string): Buffer | undefined;
}

/** Checks a 32-byte secret; RangeError / TypeError naming `field`. */
export function checkSecret(field: string, secret: unknown): Buffer {
  if (!Buffer.isBuffer(secret) && !(secret instanceof Uint8Array)) {
    throw typeError(field, 'a Buffer of 32 bytes', secret, true);
  }
  if (secret.byteLength !== 32) {
    throw rangeError(field, 'exactly 32 bytes', `${secret.byteLength} bytes`);
  }
  return Buffer.from(secret);
}

export function sealedBox(secret: Buffer, purpose: string): SealedBox {
  // Raw bytes, not a KeyObject: native.sealedOpen needs them (Node's Decipher leaves the
  // plaintext behind in a freed buffer, native/common/sealed_box.h).
  const key = Buffer.from(crypto.hkdfSync('sha256', secret, Buffer.alloc(0), `tls-resumption/${purpose}`, 32));
  return {
    seal(plain, label) {
      const iv = crypto.randomBytes(IV_BYTES);
      const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(label));
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
    },
    open(sealed, label) {
      if (typeof sealed !== 'string') return undefined;
      const raw = Buffer.from(sealed, 'base64');
      if (raw.length <= IV_BYTES + TAG_BYTES) return undefined;
      const body = raw.subarray(IV_BYTES + TAG_BYTES);
      // Its own allocation (not the shared pool), written once by OpenSSL: the caller's copy,
      // which the caller wipes (session master keys, ticket keys).
      const plain = Buffer.alloc(body.length);
      const ok = native.sealedOpen(
        key,
        raw.subarray(0, IV_BYTES),
        raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES),
        Buffer.from(label),
        body,
        plain,
      );
      return ok ? plain : undefined;
    },
  };
}
