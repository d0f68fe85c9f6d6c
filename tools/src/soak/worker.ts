/**
 * A cluster worker of the soak run (main.ts): an https server attached with the internal cache,
 * a ticket ring derived from the run's secret (rotating every `rotateEverySeconds`) and the
 * run's shared store. The secret comes over IPC, never through the environment (which other
 * processes of the user can read in /proc/<pid>/environ).
 *
 * Messages: primary -> worker {cmd:'config', ...} -> {type:'listening', port, attachError?};
 * {cmd:'flush', all} -> {type:'flushed'}; {cmd:'stats'} -> {type:'stats', stats}. A graceful
 * restart is the primary's worker.disconnect(): cluster closes the server, the worker stops its
 * ring's timer and ends when its event loop is empty, the store still attached.
 */
import * as https from 'node:https';

import { attach, SessionCache, TicketKeyRing } from '../library';

/** @internal what the primary sends first. */
export interface SoakWorkerConfig {
  cmd: 'config';
  key: string;
  cert: string;
  /** Hex of the 32-byte ring secret. */
  secret: string;
  rotateEverySeconds: number;
  storeName: string;
  /** A store file instead of the named store (the full-tmpfs fault). */
  storePath?: string;
  storeBytes: number;
  /** Control: serve without attaching. */
  stock: boolean;
}

type Command = SoakWorkerConfig | { cmd: 'flush'; all: boolean } | { cmd: 'stats' };

let cache: SessionCache | undefined;

function start(config: SoakWorkerConfig): void {
  const server = https.createServer({ key: config.key, cert: config.cert, sessionIdContext: 'soak' }, (_req, res) => res.end('ok'));
  server.on('tlsClientError', () => undefined);
  if (config.stock) {
    server.listen(0, '127.0.0.1', () => process.send?.({ type: 'listening', port: (server.address() as { port: number }).port }));
    return;
  }
  const secret = Buffer.from(config.secret, 'hex');
  const ring = TicketKeyRing.fromSecret(secret, { rotateEverySeconds: config.rotateEverySeconds, keepKeys: 3 });
  secret.fill(0);
  const shared = config.storePath ? { path: config.storePath, sizeBytes: config.storeBytes } : { name: config.storeName, sizeBytes: config.storeBytes };
  let attachError: string | undefined;
  try {
    cache = attach(server, { cache: { size: 20480 }, tickets: { enabled: true, keyRing: ring }, shared });
  } catch (err) {
    // A store that cannot be made (a full tmpfs) is refused at attach: serve without it.
    attachError = (err as Error).message;
    cache = attach(server, { cache: { size: 20480 }, tickets: { enabled: true, keyRing: ring } });
  }
  process.once('disconnect', () => ring.close());
  // Port 0 in every worker: the primary shares one listening handle among them.
  server.listen(0, '127.0.0.1', () => {
    process.send?.({ type: 'listening', port: (server.address() as { port: number }).port, attachError });
  });
}

process.on('message', (msg: Command) => {
  if (msg.cmd === 'config') start(msg);
  else if (msg.cmd === 'flush') {
    const removed = cache?.flush({ all: msg.all }) ?? 0;
    process.send?.({ type: 'flushed', removed });
  } else if (msg.cmd === 'stats') process.send?.({ type: 'stats', stats: cache?.stats() });
});
