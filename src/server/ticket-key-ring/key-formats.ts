/**
 * Ticket key bytes as users hold them (Node's `getTicketKeys()`, nginx and HAProxy key files)
 * turned into the one layout the native ring takes: 16-byte name | HMAC key | AES key. Every
 * function works on a private copy the caller wipes, and checks everything before returning.
 *
 * KEY_FORMATS is the one list of key formats: the ring's `add()`/`addKeyFile()` checks and
 * readers, `keygen`'s writer and the CLI's usage all read it, so a new format is one row here
 * (and one member of the public `TicketKeyFormat` union, which the row's type requires).
 */
import { ErrorCodes, expectOneOf, mustBe, rangeError, typeError, withCode } from '../../common/validate';
import type { AddKeyFileOptions, TicketKeyFormat } from './types';

/** Every format of key material: the ring's key formats and the 32-byte secret `keygen` also writes. */
export type KeyMaterialFormat = TicketKeyFormat | 'secret';

/** Splits a key file's contents into its keys, each checked, before the ring adds any. */
type KeyFileReader = (contents: Uint8Array | string) => Array<Uint8Array | string>;

interface KeyFormatRow {
  /** Key lengths in bytes `add()` takes in this format; empty: the ring takes no key in it. */
  ringKeyBytes: readonly number[];
  /** A key is base64 text (`add()` accepts a string; keygen writes one base64 line per key) rather than raw bytes. */
  text: boolean;
  /** Whether a key of `length` bytes is laid out name | AES | HMAC (the native ring's order is name | HMAC | AES). */
  aesFirst: (length: number) => boolean;
  /** `addKeyFile()`'s reader; absent: `addKeyFile()` refuses the format. */
  readKeyFile?: KeyFileReader;
  /** What keygen writes: `keys` fresh keys of `bytes` bytes, and the server setting that reads it. */
  generate: { bytes: number; keys: number; readBy?: string };
}

/** A row's type follows the public types: a key-file format has a reader, a ring format key lengths. */
type KeyFormatTable = {
  [F in KeyMaterialFormat]: KeyFormatRow &
    (F extends AddKeyFileOptions['format'] ? { readKeyFile: KeyFileReader } : { readKeyFile?: undefined }) &
    (F extends TicketKeyFormat ? unknown : { ringKeyBytes: readonly [] });
};

const NO_KEY_BYTES: readonly [] = [];

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

/** An nginx `ssl_session_ticket_key` file is one raw key: its bytes, never text. */
function nginxKeyFile(contents: Uint8Array | string): Uint8Array[] {
  if (typeof contents === 'string') throw typeError('contents', 'the raw bytes of an nginx key file (a Buffer)', contents, true);
  return [contents];
}

/**
 * The keys of a HAProxy `tls-ticket-keys` file, one base64 line each ('#' comments and blank
 * lines skipped), all checked before the caller adds any. Errors name the line.
 */
function haproxyKeyLines(contents: Uint8Array | string): string[] {
  const text = typeof contents === 'string' ? contents : Buffer.from(contents).toString('utf8');
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw rangeError('contents', 'a HAProxy key file (one base64 key per line)', 'no key');
  lines.forEach((line, i) => {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(line)) {
      throw withCode(new TypeError(mustBe(`contents, line ${i + 1}`, 'base64 text', 'other text')), ErrorCodes.invalidValue);
    }
    const n = Buffer.byteLength(line, 'base64');
    if (n !== 48 && n !== 80) throw rangeError(`contents, line ${i + 1}`, 'base64 of 48 or 80 bytes', `${n} bytes`);
  });
  return lines;
}

