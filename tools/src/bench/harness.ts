/**
 * Parent side of a measured server: starts it in a process of its own (server.ts for Node
 * variants, anchors.ts for nginx/HAProxy), and reads its CPU from /proc over its whole process
 * tree (cluster workers included).
 */
import { type ChildProcess, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { SelfSignedCertificate } from '../library';
import { processTree, processTreeCpuMicros } from '../loadgen/procfs';
import { startAnchor } from './anchors';
import type { ServerConfig, ServerCounts, ServerReply, ServerRequest } from './server';
import { VARIANTS, type VariantContext, type VariantName } from './variants';

/** A running server under test. */
export interface ServerHandle {
  /** The first (or only) port. */
  port: number;
  /** Every port the server listens on (one per process of a fleet); clients are placed on all. */
  ports: number[];
  /** Root process id. */
  pid: number;
  /** CPU (user + system) of the server's process tree so far, microseconds. */
  cpuMicros(): number;
  /** Rotate ticket keys as the variant's operator would. No-op for anchors. */
  rotate(): Promise<void>;
  /** The server's own handshake counts (Node variants); undefined for anchors. */
  counts(): Promise<ServerCounts | undefined>;
  close(): Promise<void>;
}

/** Path of a compiled sibling module (also when this runs from TypeScript sources in tests). */
export function compiled(name: string): string {
  const here = path.join(__dirname, `${name}.js`);
  if (fs.existsSync(here)) return here;
  return path.join(__dirname, '..', '..', 'dist', 'bench', `${name}.js`);
}

function waitExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** How the server answers, besides its variant (see ServerConfig). */
export type ServerShape = Pick<ServerConfig, 'version' | 'closeConnections'>;

async function startNodeServer(
  variant: VariantName,
  workers: number,
  cert: SelfSignedCertificate,
  ctx: VariantContext,
  shape: ServerShape,
): Promise<ServerHandle> {
  const config: ServerConfig = { variant, workers, key: cert.key, cert: cert.cert, ctx, ...shape };
  const child = fork(compiled('server'), [], {
    env: { ...process.env, TSC_BENCH_SERVER: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`bench server ${variant} exited before listening (${code})`));
    child.once('exit', onExit);
    child.on('message', (m: ServerReply) => {
      if ('type' in m && m.type === 'ready') {
        child.off('exit', onExit);
        resolve(m);
      }
    });
  });
  let nextId = 1;
  const ask = (op: ServerRequest['op']): Promise<{ counts?: ServerCounts }> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const on = (m: { id?: number; counts?: ServerCounts }) => {
        if (m.id !== id) return;
        child.off('message', on);
        resolve(m);
      };
      child.on('message', on);
      try {
        child.send({ op, id });
      } catch (err) {
        child.off('message', on);
        reject(err as Error);
      }
    });
  let pids = processTree(ready.pid);
  return {
    port: ready.port,
    ports: [ready.port],
    pid: ready.pid,
    cpuMicros: () => {
      // Re-read the tree each time so workers started late are counted.
      pids = processTree(ready.pid);
      return processTreeCpuMicros(pids);
    },
    rotate: async () => {
      await ask('rotate');
    },
    counts: async () => (await ask('counts')).counts,
    close: async () => {
      if (child.connected) child.disconnect();
      await waitExit(child, 3000);
    },
  };
}

/**
 * Several processes of one variant as one server: every port, CPU and counts summed over all
 * (counts' variant figures per member as process1, process2, ...), rotation on each member.
 */
function fleetOf(members: ServerHandle[]): ServerHandle {
  return {
    port: members[0]!.port,
    ports: members.flatMap((m) => m.ports),
    pid: members[0]!.pid,
    cpuMicros: () => members.reduce((a, m) => a + m.cpuMicros(), 0),
    rotate: async () => {
      await Promise.all(members.map((m) => m.rotate()));
    },
    counts: async () => {
      const all = await Promise.all(members.map((m) => m.counts()));
      if (all.some((c) => !c)) return undefined;
      return {
        handshakes: all.reduce((a, c) => a + c!.handshakes, 0),
        resumed: all.reduce((a, c) => a + c!.resumed, 0),
        variant: Object.fromEntries(all.map((c, i) => [`process${i + 1}`, c!.variant])),
      };
    },
    close: async () => {
      await Promise.all(members.map((m) => m.close()));
    },
  };
}

/**
 * Starts `variant` with `workers` cluster workers (0: single process), as `processes` separate
 * server processes on their own ports (default 1). Members start one after the other, so the
 * first one of a Redis fleet creates the fleet's first ticket key and the next loads it.
 */
export async function startServer(
  variant: VariantName,
  workers: number,
  cert: SelfSignedCertificate,
  ctx: VariantContext,
  processes = 1,
  shape: ServerShape = {},
): Promise<ServerHandle> {
  const v = VARIANTS[variant];
  if (v.kind !== 'node') return startAnchor(v.kind, cert);
  if (processes <= 1) return startNodeServer(variant, workers, cert, ctx, shape);
  const members: ServerHandle[] = [];
  try {
    for (let i = 0; i < processes; i++) members.push(await startNodeServer(variant, workers, cert, ctx, shape));
  } catch (err) {
    await Promise.all(members.map((m) => m.close()));
    throw err;
  }
  return fleetOf(members);
}

/** Anchors present on this machine (`which nginx haproxy`). */
export { anchorAvailable } from './anchors';
