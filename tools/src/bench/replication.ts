/**
 * Fleet replication benchmark (`npm run bench:replication`): three members on loopback, each a
 * process of its own (replication-member.ts) with `fleet: { redis, secret }` (replication, the default) and tickets off,
 * one redis-server, and returning clients that come back after at least 50 ms.
 *
 * Reported, in one run:
 * - resumption of returning clients placed at random per connection (2 of 3 connections land on
 *   a member that did not issue the session), TLS 1.2 session IDs and TLS 1.3 stateful tickets;
 * - server CPU (utime + stime of the three members, /proc) per returning connection when every
 *   client returns to the member that issued its session (local) and when every client returns
 *   to another member (cross); phases interleaved, the ratio cross / local per pair;
 * - Redis CPU and network bytes (INFO stats: in + out, which includes the fan-out to every
 *   member's stream reader) per new session, over a phase of full handshakes.
 *
 * Options: --clients N (default 300), --rounds N (default 6), --pairs N (default 3), --json.
 * Absolute CPU figures move with the machine's load; compare the ratios of one run.
 */
import { type ChildProcess, fork } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import * as tls from 'node:tls';

import { processTreeCpuMicros } from '../loadgen/procfs';
import { startRedis } from './redis';

type Version = 'TLSv1.2' | 'TLSv1.3';

interface Member {
  child: ChildProcess;
  port: number;
}

interface Client {
  session?: Buffer;
  /** Index of the member that issued `session`. */
  home: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const RETURN_AFTER_MS = 50;
const BATCH = 32;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

function startMember(redisPort: number, secretHex: string): Promise<Member> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'replication-member.js'), [], {
      env: { ...process.env, REDIS_PORT: String(redisPort), FLEET_SECRET: secretHex },
      stdio: 'inherit',
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`member exited with ${code}`)));
    child.once('message', (m: { port: number }) => resolve({ child, port: m.port }));
  });
}

function ask<T>(m: Member): Promise<T> {
  return new Promise((resolve) => {
    m.child.once('message', (msg) => resolve(msg as T));
    m.child.send('stats');
  });
}

function connect(port: number, version: Version, session: Buffer | undefined): Promise<{ reused: boolean; session?: Buffer }> {
  return new Promise((resolve, reject) => {
    let newest: Buffer | undefined;
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      rejectUnauthorized: false,
      session,
      minVersion: version,
      maxVersion: version,
      secureOptions: version === 'TLSv1.2' ? require('node:constants').SSL_OP_NO_TICKET : 0,
    });
    let reused = false;
    socket.on('session', (s: Buffer) => (newest = s));
    socket.on('secureConnect', () => (reused = socket.isSessionReused()));
    socket.on('data', () => undefined);
    socket.on('error', reject);
    socket.on('close', () => resolve({ reused, session: newest ?? session }));
  });
}

type Placement = 'random' | 'local' | 'cross';

/** One round: every client connects once (BATCH at a time), to a member chosen by `placement`. */
async function round(
  members: Member[],
  clients: Client[],
  version: Version,
  placement: Placement,
): Promise<{ returning: number; resumed: number }> {
  let returning = 0;
  let resumed = 0;
  for (let start = 0; start < clients.length; start += BATCH) {
    await Promise.all(
      clients.slice(start, start + BATCH).map(async (c) => {
        let target = crypto.randomInt(members.length);
        if (c.session && placement === 'local') target = c.home;
        if (c.session && placement === 'cross') target = (c.home + 1 + crypto.randomInt(members.length - 1)) % members.length;
        const res = await connect(members[target]!.port, version, c.session);
        if (c.session) {
          returning++;
          if (res.reused) resumed++;
        }
        // A resumed TLS 1.2 session ID stays the issuer's; a TLS 1.3 resumption brings a new ticket from this member.
        if (!res.reused || version === 'TLSv1.3') c.home = target;
        c.session = res.session;
      }),
    );
  }
  return { returning, resumed };
}

async function redisInfo(port: number): Promise<{ bytes: number; streamBytes: number; entries: number }> {
  const Redis = require('ioredis') as typeof import('ioredis').default;
  const r = new Redis({ port, host: '127.0.0.1' });
  try {
    const info = String(await r.info('stats'));
    const n = (k: string) => Number(new RegExp(`${k}:(\\d+)`).exec(info)?.[1] ?? 0);
    const streamBytes = Number((await r.call('MEMORY', 'USAGE', 'bench:stream')) ?? 0);
    const entries = Number(await r.call('XLEN', 'bench:stream'));
    return { bytes: n('total_net_input_bytes') + n('total_net_output_bytes'), streamBytes, entries };
  } finally {
    r.disconnect();
  }
}

