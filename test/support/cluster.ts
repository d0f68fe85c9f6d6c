/**
 * A real `cluster` primary for the shared-store tests: forks workers running shared-worker.ts
 * with round-robin scheduling, and a client population that reconnects with its newest session.
 */
import cluster, { type Worker } from 'node:cluster';
import * as path from 'node:path';
import * as tls from 'node:tls';

import type { Version } from './tls';

const WORKER = path.join(__dirname, 'shared-worker.ts');
const REGISTER = path.join(__dirname, 'ts-register.js');

export interface ClusterRun {
  port: number;
  workers: Worker[];
  /** Forks one more worker with the same environment; resolves once it listens. */
  fork(): Promise<Worker>;
  /** Asks one worker for its stats(). */
  stats(worker: Worker): Promise<Record<string, unknown> & { shared?: Record<string, number> }>;
  stop(): Promise<void>;
}

function waitFor<T>(worker: Worker, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: { type?: string }) => {
      if (msg?.type !== type) return;
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      resolve(msg as T);
    };
    const onExit = (code: number) => reject(new Error(`worker exited (${code}) before "${type}"`));
    worker.on('message', onMessage);
    worker.once('exit', onExit);
  });
}

/** `worker`: the worker script (default shared-worker.ts; readme-worker.ts runs the README's example). */
export async function startCluster(count: number, env: Record<string, string>, worker = WORKER): Promise<ClusterRun> {
  // Round robin in the primary: consecutive connections go to different workers (the default on
  // Linux already, set so the test does not depend on it).
  cluster.schedulingPolicy = cluster.SCHED_RR;
  cluster.setupPrimary({ exec: worker, execArgv: ['-r', REGISTER], silent: false });
  const workers: Worker[] = [];
  let port = 0;
  const fork = async (): Promise<Worker> => {
    // Every worker listens on port 0: the primary keys the shared handle by address and port, so
    // they all get the same one (a worker asking for the number itself would be refused).
    const worker = cluster.fork({ ...env, LISTEN_PORT: '0' });
    const msg = await waitFor<{ port: number }>(worker, 'listening');
    port = msg.port;
    workers.push(worker);
    return worker;
  };
  for (let i = 0; i < count; i++) await fork();
  return {
    get port() {
      return port;
    },
    workers,
    fork,
    async stats(worker) {
      const reply = waitFor<{ stats: Record<string, unknown> & { shared?: Record<string, number> } }>(worker, 'stats');
      worker.send({ cmd: 'stats' });
      return (await reply).stats;
    },
    async stop() {
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.isDead()) return resolve();
              w.once('exit', () => resolve());
              w.process.kill('SIGKILL');
            }),
        ),
      );
    },
  };
}

export interface Hit {
  reused: boolean;
  pid: string;
  session: Buffer | undefined;
}

/**
 * One connection: reports reuse, the pid of the worker that answered, the newest session.
 * `http`: the worker is an HTTPS server; one GET is sent and the body is its pid.
 */
export function hit(port: number, version: Version, session?: Buffer, http = false): Promise<Hit> {
  return new Promise((resolve, reject) => {
    let newest: Buffer | undefined;
    let data = '';
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      rejectUnauthorized: false,
      session,
      minVersion: version,
      maxVersion: version,
    });
    socket.setEncoding('utf8');
    // A connection the primary handed to a worker that was just killed never answers.
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer in 5 s')));
    socket.on('session', (s: Buffer) => (newest = s));
    socket.on('data', (d: string) => (data += d));
    let reused = false;
    // Read while the handshake state exists: after 'close' isSessionReused() has nothing to ask.
    socket.on('secureConnect', () => {
      reused = socket.isSessionReused();
      if (http) socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ reused, pid: http ? (data.split('\r\n\r\n')[1] ?? '') : data, session: newest }));
  });
}

export interface PopulationResult {
  /** Connections after each client's first. */
  reconnects: number;
  resumed: number;
  /** Reconnects served by another worker than the client's previous connection. */
  crossWorker: number;
  /** Of those, the ones that resumed. */
  crossWorkerResumed: number;
  failed: number;
  pids: Set<string>;
  ratio: number;
}

/**
 * `clients` clients, each making `perClient` connections in a row and offering the newest session
 * it got; `parallel` clients at a time. `between` runs after every connection (fault injection).
 */
export async function population(
  port: () => number,
  version: Version,
  clients: number,
  perClient: number,
  parallel = 7,
  between?: (done: number) => Promise<void> | void,
  http = false,
): Promise<PopulationResult> {
  const r: PopulationResult = { reconnects: 0, resumed: 0, crossWorker: 0, crossWorkerResumed: 0, failed: 0, pids: new Set(), ratio: 0 };
  let next = 0;
  let done = 0;
  const runClient = async () => {
    let session: Buffer | undefined;
    let lastPid: string | undefined;
    for (let i = 0; i < perClient; i++) {
      // Reconnect after a random pause, so clients do not march in step with the round robin.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
      let h: Hit;
      try {
        h = await hit(port(), version, session, http);
      } catch {
        r.failed++;
        continue;
      }
      if (h.pid === '') {
        r.failed++;
        continue;
      }
      r.pids.add(h.pid);
      if (session !== undefined) {
        r.reconnects++;
        if (h.reused) r.resumed++;
        if (h.pid !== lastPid) {
          r.crossWorker++;
          if (h.reused) r.crossWorkerResumed++;
        }
      }
      lastPid = h.pid;
      session = h.session ?? session;
      done++;
      if (between) await between(done);
    }
  };
  const lanes = Array.from({ length: parallel }, async () => {
    while (next < clients) {
      next++;
      await runClient();
    }
  });
  await Promise.all(lanes);
  r.ratio = r.reconnects === 0 ? 0 : r.resumed / r.reconnects;
  return r;
}
