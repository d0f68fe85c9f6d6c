/**
 * Entry of a measured server process (forked by harness.ts). Builds one Node https server of a
 * variant, single process or as a cluster of workers, and answers the parent over IPC: rotate
 * ticket keys, report counts. It never loads the load generator.
 */
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';

import { engineKeyServerOptions } from './hardware-key-server';
import { rotateTicketKeys, VARIANTS, type VariantContext, type VariantHandle, type VariantName } from './variants';

/** @internal configuration passed in the environment (inherited by cluster workers). */
export interface ServerConfig {
  variant: VariantName;
  /** 0: the server runs in this process; N: a cluster primary with N workers. */
  workers: number;
  key: string;
  cert: string;
  /**
   * What the processes of one run share (store name, Redis port, secret). The harness always
   * sets it; without it (single-process tools such as bench:instructions) the process makes its
   * own, which only variants that need nothing shared can use.
   */
  ctx?: VariantContext;
  /** Only this TLS version (the client matrix pins it on the server, whatever the client offers). Default: 1.2 and 1.3. */
  version?: 'TLSv1.2' | 'TLSv1.3';
  /** Every response says `Connection: close`, so each request of a client is a new connection (the client matrix, browser pages). */
  closeConnections?: boolean;
}

/** Counts the server itself saw, to cross-check the load generator. */
export interface ServerCounts {
  handshakes: number;
  resumed: number;
  variant: Record<string, unknown>;
}

export type ServerRequest = { op: 'rotate'; id: number } | { op: 'counts'; id: number };
export type ServerReply = { type: 'ready'; port: number; pid: number } | { id: number; counts?: ServerCounts; ok?: boolean };

const config = JSON.parse(process.env.TSC_BENCH_SERVER ?? 'null') as ServerConfig | null;
if (!config) throw new Error('bench server: TSC_BENCH_SERVER is not set');

async function startServer(onListening: (port: number) => void): Promise<{ counts(): ServerCounts; rotate(): void }> {
  const variant = VARIANTS[config!.variant];
  if (variant.kind !== 'node') throw new Error(`bench server: ${config!.variant} is not a Node variant`);
  // The hardware-key scenario serves from a token through the engine instead of `key`.
  const keyOptions = process.env.TSC_BENCH_ENGINE_KEY
    ? engineKeyServerOptions(process.env.TSC_BENCH_ENGINE_KEY, config!.cert)
    : { key: config!.key };
  const versions = config!.version ? { minVersion: config!.version, maxVersion: config!.version } : {};
  const server = https.createServer(
    { ...keyOptions, cert: config!.cert, ...versions, ...(('serverOptions' in variant && variant.serverOptions) || {}) },
    (_req, res) => {
      if (!config!.closeConnections) return void res.end('ok\n');
      // A page that names its icon inline: a browser makes one connection per page, no /favicon.ico.
      res.writeHead(200, { connection: 'close', 'content-type': 'text/html' });
      res.end('<!doctype html><link rel="icon" href="data:,"><p>ok</p>\n');
    },
  );
  let handshakes = 0;
  let resumed = 0;
  server.on('secureConnection', (socket) => {
    handshakes++;
    if (socket.isSessionReused()) resumed++;
  });
  // Clients read to close; a client that vanishes must not crash the server.
  server.on('tlsClientError', () => undefined);
  const ctx: VariantContext = config!.ctx ?? { runTag: `solo-${process.pid}`, secretHex: randomBytes(32).toString('hex') };
  const handle: VariantHandle = ('setup' in variant && (await variant.setup?.(server, ctx))) || {};
  server.listen(0, '127.0.0.1', () => onListening((server.address() as AddressInfo).port));
  return {
    counts: () => ({ handshakes, resumed, variant: handle.stats?.() ?? {} }),
    rotate: () => (handle.rotate ? handle.rotate() : rotateTicketKeys(server)),
  };
}

function sum(all: ServerCounts[]): ServerCounts {
  return {
    handshakes: all.reduce((a, c) => a + c.handshakes, 0),
    resumed: all.reduce((a, c) => a + c.resumed, 0),
    variant: Object.fromEntries(all.map((c, i) => [`worker${i + 1}`, c.variant])),
  };
}

if (config.workers === 0 || cluster.isWorker) {
  // Requests only come after 'ready', so the server exists by then.
  let s: Awaited<ReturnType<typeof startServer>> | undefined;
  startServer((port) => {
    if (cluster.isWorker) process.send?.({ type: 'listening', port });
    else process.send?.({ type: 'ready', port, pid: process.pid } satisfies ServerReply);
  }).then(
    (started) => (s = started),
    (err: unknown) => {
      process.stderr.write(`bench server ${config.variant}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
  process.on('message', (m: ServerRequest) => {
    if (!s) return;
    if (m.op === 'rotate') {
      s.rotate();
      process.send?.({ id: m.id, ok: true });
    } else if (m.op === 'counts') {
      process.send?.({ id: m.id, counts: s.counts() });
    }
  });
  process.on('disconnect', () => process.exit(0));
} else {
  // Cluster primary: workers share the port (the primary hands out one port for listen(0)).
  const workers = Array.from({ length: config.workers }, () => cluster.fork());
  let listening = 0;
  let port = 0;
  for (const w of workers) {
    w.on('message', (m: { type?: string; port?: number }) => {
      if (m.type !== 'listening') return;
      port = m.port!;
      if (++listening === workers.length) process.send?.({ type: 'ready', port, pid: process.pid } satisfies ServerReply);
    });
  }
  const ask = (w: (typeof workers)[number], req: ServerRequest): Promise<{ counts?: ServerCounts }> =>
    new Promise((resolve) => {
      const on = (m: { id?: number; counts?: ServerCounts }) => {
        if (m.id !== req.id) return;
        w.off('message', on);
        resolve(m);
      };
      w.on('message', on);
      w.send(req);
    });
  process.on('message', async (m: ServerRequest) => {
    const replies = await Promise.all(workers.map((w) => ask(w, m)));
    if (m.op === 'counts') process.send?.({ id: m.id, counts: sum(replies.map((r) => r.counts!)) });
    else process.send?.({ id: m.id, ok: true });
  });
  process.on('disconnect', () => {
    for (const w of workers) w.process.kill('SIGTERM');
    process.exit(0);
  });
}
