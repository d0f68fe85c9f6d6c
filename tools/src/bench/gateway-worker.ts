/**
 * One cluster worker of the gateway benchmark (gateway.ts): makes HTTPS requests to the upstream,
 * a new connection each (the upstream closes every connection), under many SNI names, through
 * the client the run measures:
 * - `agent`: a stock `https.Agent({ keepAlive: false })` (its own cache: one session per host, 100);
 * - `fetch`: global `fetch` with an undici Agent on undici's own connector (`buildConnector`,
 *   as fetch's default dispatcher: one session per servername, 100);
 * - `agent+cache`, `fetch+cache`: the same with `clientSessions({ shared: { path } })`, one store
 *   file for both workers and for the workers after a restart.
 * Environment: GATEWAY_CLIENT, GATEWAY_PORT, GATEWAY_STORE, GATEWAY_CONCURRENCY,
 * GATEWAY_CA (the root the upstream's chain verifies against; empty: `rejectUnauthorized: false`).
 * The primary sends `{ round, requests, hosts, worker, workers }`; the worker answers with every
 * connection's connect time (ms, request start to handshake done) and whether it resumed.
 */
import * as https from 'node:https';
import type * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import type * as tls from 'node:tls';

import * as undici from 'undici';
import { clientSessions } from '../library';

export type GatewayClient = 'agent' | 'fetch' | 'agent+cache' | 'fetch+cache';

export interface RoundRequest {
  round: number;
  requests: number;
  hosts: number;
  worker: number;
  workers: number;
}

export interface RoundResult {
  connectMs: number[];
  resumed: number;
  connections: number;
  /** Connections that were this worker's first to their host in the round, and of those resumed: the host was last met by the other worker, or before the restart. */
  firstConnections: number;
  firstResumed: number;
  errors: number;
}

/** The SNI name of host `i`: every name reaches the one loopback upstream. */
export function hostName(i: number): string {
  return `h${i}.gateway.test`;
}

const client = process.env.GATEWAY_CLIENT as GatewayClient;
const port = Number(process.env.GATEWAY_PORT);
const concurrency = Number(process.env.GATEWAY_CONCURRENCY ?? 4);
/** How the upstream is checked: its chain against the private root and its name, or not at all. */
const verification: tls.ConnectionOptions = process.env.GATEWAY_CA ? { ca: process.env.GATEWAY_CA } : { rejectUnauthorized: false };

/** Every name resolves to the loopback upstream (no DNS in the measurement). */
const lookup: net.LookupFunction = (_host, options, callback) => {
  const cb = callback as (...args: unknown[]) => void;
  if (options.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
};

const sessions = client.endsWith('+cache')
  ? clientSessions({ shared: { path: process.env.GATEWAY_STORE!, slotBytes: 2048, sizeBytes: 64 * 1024 * 1024 } })
  : undefined;

const empty = (): RoundResult => ({ connectMs: [], resumed: 0, connections: 0, firstConnections: 0, firstResumed: 0, errors: 0 });
let current = empty();
/** Hosts this worker has not connected to yet in the round. */
let unmet = new Set<string>();

function record(ms: number, socket: tls.TLSSocket, name: string): void {
  const reused = socket.isSessionReused();
  current.connections++;
  current.connectMs.push(ms);
  if (reused) current.resumed++;
  if (unmet.delete(name)) {
    current.firstConnections++;
    if (reused) current.firstResumed++;
  }
}

type Request = (name: string) => Promise<void>;

function agentRequest(): Request {
  const agent = sessions ? sessions.agent({ keepAlive: false }) : new https.Agent({ keepAlive: false });
  return (name) =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const req = https.request({ host: '127.0.0.1', port, servername: name, headers: { host: name }, agent, ...verification });
      req.once('socket', (s: net.Socket) =>
        (s as tls.TLSSocket).once('secureConnect', () => record(performance.now() - t0, s as tls.TLSSocket, name)),
      );
      req.once('response', (res) => res.resume().once('end', resolve));
      req.once('error', reject);
      req.end();
    });
}

function fetchRequest(): Request {
  const tlsOptions = { ...verification, lookup };
  const connector = (
    sessions ? sessions.connector(tlsOptions) : undici.buildConnector(tlsOptions as never)
  ) as undici.buildConnector.connector;
  const timed: undici.buildConnector.connector = (options, callback) => {
    const t0 = performance.now();
    connector(options, (err, socket) => {
      if (!err) record(performance.now() - t0, socket as tls.TLSSocket, options.hostname);
      (callback as (e: Error | null, s: net.Socket | null) => void)(err, socket);
    });
  };
  const dispatcher = new undici.Agent({ connect: timed });
  return async (name) => {
    const res = await fetch(`https://${name}:${port}/`, { dispatcher } as unknown as RequestInit);
    await res.arrayBuffer();
  };
}

const request = client.startsWith('agent') ? agentRequest() : fetchRequest();

async function runRound(r: RoundRequest): Promise<RoundResult> {
  current = empty();
  // This worker's share: request j goes to host j % hosts; the workers swap shares every round,
  // so a host's next connection comes from the other worker (the cache must be shared).
  const mine: number[] = [];
  for (let j = 0; j < r.requests; j++) if (j % r.workers === (r.worker + r.round) % r.workers) mine.push(j % r.hosts);
  unmet = new Set(mine.map(hostName));
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < mine.length) {
        const host = mine[next++]!;
        try {
          await request(hostName(host));
        } catch {
          current.errors++;
        }
      }
    }),
  );
  return current;
}

process.on('message', (msg: RoundRequest | 'stats') => {
  if (msg === 'stats') {
    process.send!({ stats: sessions?.stats() });
    return;
  }
  runRound(msg).then(
    (result) => process.send!({ result }),
    (err: unknown) => process.send!({ error: String(err) }),
  );
});
process.send!({ ready: true });
