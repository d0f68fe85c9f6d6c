/**
 * Child process of test/server/ticket-key-ring-memory.test.ts (run with --expose-gc through
 * ts-register): a tls.Server whose ring is `TicketKeyRing.fromRedis` on the redis-server at
 * REDIS_PORT (wrapping secret WRAPPING_SECRET, hex; document at RING_KEY). Sends
 * { type: 'listening', port } once the ring has loaded; on { cmd: 'release' } detaches, closes
 * the ring, the server and the Redis client, drops every reference, collects garbage and sends
 * { type: 'released' }; then idles until killed, so the parent can read its memory.
 */
import Redis from 'ioredis';

import { attach } from '../../src/server/attach';
import { TicketKeyRing } from '../../src/server/ticket-key-ring';
import { listen, tlsServer } from './tls';

async function main(): Promise<void> {
  let client: Redis | undefined = new Redis({ port: Number(process.env.REDIS_PORT), host: '127.0.0.1' });
  const wrappingSecret = Buffer.from(process.env.WRAPPING_SECRET!, 'hex');
  let ring: TicketKeyRing | undefined = TicketKeyRing.fromRedis(client, {
    wrappingSecret,
    key: process.env.RING_KEY!,
    pollIntervalSeconds: 60,
    rotateEverySeconds: 3600,
  });
  wrappingSecret.fill(0);
  await ring.ready();
  let server: ReturnType<typeof tlsServer> | undefined = tlsServer();
  let cache: ReturnType<typeof attach> | undefined = attach(server, { tickets: { keyRing: ring } });
  const port = await listen(server);
  process.send!({ type: 'listening', port, keys: ring.list().length });
  process.on('message', async (m: { cmd?: string }) => {
    if (m.cmd !== 'release') return;
    cache!.detach();
    ring!.close();
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    client!.disconnect();
    cache = undefined;
    ring = undefined;
    server = undefined;
    client = undefined;
    // Native rings are freed by their finalizers, which run after a collection.
    for (let i = 0; i < 4; i++) {
      global.gc!();
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 20));
    }
    process.send!({ type: 'released' });
  });
  setInterval(() => undefined, 60_000);
}

void main();
