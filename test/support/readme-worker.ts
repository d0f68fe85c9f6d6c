/**
 * A cluster worker running the README's "Use" example as written: an https server with an
 * explicit sessionIdContext, `TicketKeyRing.generate({ rotateEverySeconds, keepKeys: 12 })`, and
 * attach() with the cache, the ring and `shared: { name }`. Configured by environment:
 *   SHARED_NAME      the store name (unset: the example without `shared`, the control)
 *   ROTATE_SECONDS   rotateEverySeconds (default 3600, as in the README)
 * Answers each request with its pid. Messages:
 *   primary -> worker {cmd: 'stats'} -> {type: 'stats', stats} (stats() plus `rotations`: the
 *   'ticketRotate' events this worker saw, and `keys`: its ring's key ids)
 *   primary -> worker {cmd: 'rotate'} -> {type: 'rotated', keyId}: ring.rotate() in this worker
 */
import * as https from 'node:https';

import { attach, TicketKeyRing } from '../../src/index';
import { cert } from './tls';

const server = https.createServer({ key: cert.key, cert: cert.cert, sessionIdContext: 'api' }, (_req, res) => {
  res.end(String(process.pid));
});
server.on('tlsClientError', () => undefined);
const ring = TicketKeyRing.generate({ rotateEverySeconds: Number(process.env.ROTATE_SECONDS ?? 3600), keepKeys: 12 });
const name = process.env.SHARED_NAME;
const cache = attach(server, {
  cache: { size: 20480, timeoutSeconds: 300 },
  tickets: { keyRing: ring },
  ...(name ? { shared: { name } } : {}),
});
let rotations = 0;
cache.on('ticketRotate', () => rotations++);

process.on('message', (msg: { cmd?: string }) => {
  if (msg.cmd === 'stats') process.send?.({ type: 'stats', stats: { ...cache.stats(), rotations, keys: ring.list().map((k) => k.id) } });
  if (msg.cmd === 'rotate') {
    ring.rotate();
    process.send?.({ type: 'rotated', keyId: ring.list()[0]!.id });
  }
});

server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'listening', port: (server.address() as { port: number }).port, pid: process.pid });
});
