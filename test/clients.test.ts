/**
 * Real clients against real servers (tools/src/clients: the matrix `npx tls-resumption-tools
 * clients` prints for docs/clients.md): headless Chromium over the DevTools protocol, curl,
 * Python's ssl, Go's crypto/tls, openssl s_client -sess_out/-sess_in, Node's https and fetch.
 * The servers are the benchmark's: stock Node, attach with the internal cache, with the ticket
 * ring, a cluster of two workers on the shared store, and two fleet processes on Redis behind
 * one round-robin address. Each client makes a few connections in a row (the server answers
 * `Connection: close`); the server counts what resumed. A missing client fails the test, naming
 * the Debian package. Every cell is measured once, before the tests, three servers at a time with
 * one browser, at most four clients per server process (the full matrix with more connections is
 * `npx tls-resumption-tools clients`).
 */
import { CLIENTS, type ClientName } from '../tools/src/clients/drivers';
import { type MatrixCell, type MatrixServerName, type MatrixVersion, runMatrixGroups } from '../tools/src/clients/matrix';

jest.setTimeout(240_000);

const ALL = Object.keys(CLIENTS) as ClientName[];
// Four: Chromium on stock Node with TLS 1.3 misses the fourth (two tickets after the full
// handshake, none after a resumption).
const CONNECTIONS = 4;

let cells: MatrixCell[] = [];
beforeAll(async () => {
  cells = await runMatrixGroups(
    [
      { clients: ALL, servers: ['ring'], versions: ['TLSv1.2', 'TLSv1.3'] },
      { clients: ['chromium'], servers: ['stock'], versions: ['TLSv1.3'] },
      { clients: ['curl', 'go'], servers: ['cluster', 'fleet'], versions: ['TLSv1.2', 'TLSv1.3'] },
    ],
    { connections: CONNECTIONS, concurrency: 3, clientsPerServer: 4 },
  );
}, 240_000);

function cellsOf(clients: readonly ClientName[], servers: readonly MatrixServerName[]): MatrixCell[] {
  return cells.filter((c) => clients.includes(c.client) && servers.includes(c.server));
}

function ratio(client: ClientName, server: MatrixServerName, version: MatrixVersion): number {
  const cell = cells.find((c) => c.client === client && c.server === server && c.version === version);
  if (!cell) throw new Error(`no cell ${client} ${server} ${version}`);
  if (cell.note) throw new Error(`${client}: ${cell.note}`);
  return cell.ratio!;
}

// undici 7 and 8 (Node 24, 26) close an origin's pool when its last connection closes, and the
// pool's TLS session cache goes with it: fetch, one call after the other to a server that closes
// each connection, never resumes there (docs/clients.md). undici 6 (Node 20, 22) keeps the pool.
const FETCH_KEEPS_SESSIONS = Number(process.versions.node.split('.')[0]) <= 22;

test('every client resumes every returning connection on the ticket ring, TLS 1.2 and 1.3 (fetch: Node 20 and 22 only)', () => {
  const got = cellsOf(ALL, ['ring'])
    .filter((c) => c.client !== 'chromium')
    .map((c) => ({ client: c.client, version: c.version, ratio: c.ratio, note: c.note }));
  expect(got).toEqual(got.map((c) => ({ ...c, ratio: c.client === 'node-fetch' && !FETCH_KEEPS_SESSIONS ? 0 : 1 })));
  // Chromium: at most one miss in three on a loaded machine (1.00 in docs/clients.md's run).
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) expect(ratio('chromium', 'ring', version)).toBeGreaterThanOrEqual(0.66);
});

test('Chromium uses each TLS 1.3 ticket once: stock Node, which issues no ticket after a resumption, misses every third connection or more', () => {
  expect(ratio('chromium', 'stock', 'TLSv1.3')).toBeLessThanOrEqual(0.8);
});

test("curl and Go across cluster workers (shared store) and fleet members (Redis) behind one address; Go's TLS 1.2 client resumes only tickets", () => {
  const got = Object.fromEntries(
    cellsOf(['curl', 'go'], ['cluster', 'fleet']).map((c) => [`${c.client} ${c.server} ${c.version}`, c.ratio]),
  );
  // curl (7.88) resumes TLS 1.2 by session ID (on stock Node, tickets only, it resumed 1 of 6 in
  // docs/clients.md): across fleet members that ID comes from Redis, written asynchronously after
  // the handshake, and curl's next connection (at once, to the other member) races that write: 1
  // of 3 to 3 of 3 on a loaded machine. At least one shows the other member found it there.
  expect(got['curl fleet TLSv1.2']).toBeGreaterThan(0);
  expect(got).toEqual({
    'curl cluster TLSv1.2': 1,
    'curl cluster TLSv1.3': 1,
    // The cluster set-up turns tickets off (session IDs in the store): Go never offers a session ID.
    'go cluster TLSv1.2': 0,
    'go cluster TLSv1.3': 1,
    'curl fleet TLSv1.2': got['curl fleet TLSv1.2'],
    'curl fleet TLSv1.3': 1,
    'go fleet TLSv1.2': 1,
    'go fleet TLSv1.3': 1,
  });
});
