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
import { type SelfSignedCertificate, selfSignedCertificate } from '../library';
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

/** Some clients against some server set-ups, TLS 1.2 and/or 1.3: every combination is a cell. */
export interface MatrixGroup {
  clients: readonly ClientName[];
  servers: readonly MatrixServerName[];
  versions: readonly MatrixVersion[];
}

export interface MatrixOptions extends MatrixGroup {
  /** Connections per client and cell (the first is full). */
  connections: number;
  /**
   * Servers measured at the same time, each with its own clients one after the other (Chromium
   * opens a tab per run; its session cache is keyed by host and port). Default: 1.
   */
  concurrency?: number;
  /** Clients measured against one server process; more go to another process of the same set-up. Default: all. */
  clientsPerServer?: number;
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

/** A server set-up in one TLS version and the clients measured against it. */
interface MatrixUnit {
  server: MatrixServerName;
  version: MatrixVersion;
  clients: ClientName[];
}

async function runUnit(
  unit: MatrixUnit,
  connections: number,
  cert: SelfSignedCertificate,
  redisPort: number | undefined,
): Promise<MatrixCell[]> {
  const spec: MatrixServer = MATRIX_SERVERS[unit.server];
  const ctx: VariantContext = {
    runTag: `clients-${process.pid}-${crypto.randomBytes(4).toString('hex')}`,
    secretHex: crypto.randomBytes(32).toString('hex'),
    redisPort,
  };
  const cells: MatrixCell[] = [];
  const server = await startServer(spec.variant, spec.workers, cert, ctx, spec.processes, {
    version: unit.version,
    closeConnections: true,
  });
  const front = server.ports.length > 1 ? await roundRobinFront(server.ports) : undefined;
  const port = front?.port ?? server.port;
  try {
    for (const client of unit.clients) {
      const base = { client, server: unit.server, version: unit.version };
      const why = CLIENTS[client].unavailable();
      if (why) {
        cells.push({ ...base, connections: 0, resumed: 0, ratio: null, note: why });
        continue;
      }
      const before = await counts(server);
      await CLIENTS[client].run(port, connections);
      const after = await counts(server);
      const seen = after.handshakes - before.handshakes;
      const resumed = after.resumed - before.resumed;
      cells.push({ ...base, connections: seen, resumed, ratio: seen > 1 ? resumed / (seen - 1) : null });
    }
  } finally {
    await front?.close();
    await server.close();
  }
  return cells;
}

/**
 * Measures every cell of every group; each server set-up starts once per TLS version (groups that
 * share one share its server), its clients run one after the other. Cells come back in the
 * groups' order.
 */
export async function runMatrixGroups(
  groups: readonly MatrixGroup[],
  o: Pick<MatrixOptions, 'connections' | 'concurrency' | 'clientsPerServer' | 'onCell'>,
): Promise<MatrixCell[]> {
  const merged: MatrixUnit[] = [];
  for (const g of groups) {
    for (const server of g.servers) {
      for (const version of g.versions) {
        let unit = merged.find((u) => u.server === server && u.version === version);
        if (!unit) merged.push((unit = { server, version, clients: [] }));
        for (const c of g.clients) if (!unit.clients.includes(c)) unit.clients.push(c);
      }
    }
  }
  const per = o.clientsPerServer ?? Number.POSITIVE_INFINITY;
  const units = merged.flatMap((u) =>
    Array.from({ length: Math.ceil(u.clients.length / Math.min(per, u.clients.length)) }, (_, i) => ({
      ...u,
      clients: u.clients.slice(i * per, (i + 1) * per),
    })),
  );
  // The longest first: what runs last should be short.
  units.sort((a, b) => b.clients.length - a.clients.length);
  const cert = selfSignedCertificate('localhost');
  const results: MatrixCell[][] = units.map(() => []);
  const redis = units.some((u) => MATRIX_SERVERS[u.server].variant === 'fleet') ? await startRedis() : undefined;
  try {
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < units.length; i = next++) {
        results[i] = await runUnit(units[i]!, o.connections, cert, redis?.port);
        for (const cell of results[i]!) o.onCell?.(cell);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 1, units.length)) }, worker));
  } finally {
    await closeDrivers();
    await redis?.stop();
  }
  const all = results.flat();
  const out: MatrixCell[] = [];
  for (const g of groups) {
    for (const server of g.servers) {
      for (const version of g.versions) {
        for (const client of g.clients) {
          const cell = all.find((c) => c.client === client && c.server === server && c.version === version);
          if (cell && !out.includes(cell)) out.push(cell);
        }
      }
    }
  }
  return out;
}

/** Measures every cell; servers start once per (server, version), clients run one after the other. */
export function runMatrix(o: MatrixOptions): Promise<MatrixCell[]> {
  return runMatrixGroups([o], o);
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
