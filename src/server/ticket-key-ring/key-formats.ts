/**
 * Ticket key bytes as users hold them (Node's `getTicketKeys()`, nginx and HAProxy key files)
 * turned into the one layout the native ring takes: 16-byte name | HMAC key | AES key. Every
 * function works on a private copy the caller wipes, and checks everything before returning.
 */
import { mustBe, rangeError, typeError } from '../../common/validate';
import type { TicketKeyFormat } from './types';

/** A private copy of caller bytes: ours to wipe. Throws TypeError/RangeError naming `field`. */
export function copyBytes(field: string, value: unknown, allowBase64: boolean): Buffer {
  if (typeof value === 'string' && allowBase64) {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value.trim())) throw typeError(field, 'base64 text', value, true);
    return Buffer.from(value.trim(), 'base64');
  }
  if (!(value instanceof Uint8Array)) {
    throw typeError(field, `a Buffer or Uint8Array${allowBase64 ? ' or a base64 string' : ''}`, value, true);
  }
  return Buffer.from(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
}

/** Whether a key in `format` is laid out name | AES | HMAC (the native ring takes name | HMAC | AES). */
function aesFirst(format: TicketKeyFormat, length: number): boolean {
  return format === 'haproxy' || (format === 'nginx' && length === 48);
}

/** Reorders a name | AES | HMAC key to the ring's name | HMAC | AES, in place. */
function aesFirstToRingOrder(key: Buffer): void {
  const half = (key.length - 16) / 2;
  const aes = Buffer.from(key.subarray(16, 16 + half));
  key.copy(key, 16, 16 + half, 16 + 2 * half);
  aes.copy(key, 16 + half);
  aes.fill(0);
}

/**
 * A copy of a key of `add()` (48 or 80 bytes in `format`), in the native ring's order; the caller
 * wipes it. A key of a bad length is wiped before the RangeError naming "key".
 */
export function ringOrderKey(key: unknown, format: TicketKeyFormat): Buffer {
  const copy = copyBytes('key', key, format === 'haproxy');
  if (copy.length !== 48 && copy.length !== 80) {
    const n = copy.length;
    copy.fill(0);
    throw rangeError('key', '48 or 80 bytes (16-byte name + HMAC + AES keys)', `${n} bytes`);
  }
  if (aesFirst(format, copy.length)) aesFirstToRingOrder(copy);
  return copy;
}

/** An nginx `ssl_session_ticket_key` file is one raw key: its bytes, never text. */
export function nginxKeyFile(contents: Uint8Array | string): Uint8Array {
  if (typeof contents === 'string') throw typeError('contents', 'the raw bytes of an nginx key file (a Buffer)', contents, true);
  return contents;
}

/**
 * The keys of a HAProxy `tls-ticket-keys` file, one base64 line each ('#' comments and blank
 * lines skipped), all checked before the caller adds any. Errors name the line.
 */
export function haproxyKeyLines(contents: Uint8Array | string): string[] {
  const text = typeof contents === 'string' ? contents : Buffer.from(contents).toString('utf8');
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw rangeError('contents', 'a HAProxy key file (one base64 key per line)', 'no key');
  lines.forEach((line, i) => {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(line)) throw new TypeError(mustBe(`contents, line ${i + 1}`, 'base64 text', 'other text'));
    const n = Buffer.byteLength(line, 'base64');
    if (n !== 48 && n !== 80) throw rangeError(`contents, line ${i + 1}`, 'base64 of 48 or 80 bytes', `${n} bytes`);
  });
  return lines;
}
