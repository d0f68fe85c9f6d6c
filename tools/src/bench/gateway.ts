#!/usr/bin/env node
import { type ChildProcess, fork } from 'node:child_process';
/**
 * Gateway benchmark (`npm run bench:gateway`): a cluster of 2 workers making HTTPS requests, a
 * new connection each, to one loopback upstream under many SNI names (1, 50, 500, 5000 by
 * default), through stock `https.Agent`, stock `fetch` (undici's own connector), and both with
 * `clientSessions({ shared: { path } })`; then the workers are restarted and make the round again.
 * Upstreams: Node with this package attached (gateway-upstream.ts) and nginx (tickets on), each a
 * process of its own.
 *
 * Per upstream, host count and client, three rounds of max(hosts, --min-requests) requests (short
 * rounds measure V8 still compiling the client's code: 500 requests gave ratios up to 0.2 higher
 * than 3,000 in one sitting); the
 * workers swap their hosts every round, so each host's next connection comes from the other
 * worker. Round 1 meets every host; round 2 (warm) and round 3 (after the restart) are measured:
 * - resumed: share of the round's connections that resumed (every one is a returning connection);
 * - client CPU µs per connection: utime + stime of the two workers from /proc over the round;
 * - upstream CPU µs per connection: the same for the upstream's process tree;
 * - connect p50 / p99: request start to handshake done, ms.
 * Absolute CPU figures move with the machine's load: compare the ratios of one run.
 *
 * Every client verifies the upstream as a gateway does by default: the upstream serves a leaf for
 * `*.gateway.test` and its intermediate under a private root, which the clients are given as `ca`
 * (upstream-pki.ts; `--chain ecdsa` P-256 throughout, `rsa` RSA-2048 under RSA-4096). `--chain none`
 * is the unverified setting of earlier runs: a self-signed leaf and `rejectUnauthorized: false`,
 * which spares a stock client the chain and host-name checks a resumed connection skips.
 *
 * Options: --hosts 1,50,500,5000  --clients agent,fetch,agent+cache,fetch+cache
 *          --upstreams node,nginx  --chain ecdsa|rsa|none  --min-requests 2000
 *          --concurrency 4 (per worker)  --json
 */
import cluster, { type Worker } from 'node:cluster';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { selfSignedCertificate } from '../library';
import { processTree, processTreeCpuMicros } from '../loadgen/procfs';
import { anchorAvailable, startAnchor } from './anchors';
import type { GatewayClient, RoundRequest, RoundResult } from './gateway-worker';
import { compiled } from './harness';
import { CHAIN_KINDS, type ChainKind, type UpstreamPki, upstreamPki } from './upstream-pki';

export type GatewayUpstream = 'node' | 'nginx';
export const GATEWAY_CLIENTS: readonly GatewayClient[] = ['agent', 'fetch', 'agent+cache', 'fetch+cache'];
const WORKERS = 2;

export interface GatewayOptions {
  hosts: number[];
  clients: GatewayClient[];
  upstreams: GatewayUpstream[];
  /** Requests per round at least (a round always visits every host once). */
  minRequests: number;
  /** Requests in flight per worker. */
  concurrency: number;
  /** The upstream's certificate chain, verified by every client; `none`: self-signed and not verified. */
  chain: ChainKind | 'none';
}

/** One measured round. */
export interface GatewayPhase {
  connections: number;
  /** Share of the round's connections that resumed (every one is a returning connection). */
  resumed: number;
  /** The same over each worker's first connection to each host in the round: the host's previous connection came from the other worker (warm) or from the workers before the restart. */
  resumedFirst: number;
  clientCpuMicrosPerConnection: number;
  upstreamCpuMicrosPerConnection: number;
  connectP50Ms: number;
  connectP99Ms: number;
  errors: number;
}

export interface GatewayRow {
  upstream: GatewayUpstream;
  hosts: number;
  client: GatewayClient;
  warm: GatewayPhase;
  afterRestart: GatewayPhase;
}

interface Upstream {
  port: number;
  cpuMicros(): number;
  close(): Promise<void>;
}