async function main(): Promise<void> {
  const clientCount = arg('clients', 300);
  const rounds = arg('rounds', 6);
  const pairs = arg('pairs', 3);
  const redis = await startRedis();
  const secretHex = crypto.randomBytes(32).toString('hex');
  const members: Member[] = [];
  try {
    for (let i = 0; i < 3; i++) members.push(await startMember(redis.port, secretHex));
    const pids = members.map((m) => m.child.pid!);
    const serverCpu = () => processTreeCpuMicros(pids);
    const report: Record<string, unknown> = { clients: clientCount, rounds, members: 3, node: process.version };

    // 1. Resumption with random placement, each protocol, returning after >= 50 ms.
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const clients: Client[] = Array.from({ length: clientCount }, () => ({ home: 0 }));
      let returning = 0;
      let resumed = 0;
      for (let r = 0; r < rounds; r++) {
        if (r > 0) await sleep(RETURN_AFTER_MS);
        const res = await round(members, clients, version, 'random');
        returning += res.returning;
        resumed += res.resumed;
      }
      report[`random ${version}`] = { returning, resumed, ratio: Number((resumed / returning).toFixed(4)) };
    }

    // 2. Server CPU per returning connection: local vs cross, interleaved pairs.
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const clients: Client[] = Array.from({ length: clientCount }, () => ({ home: 0 }));
      await round(members, clients, version, 'random');
      const ratios: number[] = [];
      const perConnection: Record<Placement, number[]> = { local: [], cross: [], random: [] };
      for (let p = 0; p < pairs; p++) {
        for (const placement of ['local', 'cross'] as const) {
          await sleep(RETURN_AFTER_MS);
          const before = serverCpu();
          let n = 0;
          let resumed = 0;
          for (let r = 0; r < 2; r++) {
            await sleep(RETURN_AFTER_MS);
            const res = await round(members, clients, version, placement);
            n += res.returning;
            resumed += res.resumed;
          }
          perConnection[placement].push((serverCpu() - before) / n);
          if (resumed < n * 0.99) process.stderr.write(`${version} ${placement}: ${resumed}/${n} resumed\n`);
        }
        ratios.push(perConnection.cross[p]! / perConnection.local[p]!);
      }
      report[`cpu ${version}`] = {
        localMicrosPerConnection: perConnection.local.map(Math.round),
        crossMicrosPerConnection: perConnection.cross.map(Math.round),
        crossOverLocal: ratios.map((r) => Number(r.toFixed(3))),
      };
    }

    // 3. Redis CPU and bytes per new session: full handshakes only (clients without a session).
    const fresh = clientCount * 2;
    const cpu0 = redis.cpuMicros();
    const info0 = await redisInfo(redis.port);
    const clients: Client[] = Array.from({ length: fresh }, () => ({ home: 0 }));
    await round(members, clients, 'TLSv1.2', 'random');
    await sleep(500);
    const cpu1 = redis.cpuMicros();
    const info1 = await redisInfo(redis.port);
    report['redis per new session'] = {
      sessions: fresh,
      cpuMicros: Math.round((cpu1 - cpu0) / fresh),
      networkBytes: Math.round((info1.bytes - info0.bytes) / fresh),
      streamBytesPerEntry: Math.round(info1.streamBytes / Math.max(1, info1.entries)),
    };
    const stats = await Promise.all(members.map((m) => ask<{ stats: { fleet: { replication: Record<string, number> } } }>(m)));
    report.replication = stats.map((s) => {
      const r = s.stats.fleet.replication;
      return {
        published: r.published,
        applied: r.applied,
        dropped: r.dropped,
        rejected: r.rejected,
        lagP50Ms: r.lagP50Ms,
        lagP99Ms: r.lagP99Ms,
      };
    });
    if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else for (const [k, v] of Object.entries(report)) process.stdout.write(`${k}: ${JSON.stringify(v)}\n`);
  } finally {
    for (const m of members) m.child.kill('SIGKILL');
    await redis.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
