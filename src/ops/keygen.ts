/**
 * Fresh ticket key material in the formats servers read, for `tls-resumption keygen`.
 * Bytes come from crypto.randomBytes (OpenSSL's CSPRNG) and are wiped after writing.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ErrorCodes, withCode } from '../common/validate';
import { expectFormat, generateKeyFile, KEY_MATERIAL_FORMATS, type KeyMaterialFormat } from '../server/ticket-key-ring/key-formats';

/** Fresh key material in `format`: raw bytes, or for a text format (haproxy) the text of the key file. The caller wipes it. */
export function generateKeyMaterial(format: KeyMaterialFormat): Buffer {
  return generateKeyFile(expectFormat(format, KEY_MATERIAL_FORMATS), crypto.randomBytes);
}

/**
 * Writes `data` to `file` with mode 0600, atomically (a temporary file beside it, then rename),
 * so a server reloading the file never reads half a key. Refuses to replace a file unless `force`.
 */
export function writeKeyFile(file: string, data: Buffer, force = false): void {
  if (!force && fs.existsSync(file))
    throw withCode(new Error(`keygen: ${file} exists; pass --force to replace it.`), ErrorCodes.invalidValue);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  } catch (err) {
    // The temporary file is ours, not the user's: name the path they gave.
    const code = (err as NodeJS.ErrnoException).code;
    throw withCode(
      new Error(
        `keygen: cannot write ${file}: ${code === 'ENOENT' ? `the directory ${path.dirname(file)} does not exist` : (err as Error).message.replace(tmp, path.dirname(file))}`,
      ),
      ErrorCodes.invalidValue,
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
