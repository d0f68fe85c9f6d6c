/**
 * The run's own redis-server for the fleet variants: started on a free loopback port with no
 * persistence, its CPU readable like a server's, killed when the scenario ends. Skipped (with the
 * reason) when redis-server or the ioredis client is not installed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';

import { processTreeCpuMicros } from '../loadgen/procfs';
import { freePort, waitForPort } from './anchors';

export interface BenchRedis {
  port: number;
  pid: number;
  /** CPU (user + system) of redis-server so far, microseconds. */
  cpuMicros(): number;
  stop(): Promise<void>;
}

const SEARCH_PATH = `${process.env.PATH ?? ''}:/usr/sbin:/usr/local/sbin:/usr/bin`;

/** Why Redis variants cannot run here, or undefined when they can. */
export function redisUnavailable(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { env: { ...process.env, PATH: SEARCH_PATH }, encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout.trim()) return 'redis-server not installed (apt-get install redis-server)';
  try {
    require.resolve('ioredis');
  } catch {
    return 'the ioredis client is not installed (npm install ioredis)';
  }
  return undefined;
}

export async function startRedis(): Promise<BenchRedis> {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { env: { ...process.env, PATH: SEARCH_PATH }, encoding: 'utf8' });
  const bin = r.stdout.trim();
  if (r.status !== 0 || !bin) throw new Error('redis-server not installed');
  const port = await freePort();
  const child: ChildProcess = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  try {
    await waitForPort(port, child, 10_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const pid = child.pid!;
  return {
    port,
    pid,
    cpuMicros: () => processTreeCpuMicros([pid]),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
