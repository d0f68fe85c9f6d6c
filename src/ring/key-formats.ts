/**
 * Key bytes from elsewhere: private copies of caller buffers (ours to wipe) and the layouts of
 * Node, nginx and HAProxy key files (see TicketKeyFormat) turned into the native ring's
 * name | HMAC | AES order.
 */
import type { TicketKeyFormat } from './types';

/** A private copy of caller bytes: ours to wipe. Throws TypeError/RangeError naming `field`. */
export function copyBytes(field: string, value: unknown, allowBase64: boolean): Buffer {
  if (typeof value === 'string' && allowBase64) {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value.trim())) throw new TypeError(`"${field}" must be base64 text.`);
    return Buffer.from(value.trim(), 'base64');
  }
  if (!(value instanceof Uint8Array)) {
    const kind = value === null ? 'null' : typeof value;
    throw new TypeError(`"${field}" must be a Buffer or Uint8Array${allowBase64 ? ' or a base64 string' : ''}, got ${kind}.`);
  }
  return Buffer.from(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
}

/** Whether a key in `format` is laid out name | AES | HMAC (the native ring takes name | HMAC | AES). */
export function aesFirst(format: TicketKeyFormat, length: number): boolean {
  return format === 'haproxy' || (format === 'nginx' && length === 48);
}

/** Reorders a name | AES | HMAC key to the ring's name | HMAC | AES, in place. */
export function aesFirstToRingOrder(key: Buffer): void {
  const half = (key.length - 16) / 2;
  const aes = Buffer.from(key.subarray(16, 16 + half));
  key.copy(key, 16, 16 + half, 16 + 2 * half);
  aes.copy(key, 16 + half);
  aes.fill(0);
}
