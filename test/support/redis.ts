/**
 * A real redis-server (or a Redis Cluster of them) for the tests: each test file starts its own on a free loopback port
 * (redis-server must be installed: `npm test` installs it through scripts/ensure-test-deps.js
 * when missing). Port finding and readiness are the benchmark's own helpers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { freePort, waitForPort } from '../../tools/src/bench/anchors';

export interface RedisServer {
  port: number;
  stop(): Promise<void>;
  /** SIGSTOP / SIGCONT the server: "slow" and "down mid-traffic" without losing its data. */
  pause(): void;
  resume(): void;
}

/** Always a server of this test's own, so it can be paused and killed. `extra`: more redis-server arguments. */
export async function startRedis(extra: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra];
  const child: ChildProcess = spawn('redis-server', args, { stdio: 'ignore' });
  await waitForPort(port, child, 10000);
  return {
    port,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }),
  };
}

export interface RedisClusterNode {
  port: number;
  child: ChildProcess;
}

export interface RedisCluster {
  nodes: RedisClusterNode[];
  /** Seed addresses for a cluster client. */
  seeds: Array<{ host: string; port: number }>;
  stop(): Promise<void>;
}

function redisCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`redis-cli ${args.join(' ')} exited ${code}: ${out}`))));
  });
}

/** A command on one node, through redis-cli. */
export function clusterNodeCommand(port: number, ...command: string[]): Promise<string> {
  return redisCli(['-h', '127.0.0.1', '-p', String(port), ...command]);
}

/**
 * A Redis Cluster of `masters` masters with one replica each on loopback (redis-server
 * --cluster-enabled yes, created with `redis-cli --cluster create ... --cluster-yes`), each node
 * with its own directory for nodes.conf, killed by pid on stop().
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-resumption-redis-cluster-'));
  const nodes: RedisClusterNode[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(
      nodes.map(
        (n) =>
          new Promise<void>((resolve) => {
            if (n.child.exitCode !== null || n.child.signalCode !== null) return resolve();
            n.child.once('exit', () => resolve());
            n.child.kill('SIGCONT');
            n.child.kill('SIGKILL');
          }),
      ),
    );
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters * 2; i++) {
      const [port, bus] = [await freePort(), await freePort()];
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--cluster-port',
          String(bus),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          '2000',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
        ],
        { stdio: 'ignore' },
      );
      nodes.push({ port, child });
      await waitForPort(port, child, 10000);
    }
    await redisCli(['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes']);
    for (const n of nodes) {
      for (let i = 0; !(await clusterNodeCommand(n.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'); i++) {
        if (i > 100) throw new Error(`Redis Cluster node ${n.port} never reached cluster_state:ok`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, seeds: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), stop };
}
