// A fleet member in a process of its own: tls server, tickets off, attached with or without
// `fleet`. Forked by tests; reports its port over IPC; answers {stats} requests.
const tls = require('node:tls');
const path = require('node:path');
const Redis = require('ioredis');
const { attach, selfSignedCertificate } = require(path.join(__dirname, '..', '..', 'dist'));

const redisPort = Number(process.env.REDIS_PORT);
const fleet = process.env.FLEET === '1';
const secret = Buffer.from(process.env.FLEET_SECRET || '', 'hex');

const cert = selfSignedCertificate();
const server = tls.createServer({ ...cert, secureOptions: require('node:constants').SSL_OP_NO_TICKET }, (s) => s.resume().end('ok'));
const redis = fleet ? new Redis({ port: redisPort, host: "127.0.0.1", maxRetriesPerRequest: 1 }) : undefined;
if (redis) redis.on('error', () => undefined);
const cache = attach(server, fleet ? { fleet: { redis, secret, lookupTimeoutMs: Number(process.env.LOOKUP_MS || 20) } } : {});
let errors = 0;
cache.onFleetError(() => errors++);

Promise.resolve(redis && redis.ping()).then(() => server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port })));
process.on('message', (msg) => {
  if (msg === 'stats') process.send({ stats: cache.stats(), errors });
  if (msg === 'exit') {
    server.close();
    if (redis) redis.disconnect();
    process.disconnect();
  }
});
