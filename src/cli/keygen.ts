/**
 * `tls-resumption keygen --format <a format of KEY_FORMATS> (--out FILE [--force] | --base64)`
 */
import { parseArgs } from 'node:util';

import { generateKeyMaterial, writeKeyFile } from '../ops/keygen';
import { KEY_FORMATS, KEY_MATERIAL_FORMATS, type KeyMaterialFormat, keyFormatHelp } from '../server/ticket-key-ring/key-formats';

export const summary = `write fresh ticket key material (${KEY_MATERIAL_FORMATS.join(', ')}) with mode 0600`;

const USAGE = `usage: tls-resumption keygen --format ${KEY_MATERIAL_FORMATS.join('|')} (--out FILE [--force] | --base64)

${keyFormatHelp()}
  --out FILE  write FILE with mode 0600 (atomically; --force replaces an existing file)
  --base64    print the key material base64-encoded to stdout instead
`;

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        format: { type: 'string' },
        out: { type: 'string' },
        force: { type: 'boolean', default: false },
        base64: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`keygen: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const format = values.format;
  if (!format || !Object.hasOwn(KEY_FORMATS, format)) {
    process.stderr.write(
      `keygen: --format must be one of ${KEY_MATERIAL_FORMATS.join(', ')}${format ? `, got "${format}"` : ''}\n\n${USAGE}`,
    );
    return 2;
  }
  if (values.out === undefined && !values.base64) {
    process.stderr.write(
      `keygen: --out FILE is required (or --base64 to print the key base64-encoded); raw key bytes never go to a terminal\n\n${USAGE}`,
    );
    return 2;
  }
  if (values.out !== undefined && values.base64) {
    process.stderr.write('keygen: use either --out or --base64\n');
    return 2;
  }
  const data = generateKeyMaterial(format as KeyMaterialFormat);
  try {
    if (values.out !== undefined) {
      writeKeyFile(values.out, data, values.force);
      process.stderr.write(`keygen: wrote ${data.length} bytes of ${format} key material to ${values.out} (mode 0600)\n`);
    } else {
      // A text format is already base64, one key per line.
      const text = KEY_FORMATS[format as KeyMaterialFormat].text ? data.toString('latin1') : `${data.toString('base64')}\n`;
      process.stdout.write(text);
    }
  } finally {
    data.fill(0);
  }
  return 0;
}
