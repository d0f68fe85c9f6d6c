/**
 * One member of the replication benchmark (replication.ts), in a process of its own: a tls.Server
 * with tickets off (TLS 1.2 session IDs, TLS 1.3 stateful tickets), attached with
 * `fleet: { redis, secret }` (replication, the default) to the run's redis-server. Environment: REDIS_PORT, FLEET_SECRET
 * (hex). Reports `{ port }` over IPC once it has caught up with the stream, answers 'stats' and 'exit'.
 */
import * as tls from 'node:tls';

import { attach, selfSignedCertificate } from '../library';

async function main(): Promise<void> {
  const Redis = require('ioredis') as typeof import('ioredis').default;
  const redis = new Redis({ port: Number(process.env.REDIS_PORT), host: '127.0.0.1', maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  await redis.ping();
  const server = tls.createServer({ ...selfSignedCertificate(), secureOptions: require('node:constants').SSL_OP_NO_TICKET }, (s) =>
    s.resume().end('ok'),
  );
  const secret = Buffer.from(process.env.FLEET_SECRET ?? '', 'hex');
  const cache = attach(server, { tickets: { enabled: false }, fleet: { redis, secret, prefix: 'bench:' } });
  await cache.replicated();
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
  process.on('message', (msg) => {
    if (msg === 'stats') process.send!({ stats: cache.stats() });
    if (msg === 'exit') {
      cache.detach();
      server.close();
      redis.disconnect();
      process.disconnect();
    }
  });
}

void main();
