// A fleet member in a process of its own, forked by the fleet tests. Environment:
//   REDIS_PORT, FLEET=1 (the lookup mode, `replicate: false`) or FLEET=replicate (replication, the
//   default: waits for `replicated()` before it listens), PREFIX (fleet.prefix), SHARED (a `shared`
//   store name), FLEET_SECRET (hex, 32 bytes),
//   TICKETS=1 (tickets on), RING=redis|secret|generate (ticket key ring), ROTATE (s), POLL (s),
//   SID (the `sessionIdContext` option), LOOKUP_MS (fleet lookup deadline), TLS_KEY and TLS_CERT
//   (PEM: every member of a fleet serves one certificate; a throwaway one without them).
// Extra command-line arguments are ignored: they only make argv (Node's default context) differ.
// Reports its port over IPC, then answers 'stats', 'rotate' and 'exit'.
const tls = require('node:tls');
const path = require('node:path');
const Redis = require('ioredis');
const { attach, TicketKeyRing } = require(path.join(__dirname, '..', '..', 'dist'));
// Not on the public entry point since the boundary narrowed it: the test helper takes it directly.
const { selfSignedCertificate } = require(path.join(__dirname, '..', '..', 'dist', 'ops', 'certificate'));

const env = process.env;
const redisPort = Number(env.REDIS_PORT);
const secret = Buffer.from(env.FLEET_SECRET || '', 'hex');
const tickets = env.TICKETS === '1';
const cert = process.env.TLS_CERT ? { key: process.env.TLS_KEY, cert: process.env.TLS_CERT } : selfSignedCertificate();
const server = tls.createServer({ ...cert, secureOptions: tickets ? 0 : require('node:constants').SSL_OP_NO_TICKET }, (s) =>
  s.resume().end('ok'),
);
const needsRedis = env.FLEET === '1' || env.FLEET === 'replicate' || env.RING === 'redis';
const redis = needsRedis ? new Redis({ port: redisPort, host: '127.0.0.1', maxRetriesPerRequest: 1 }) : undefined;
if (redis) redis.on('error', () => undefined);

let ring;
if (env.RING === 'redis') {
  ring = TicketKeyRing.fromRedis(redis, {
    wrappingSecret: secret,
    rotateEverySeconds: Number(env.ROTATE || 3600),
    keepKeys: 4,
    pollIntervalSeconds: Number(env.POLL || 1),
  });
} else if (env.RING === 'secret') {
  ring = TicketKeyRing.fromSecret(secret, { rotateEverySeconds: Number(env.ROTATE || 3600) });
} else if (env.RING === 'generate') {
  ring = TicketKeyRing.generate({ rotateEverySeconds: Number(env.ROTATE || 3600) });
}

const options = { tickets: { enabled: tickets } };
if (env.SID) options.sessionIdContext = env.SID;
if (ring) options.tickets.keyRing = ring;
if (env.FLEET === '1') options.fleet = { redis, secret, lookupTimeoutMs: Number(env.LOOKUP_MS || 20), replicate: false };
if (env.FLEET === 'replicate') options.fleet = { redis, secret, ...(env.PREFIX ? { prefix: env.PREFIX } : {}) };
if (env.SHARED) options.shared = { name: env.SHARED };
let errors = 0;

async function main() {
  if (redis) await redis.ping();
  const cache = attach(server, options);
  cache.on('fleetError', () => errors++);
  if (ring?.ready) await ring.ready();
  await cache.replicated();
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('message', (msg) => {
    if (msg === 'stats') process.send({ stats: cache.stats(), keys: ring ? ring.list() : [], errors, argv: process.argv.slice(2) });
    if (msg === 'rotate') ring.rotate();
    if (msg === 'exit') {
      cache.detach();
      server.close();
      if (redis) redis.disconnect();
      process.disconnect();
    }
  });
}
main();