/** The key formats, in the order messages list them. */
export const KEY_FORMATS: Readonly<KeyFormatTable> = Object.freeze({
  /**
   * nginx `ssl_session_ticket_key` files, as ngx_ssl_session_ticket_keys() reads them:
   * 48 bytes are name | AES key | HMAC key, 80 bytes are name | HMAC key | AES key.
   */
  nginx: {
    ringKeyBytes: [48, 80],
    text: false,
    aesFirst: (length: number) => length === 48,
    readKeyFile: nginxKeyFile,
    generate: { bytes: 80, keys: 1, readBy: 'ssl_session_ticket_key' },
  },
  /** Node's `getTicketKeys()` / `setTicketKeys()`: name | HMAC key | AES key (48 bytes; 80 in the same order). */
  node: {
    ringKeyBytes: [48, 80],
    text: false,
    aesFirst: () => false,
    generate: { bytes: 48, keys: 1, readBy: 'server.setTicketKeys()' },
  },
  /** HAProxy `tls-ticket-keys` (struct tls_sess_key): name | AES key | HMAC key, 48 or 80 bytes, base64 lines. */
  haproxy: {
    ringKeyBytes: [48, 80],
    text: true,
    aesFirst: () => true,
    readKeyFile: haproxyKeyLines,
    generate: { bytes: 80, keys: 3, readBy: 'tls-ticket-keys' },
  },
  /** A 32-byte secret (a key ring's or a fleet's shared secret): no ticket key itself. */
  secret: {
    ringKeyBytes: NO_KEY_BYTES,
    text: false,
    aesFirst: () => false,
    generate: { bytes: 32, keys: 1 },
  },
});

const ALL_FORMATS = Object.keys(KEY_FORMATS) as KeyMaterialFormat[];

/** The formats `add()` takes, in table order. */
export const TICKET_KEY_FORMATS: readonly TicketKeyFormat[] = ALL_FORMATS.filter(
  (f): f is TicketKeyFormat => KEY_FORMATS[f].ringKeyBytes.length > 0,
);

/** The formats `addKeyFile()` reads, in table order. */
export const KEY_FILE_FORMATS: readonly AddKeyFileOptions['format'][] = ALL_FORMATS.filter(
  (f): f is AddKeyFileOptions['format'] => KEY_FORMATS[f].readKeyFile !== undefined,
);

/** The formats keygen writes: every row. */
export const KEY_MATERIAL_FORMATS: readonly KeyMaterialFormat[] = ALL_FORMATS;

/** `format` checked against `formats` (RangeError listing them), as its literal type. */
export function expectFormat<F extends KeyMaterialFormat>(format: unknown, formats: readonly F[]): F {
  return expectOneOf('format', format, formats);
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
 * A copy of a key of `add()` (one of the format's lengths), in the native ring's order; the
 * caller wipes it. A key of a bad length is wiped before the RangeError naming "key".
 */
export function ringOrderKey(key: unknown, format: TicketKeyFormat): Buffer {
  const row = KEY_FORMATS[format];
  const copy = copyBytes('key', key, row.text);
  if (!row.ringKeyBytes.includes(copy.length)) {
    const n = copy.length;
    copy.fill(0);
    throw rangeError('key', `${row.ringKeyBytes.join(' or ')} bytes (16-byte name + HMAC + AES keys)`, `${n} bytes`);
  }
  if (row.aesFirst(copy.length)) aesFirstToRingOrder(copy);
  return copy;
}

/** The keys of a key file in `format`, all checked before the caller adds any. */
export function readKeyFile(contents: Uint8Array | string, format: AddKeyFileOptions['format']): Array<Uint8Array | string> {
  return KEY_FORMATS[format].readKeyFile(contents);
}

/** Fresh key material in `format` as its file holds it (raw bytes, or base64 lines for a text format). The caller wipes it. */
export function generateKeyFile(format: KeyMaterialFormat, randomBytes: (n: number) => Buffer): Buffer {
  const { text, generate } = KEY_FORMATS[format];
  if (!text) return randomBytes(generate.bytes);
  const parts: Buffer[] = [];
  for (let i = 0; i < generate.keys; i++) {
    const key = randomBytes(generate.bytes);
    parts.push(Buffer.from(`${key.toString('base64')}\n`));
    key.fill(0);
  }
  const out = Buffer.concat(parts);
  for (const p of parts) p.fill(0);
  return out;
}

/** One line of `keygen --help` per format, from the table. */
export function keyFormatHelp(): string {
  const width = Math.max(...KEY_MATERIAL_FORMATS.map((f) => f.length)) + 2;
  return KEY_MATERIAL_FORMATS.map((f) => {
    const { keys, bytes, readBy } = KEY_FORMATS[f].generate;
    const what = KEY_FORMATS[f].text ? `${keys} lines of base64 ${bytes}-byte keys` : `${bytes} raw bytes`;
    return `  ${f.padEnd(width)}${what}${readBy ? ` for ${readBy}` : ''}`;
  }).join('\n');
}
