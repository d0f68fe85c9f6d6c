/**
 * `tls-resumption-tools clients`: the real-client matrix (tools/src/clients/matrix.ts) as a
 * Markdown table, one cell per client, server set-up and TLS version: the share of returning
 * connections the server resumed.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';

import { CLIENTS, type ClientName } from '../clients/drivers';
import { MATRIX_SERVERS, MATRIX_VERSIONS, type MatrixServerName, type MatrixVersion, matrixMarkdown, runMatrix } from '../clients/matrix';

export const summary = 'resumption of real clients (Chromium, curl, Python, Go, openssl, Node) against stock Node and attach set-ups';

const CLIENT_NAMES = Object.keys(CLIENTS) as ClientName[];
const SERVER_NAMES = Object.keys(MATRIX_SERVERS) as MatrixServerName[];

const HELP = `usage: tls-resumption-tools clients [options]

  --clients LIST       ${CLIENT_NAMES.join(',')} (default: all)
  --servers LIST       ${SERVER_NAMES.join(',')} (default: all)
  --versions LIST      ${MATRIX_VERSIONS.join(',')} (default: both)
  --connections N      connections per client and cell, the first one full (default 6)
  --json FILE          write every cell as JSON
`;

function list<T extends string>(flag: string, raw: string | undefined, known: readonly T[]): T[] {
  if (raw === undefined) return [...known];
  const items = raw.split(',').map((s) => s.trim());
  for (const i of items) if (!known.includes(i as T)) throw new RangeError(`--${flag}: unknown "${i}" (known: ${known.join(', ')}).`);
  return items as T[];
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      clients: { type: 'string' },
      servers: { type: 'string' },
      versions: { type: 'string' },
      connections: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const connections = values.connections === undefined ? 6 : Number(values.connections);
  if (!Number.isInteger(connections) || connections < 2 || connections > 1000) {
    throw new RangeError(`--connections must be an integer between 2 and 1000, got "${values.connections}".`);
  }
  const cells = await runMatrix({
    clients: list('clients', values.clients, CLIENT_NAMES),
    servers: list('servers', values.servers, SERVER_NAMES),
    versions: list<MatrixVersion>('versions', values.versions, MATRIX_VERSIONS),
    connections,
    onCell: (c) =>
      process.stderr.write(`${c.server} ${c.version} ${c.client}: ${c.ratio === null ? (c.note ?? 'n/a') : c.ratio.toFixed(2)}\n`),
  });
  process.stdout.write(`${matrixMarkdown(cells)}\n`);
  if (values.json) fs.writeFileSync(values.json, `${JSON.stringify({ node: process.version, connections, cells }, null, 2)}\n`);
  return 0;
}
