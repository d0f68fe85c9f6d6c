/**
 * The real-client matrix: every client of drivers.ts against every server set-up (the bench's
 * variants, so what is measured is what the benchmark measures), TLS 1.2 and 1.3 pinned on the
 * server. A cell is the share of a client's returning connections the server resumed, counted by
 * the server itself (`isSessionReused()` on every connection): `resumed / (connections - 1)`,
 * the first connection of a client being a full handshake by definition.
 */
import * as crypto from 'node:crypto';
import * as net from 'node:net';

import { type ServerHandle, startServer } from '../bench/harness';
import { startRedis } from '../bench/redis';
import type { VariantContext, VariantName } from '../bench/variants';
import { selfSignedCertificate } from '../library';
import { CLIENTS, type ClientName, closeDrivers } from './drivers';

export type MatrixVersion = 'TLSv1.2' | 'TLSv1.3';
export const MATRIX_VERSIONS: readonly MatrixVersion[] = ['TLSv1.2', 'TLSv1.3'];

/** A server column: a bench variant run as one process, a cluster, or a fleet behind one address. */
interface MatrixServer {
  label: string;
  variant: VariantName;
  workers: number;
  processes: number;
}

export const MATRIX_SERVERS = {
  stock: { label: 'stock Node', variant: 'stock', workers: 0, processes: 1 },
  cache: { label: 'attach: internal cache', variant: 'attach', workers: 0, processes: 1 },
  ring: { label: 'attach: ticket ring', variant: 'ring', workers: 0, processes: 1 },
  cluster: { label: 'attach: cluster store, 2 workers', variant: 'shared', workers: 2, processes: 1 },
  fleet: { label: 'attach: fleet (Redis), 2 processes', variant: 'fleet', workers: 0, processes: 2 },
} satisfies Record<string, MatrixServer>;

export type MatrixServerName = keyof typeof MATRIX_SERVERS;

export interface MatrixCell {
  client: ClientName;
  server: MatrixServerName;
  version: MatrixVersion;
  /** Connections the server saw from this client. */
  connections: number;
  resumed: number;
  /** resumed / (connections - 1); null when the client could not run (see `note`). */
  ratio: number | null;
  note?: string;
}

export interface MatrixOptions {
  clients: readonly ClientName[];
  servers: readonly MatrixServerName[];
  versions: readonly MatrixVersion[];
  /** Connections per client and cell (the first is full). */
  connections: number;
  /** Called after each cell (progress). */
  onCell?(cell: MatrixCell): void;
}

/**
 * One address for a fleet, as a layer-4 load balancer gives it: each new connection goes to the
 * next member in turn. Clients key their session caches by host and port, so a fleet must look
 * like one server to them.
 */
async function roundRobinFront(ports: number[]): Promise<{ port: number; close(): Promise<void> }> {
  let next = 0;
  const sockets = new Set<net.Socket>();
  const front = net.createServer((client) => {
    const upstream = net.connect(ports[next++ % ports.length]!, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => (s === client ? upstream : client).destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  return {
    port: (front.address() as net.AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        front.close(() => resolve());
      }),
  };
}

async function counts(server: ServerHandle): Promise<{ handshakes: number; resumed: number }> {
  const c = await server.counts();
  if (!c) throw new Error('clients matrix: the server reported no counts');
  return c;
}

/** Measures every cell; servers start once per (server, version), clients run one after the other. */
export async function runMatrix(o: MatrixOptions): Promise<MatrixCell[]> {
  const cert = selfSignedCertificate('localhost');
  const cells: MatrixCell[] = [];
  const redis = o.servers.some((s) => MATRIX_SERVERS[s].variant === 'fleet') ? await startRedis() : undefined;
  try {
    for (const serverName of o.servers) {
      const spec: MatrixServer = MATRIX_SERVERS[serverName];
      for (const version of o.versions) {
        const ctx: VariantContext = {
          runTag: `clients-${process.pid}-${crypto.randomBytes(4).toString('hex')}`,
          secretHex: crypto.randomBytes(32).toString('hex'),
          redisPort: redis?.port,
        };
        const server = await startServer(spec.variant, spec.workers, cert, ctx, spec.processes, { version, closeConnections: true });
        const front = server.ports.length > 1 ? await roundRobinFront(server.ports) : undefined;
        const port = front?.port ?? server.port;
        try {
          for (const client of o.clients) {
            const driver = CLIENTS[client];
            const why = driver.unavailable();
            let cell: MatrixCell;
            if (why) {
              cell = { client, server: serverName, version, connections: 0, resumed: 0, ratio: null, note: why };
            } else {
              const before = await counts(server);
              await driver.run(port, o.connections);
              const after = await counts(server);
              const connections = after.handshakes - before.handshakes;
              const resumed = after.resumed - before.resumed;
              cell = {
                client,
                server: serverName,
                version,
                connections,
                resumed,
                ratio: connections > 1 ? resumed / (connections - 1) : null,
              };
            }
            cells.push(cell);
            o.onCell?.(cell);
          }
        } finally {
          await front?.close();
          await server.close();
        }
      }
    }
  } finally {
    await closeDrivers();
    await redis?.stop();
  }
  return cells;
}

/** The table as Markdown: a row per client, a column per server and version. */
export function matrixMarkdown(cells: readonly MatrixCell[]): string {
  const clients = [...new Set(cells.map((c) => c.client))];
  const columns = [...new Set(cells.map((c) => `${c.server}|${c.version}`))];
  const head = columns.map((k) => {
    const [server, version] = k.split('|') as [MatrixServerName, MatrixVersion];
    return `${MATRIX_SERVERS[server].label}, ${version.replace('TLSv', 'TLS ')}`;
  });
  const rows = clients.map((client) => {
    const values = columns.map((k) => {
      const cell = cells.find((c) => c.client === client && `${c.server}|${c.version}` === k);
      if (!cell || cell.ratio === null) return cell?.note ? 'n/a' : '';
      return `${cell.ratio.toFixed(2)} (${cell.resumed}/${cell.connections - 1})`;
    });
    return `| ${client} | ${values.join(' | ')} |`;
  });
  return [`| client | ${head.join(' | ')} |`, `|---|${columns.map(() => '---|').join('')}`, ...rows].join('\n');
}
