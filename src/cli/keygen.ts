/**
 * `tls-resumption keygen --format nginx|haproxy|node|secret (--out FILE [--force] | --base64)`
 */
import { parseArgs } from 'node:util';

import { generateKeyMaterial, type KeyFormat, KeyFormats, writeKeyFile } from '../ops/keygen';

export const summary = 'write fresh ticket key material (nginx, haproxy, node, secret) with mode 0600';

const USAGE = `usage: tls-resumption keygen --format nginx|haproxy|node|secret (--out FILE [--force] | --base64)

  nginx    80 raw bytes for ssl_session_ticket_key
  haproxy  3 lines of base64 80-byte keys for tls-ticket-keys
  node     48 raw bytes for server.setTicketKeys()
  secret   32 raw bytes
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
  if (!format || !Object.hasOwn(KeyFormats, format)) {
    process.stderr.write(
      `keygen: --format must be one of ${Object.keys(KeyFormats).join(', ')}${format ? `, got "${format}"` : ''}\n\n${USAGE}`,
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
  const data = generateKeyMaterial(format as KeyFormat);
  try {
    if (values.out !== undefined) {
      writeKeyFile(values.out, data, values.force);
      process.stderr.write(`keygen: wrote ${data.length} bytes of ${format} key material to ${values.out} (mode 0600)\n`);
    } else {
      // haproxy's format is already base64 text, one key per line.
      const text = format === 'haproxy' ? data.toString('latin1') : `${data.toString('base64')}\n`;
      process.stdout.write(text);
    }
  } finally {
    data.fill(0);
  }
  return 0;
}