async function startNodeUpstream(pki: UpstreamPki | undefined): Promise<Upstream> {
  const child: ChildProcess = fork(compiled('gateway-upstream'), [], {
    stdio: 'inherit',
    env: pki ? { ...process.env, UPSTREAM_KEY: pki.key, UPSTREAM_CERT: pki.cert } : process.env,
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the Node upstream exited with ${code}`)));
    child.once('message', (m: { port: number }) => resolve(m.port));
  });
  child.removeAllListeners('exit');
  return {
    port,
    cpuMicros: () => processTreeCpuMicros([child.pid!]),
    close: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.disconnect();
      }),
  };
}

async function startNginxUpstream(pki: UpstreamPki | undefined): Promise<Upstream> {
  // Tickets on (nginx's own random key), its shared cache for session IDs, and a closed
  // connection after every response (keepalive_timeout 0), so each request is a new connection.
  const h = await startAnchor('nginx', pki ?? selfSignedCertificate('localhost'), [
    'ssl_session_cache shared:SSL:10m',
    'ssl_session_tickets on',
    'keepalive_timeout 0',
  ]);
  return { port: h.port, cpuMicros: () => processTreeCpuMicros(processTree(h.pid)), close: () => h.close() };
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

class Workers {
  readonly #env: NodeJS.ProcessEnv;
  #workers: Worker[] = [];

  constructor(env: NodeJS.ProcessEnv) {
    this.#env = env;
  }

  async start(): Promise<void> {
    const c = cluster;
    c.setupPrimary({ exec: compiled('gateway-worker'), execArgv: [], silent: false });
    this.#workers = await Promise.all(
      Array.from(
        { length: WORKERS },
        () =>
          new Promise<Worker>((resolve, reject) => {
            const w = c.fork(this.#env);
            w.once('exit', (code) => reject(new Error(`a gateway worker exited with ${code}`)));
            w.once('message', () => resolve(w));
          }),
      ),
    );
    for (const w of this.#workers) w.removeAllListeners('exit');
  }

  cpuMicros(): number {
    return processTreeCpuMicros(this.#workers.map((w) => w.process.pid!));
  }

  round(round: number, requests: number, hosts: number): Promise<RoundResult[]> {
    return Promise.all(
      this.#workers.map(
        (w, worker) =>
          new Promise<RoundResult>((resolve, reject) => {
            w.once('message', (m: { result?: RoundResult; error?: string }) => (m.result ? resolve(m.result) : reject(new Error(m.error))));
            const msg: RoundRequest = { round, requests, hosts, worker, workers: WORKERS };
            w.send(msg);
          }),
      ),
    );
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', () => resolve());
            w.process.kill('SIGTERM');
          }),
      ),
    );
    this.#workers = [];
  }
}

async function measureRound(workers: Workers, upstream: Upstream, round: number, requests: number, hosts: number): Promise<GatewayPhase> {
  const client0 = workers.cpuMicros();
  const upstream0 = upstream.cpuMicros();
  const results = await workers.round(round, requests, hosts);
  const clientCpu = workers.cpuMicros() - client0;
  const upstreamCpu = upstream.cpuMicros() - upstream0;
  const connectMs = results.flatMap((r) => r.connectMs).sort((a, b) => a - b);
  const connections = results.reduce((n, r) => n + r.connections, 0);
  const resumed = results.reduce((n, r) => n + r.resumed, 0);
  const first = results.reduce((n, r) => n + r.firstConnections, 0);
  const firstResumed = results.reduce((n, r) => n + r.firstResumed, 0);
  return {
    connections,
    resumed: connections ? resumed / connections : 0,
    resumedFirst: first ? firstResumed / first : 0,
    clientCpuMicrosPerConnection: connections ? clientCpu / connections : 0,
    upstreamCpuMicrosPerConnection: connections ? upstreamCpu / connections : 0,
    connectP50Ms: quantile(connectMs, 0.5),
    connectP99Ms: quantile(connectMs, 0.99),
    errors: results.reduce((n, r) => n + r.errors, 0),
  };
}

/**
 * Every client at one host count, interleaved so the machine's load falls on all of them alike:
 * round 1 meets every host, round 2 is measured warm, every client's workers restart, round 3 is
 * measured. Each client has its own workers and store file.
 */
async function runHosts(
  kind: GatewayUpstream,
  upstream: Upstream,
  hosts: number,
  o: GatewayOptions,
  pki: UpstreamPki | undefined,
): Promise<GatewayRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-resumption-gateway-'));
  const sets = o.clients.map(
    (client) =>
      new Workers({
        GATEWAY_CLIENT: client,
        GATEWAY_PORT: String(upstream.port),
        GATEWAY_STORE: path.join(dir, `client-sessions-${client.replace('+', '-')}`),
        GATEWAY_CONCURRENCY: String(o.concurrency),
        GATEWAY_CA: pki?.ca ?? '',
      }),
  );
  const requests = Math.max(hosts, o.minRequests);
  try {
    for (const w of sets) await w.start();
    for (const w of sets) await w.round(0, requests, hosts);
    const warm: GatewayPhase[] = [];
    for (const w of sets) warm.push(await measureRound(w, upstream, 1, requests, hosts));
    for (const w of sets) {
      await w.stop();
      await w.start();
    }
    const afterRestart: GatewayPhase[] = [];
    for (const w of sets) afterRestart.push(await measureRound(w, upstream, 2, requests, hosts));
    return o.clients.map((client, i) => ({ upstream: kind, hosts, client, warm: warm[i]!, afterRestart: afterRestart[i]! }));
  } finally {
    for (const w of sets) await w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Every upstream × host count × client, in that order; `progress` hears each row. */
export async function runGateway(o: GatewayOptions, progress: (row: GatewayRow) => void = () => undefined): Promise<GatewayRow[]> {
  const rows: GatewayRow[] = [];
  const pki = o.chain === 'none' ? undefined : upstreamPki(o.chain);
  for (const kind of o.upstreams) {
    if (kind === 'nginx' && !anchorAvailable('nginx')) {
      process.stderr.write('gateway: nginx is not installed, its rows are skipped (apt-get install nginx)\n');
      continue;
    }
    const upstream = kind === 'node' ? await startNodeUpstream(pki) : await startNginxUpstream(pki);
    try {
      for (const hosts of o.hosts) {
        for (const row of await runHosts(kind, upstream, hosts, o, pki)) {
          rows.push(row);
          progress(row);
        }
      }
    } finally {
      await upstream.close();
    }
  }
  return rows;
}

const f0 = (n: number) => n.toFixed(0);
const f2 = (n: number) => n.toFixed(2);

/** One table line per row, markdown. */
export function gatewayTable(rows: GatewayRow[]): string {
  const head =
    '| upstream | hosts | client | resumed warm (first per host) | resumed after restart (first per host) | client CPU µs/conn warm / restart | upstream CPU µs/conn warm / restart | connect p50 / p99 ms warm | connect p50 / p99 ms restart | errors |\n|---|---|---|---|---|---|---|---|---|---|\n';
  return (
    head +
    rows
      .map(
        (r) =>
          `| ${r.upstream} | ${r.hosts} | ${r.client} | ${f2(r.warm.resumed)} (${f2(r.warm.resumedFirst)}) | ${f2(r.afterRestart.resumed)} (${f2(r.afterRestart.resumedFirst)}) | ${f0(r.warm.clientCpuMicrosPerConnection)} / ${f0(r.afterRestart.clientCpuMicrosPerConnection)} | ${f0(r.warm.upstreamCpuMicrosPerConnection)} / ${f0(r.afterRestart.upstreamCpuMicrosPerConnection)} | ${f2(r.warm.connectP50Ms)} / ${f2(r.warm.connectP99Ms)} | ${f2(r.afterRestart.connectP50Ms)} / ${f2(r.afterRestart.connectP99Ms)} | ${r.warm.errors + r.afterRestart.errors} |`,
      )
      .join('\n') +
    '\n'
  );
}

/** Cache against stock, per upstream, host count and client kind: client CPU per connection (warm and after the restart). */
export function gatewayRatios(rows: GatewayRow[]): string {
  const lines: string[] = [];
  for (const r of rows) {
    if (!r.client.endsWith('+cache')) continue;
    const stock = rows.find((s) => s.upstream === r.upstream && s.hosts === r.hosts && s.client === r.client.replace('+cache', ''));
    if (!stock) continue;
    const ratio = (a: number, b: number) => (b > 0 ? f2(a / b) : 'n/a');
    lines.push(
      `${r.upstream}, ${r.hosts} hosts, ${r.client} / ${stock.client}: client CPU per connection ${ratio(r.warm.clientCpuMicrosPerConnection, stock.warm.clientCpuMicrosPerConnection)}× warm, ${ratio(r.afterRestart.clientCpuMicrosPerConnection, stock.afterRestart.clientCpuMicrosPerConnection)}× after restart; upstream CPU ${ratio(r.warm.upstreamCpuMicrosPerConnection, stock.warm.upstreamCpuMicrosPerConnection)}× warm, ${ratio(r.afterRestart.upstreamCpuMicrosPerConnection, stock.afterRestart.upstreamCpuMicrosPerConnection)}× after restart`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * `npm start`'s outbound line: 2 workers, 200 SNI names on a Node upstream, stock https.Agent
 * against the Agent with the shared cache, warm and after a restart of the workers.
 */
export async function gatewayLine(): Promise<string> {
  const hosts = 200;
  const rows = await runGateway({
    hosts: [hosts],
    clients: ['agent', 'agent+cache'],
    upstreams: ['node'],
    minRequests: hosts,
    concurrency: 4,
    chain: 'ecdsa',
  });
  const [stock, cache] = [rows.find((r) => r.client === 'agent')!, rows.find((r) => r.client === 'agent+cache')!];
  const cpu = (r: GatewayRow) => `${f0(r.warm.clientCpuMicrosPerConnection)}/${f0(r.afterRestart.clientCpuMicrosPerConnection)}`;
  return (
    `outbound (gateway: 2 workers, ${hosts} SNI names, new connection per request): returning connections resumed, warm / after a worker restart: ` +
    `stock https.Agent ${f2(stock.warm.resumed)} / ${f2(stock.afterRestart.resumed)}, with clientSessions({ shared }) ${f2(cache.warm.resumed)} / ${f2(cache.afterRestart.resumed)}; ` +
    `client CPU µs per connection ${cpu(stock)} vs ${cpu(cache)} (full run: npm run bench:gateway)`
  );
}

function listArg<T extends string>(name: string, fallback: readonly T[], allowed?: readonly T[]): T[] {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return [...fallback];
  const list = (process.argv[i + 1] ?? '').split(',') as T[];
  for (const v of list) {
    if (allowed && !allowed.includes(v))
      throw new RangeError(`--${name} must be a comma-separated list of ${allowed.join(', ')}, got ${v}.`);
  }
  return list;
}

function intArg(name: string, fallback: number, min: number, max: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < min || v > max)
    throw new RangeError(`--${name} must be an integer between ${min} and ${max}, got ${process.argv[i + 1]}.`);
  return v;
}

async function main(): Promise<void> {
  const hosts = listArg('hosts', ['1', '50', '500', '5000']).map(Number);
  for (const h of hosts)
    if (!Number.isInteger(h) || h < 1 || h > 100000) throw new RangeError(`--hosts must list integers between 1 and 100000, got ${h}.`);
  const options: GatewayOptions = {
    hosts,
    clients: listArg('clients', GATEWAY_CLIENTS, GATEWAY_CLIENTS),
    upstreams: listArg<GatewayUpstream>('upstreams', ['node', 'nginx'], ['node', 'nginx']),
    minRequests: intArg('min-requests', 2000, 2, 1_000_000),
    concurrency: intArg('concurrency', 4, 1, 256),
    chain: listArg<ChainKind | 'none'>('chain', ['ecdsa'], [...CHAIN_KINDS, 'none'])[0]!,
  };
  process.stderr.write(
    `gateway: Node ${process.version} (OpenSSL ${process.versions.openssl}), ${WORKERS} workers × ${options.concurrency} in flight, hosts ${hosts.join('/')}, chain ${options.chain}${options.chain === 'none' ? ' (not verified)' : ' (verified)'}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}\n`,
  );
  const started = Date.now();
  const rows = await runGateway(options, (r) =>
    process.stderr.write(
      `  ${r.upstream} ${r.hosts} hosts ${r.client}: resumed ${f2(r.warm.resumed)} (first per host ${f2(r.warm.resumedFirst)}), after restart ${f2(r.afterRestart.resumed)} (${f2(r.afterRestart.resumedFirst)}); client ${f0(r.warm.clientCpuMicrosPerConnection)} / ${f0(r.afterRestart.clientCpuMicrosPerConnection)} µs/conn\n`,
    ),
  );
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ node: process.version, openssl: process.versions.openssl, options, rows }, null, 2)}\n`);
    return;
  }
  process.stdout.write(gatewayTable(rows));
  process.stdout.write(`\n${gatewayRatios(rows)}`);
  process.stdout.write(`\n(${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench:gateway: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
