/**
 * A cluster worker (or plain child) for the shared-store tests. Configured by environment:
 *   SHARED_NAME / SHARED_PATH  attach with `shared` (neither: the control, a per-worker cache)
 *   SHARED_SIZE                sizeBytes (default 1 MiB)
 *   SID_CTX                    the server's sessionIdContext (default "svc")
 *   LISTEN_PORT                port to listen on (0: cluster shares one random port)
 *   STOCK=1                    the internal cache off, as Node ships (tickets off by secureOptions)
 * Answers each connection with its pid, so the primary sees which worker served it. An attach()
 * that throws is reported as {type: 'attachError', message} and the worker serves without the
 * store. Messages:
 *   primary -> worker {cmd: 'stats'} -> {type: 'stats', stats, reopenEvents} (the sharedStoreReopened events seen)
 *   primary -> worker {cmd: 'lockAndHang'} -> {type: 'locked', slot}: the test addon's dieWriting,
 *   the worker then holds a stripe lock, mid-"write", until it is killed.
 *   primary -> worker {cmd: 'lockAll'} -> {type: 'locked', stripes}: the test addon's
 *   lockAllStripes, the worker then holds every stripe lock while it lives.
 *   primary -> worker {cmd: 'drain'}: a graceful exit, as servers do it: server.close(), the IPC
 *   channel dropped, the store left attached, and the process ends when its event loop is empty.
 */

import { SSL_OP_NO_TICKET } from 'node:constants';
import * as tls from 'node:tls';

import { attach } from '../../src/server/attach';
import { hooks } from './store-hooks';
import { cert } from './tls';

const sharedName = process.env.SHARED_NAME;
const sharedPath = process.env.SHARED_PATH;
const server = tls.createServer(
  { key: cert.key, cert: cert.cert, secureOptions: SSL_OP_NO_TICKET, sessionIdContext: process.env.SID_CTX ?? 'svc' },
  (socket) => {
    socket.on('error', () => undefined);
    socket.resume().end(String(process.pid));
  },
);
server.on('tlsClientError', () => undefined);
const sizeBytes = Number(process.env.SHARED_SIZE ?? 1 << 20);
const shared = sharedName ? { name: sharedName, sizeBytes } : sharedPath ? { path: sharedPath, sizeBytes } : undefined;
// STOCK=1: Node as shipped (the benchmark's baseline); attached otherwise.
const stock = process.env.STOCK === '1';
let attachError: string | undefined;
function attachOrReport() {
  try {
    return attach(server, { cache: { enabled: !stock, size: 20480 }, tickets: { enabled: false }, shared });
  } catch (e) {
    attachError = (e as Error).message;
    return attach(server, { cache: { enabled: !stock, size: 20480 }, tickets: { enabled: false } });
  }
}
const cache = attachOrReport();
const reopenEvents: unknown[] = [];
cache.on('sharedStoreReopened', ({ path, reopened, error }) => reopenEvents.push({ path, reopened, error }));

process.on('message', (msg: { cmd?: string }) => {
  if (msg.cmd === 'stats') process.send?.({ type: 'stats', stats: cache.stats(), reopenEvents });
  if (msg.cmd === 'lockAndHang' && shared) {
    const s = cache.stats().shared!;
    process.send?.({ type: 'locked', slot: hooks.dieWriting(s.path, sizeBytes, 384, sharedName !== undefined) });
  }
  if (msg.cmd === 'lockAll' && shared) {
    const s = cache.stats().shared!;
    process.send?.({ type: 'locked', stripes: hooks.lockAllStripes(s.path, sizeBytes, 384, sharedName !== undefined) });
  }
  if (msg.cmd === 'drain') {
    server.close();
    process.disconnect?.();
  }
  if (msg.cmd === 'exit') {
    cache.detach();
    server.close(() => process.exit(0));
  }
});

server.listen(Number(process.env.LISTEN_PORT ?? 0), '127.0.0.1', () => {
  const address = server.address() as { port: number };
  if (attachError !== undefined) process.send?.({ type: 'attachError', message: attachError });
  process.send?.({ type: 'listening', port: address.port, pid: process.pid });
});
