/**
 * A real redis-server for the tests: each test file starts its own on a free loopback port
 * (redis-server must be installed: `npm test` installs it through scripts/ensure-test-deps.js
 * when missing). Port finding and readiness are the benchmark's own helpers.
 */
import { type ChildProcess, spawn } from 'node:child_process';

import { freePort, waitForPort } from '../../tools/src/bench/anchors';

export interface RedisServer {
  port: number;
  stop(): Promise<void>;
  /** SIGSTOP / SIGCONT the server: "slow" and "down mid-traffic" without losing its data. */
  pause(): void;
  resume(): void;
}

/** Always a server of this test's own, so it can be paused and killed. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  await waitForPort(port, child, 10000);
  return {
    port,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }),
  };
}
