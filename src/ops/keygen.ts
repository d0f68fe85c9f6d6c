/**
 * Fresh ticket key material in the formats servers read, for `tls-resumption keygen`.
 * Bytes come from crypto.randomBytes (OpenSSL's CSPRNG) and are wiped after writing.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { expectOneOf } from '../common/validate';

/** Key file formats. */
export const KeyFormats = Object.freeze({
  /** nginx `ssl_session_ticket_key`: 80 raw bytes (16 name, 32 HMAC, 32 AES-256). */
  nginx: { bytes: 80, lines: 0 },
  /** HAProxy `tls-ticket-keys`: 3 lines, each the base64 of an 80-byte key. */
  haproxy: { bytes: 80, lines: 3 },
  /** Node `server.setTicketKeys()`: 48 raw bytes (16 name, 16 HMAC, 16 AES-128). */
  node: { bytes: 48, lines: 0 },
  /** A 32-byte secret (a key ring's or a fleet's shared secret). */
  secret: { bytes: 32, lines: 0 },
});

export type KeyFormat = keyof typeof KeyFormats;

/** Fresh key material in `format`: raw bytes, or for haproxy the text of the key file. The caller wipes it. */
export function generateKeyMaterial(format: KeyFormat): Buffer {
  const spec = KeyFormats[format];
  if (!spec) expectOneOf('format', format, Object.keys(KeyFormats));
  if (spec.lines === 0) return crypto.randomBytes(spec.bytes);
  const parts: Buffer[] = [];
  for (let i = 0; i < spec.lines; i++) {
    const key = crypto.randomBytes(spec.bytes);
    parts.push(Buffer.from(`${key.toString('base64')}\n`));
    key.fill(0);
  }
  const out = Buffer.concat(parts);
  for (const p of parts) p.fill(0);
  return out;
}

/**
 * Writes `data` to `file` with mode 0600, atomically (a temporary file beside it, then rename),
 * so a server reloading the file never reads half a key. Refuses to replace a file unless `force`.
 */
export function writeKeyFile(file: string, data: Buffer, force = false): void {
  if (!force && fs.existsSync(file)) throw new Error(`keygen: ${file} exists; pass --force to replace it.`);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  } catch (err) {
    // The temporary file is ours, not the user's: name the path they gave.
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      `keygen: cannot write ${file}: ${code === 'ENOENT' ? `the directory ${path.dirname(file)} does not exist` : (err as Error).message.replace(tmp, path.dirname(file))}`,
    );
  }
  try {
    fs.fchmodSync(fd, 0o600); // the umask can only remove bits, but be explicit
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}
