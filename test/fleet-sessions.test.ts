import * as crypto from 'node:crypto';
import * as tls from 'node:tls';
import Redis from 'ioredis';

import { attach } from '../src/server/attach';
import { expectBadInput, recordBadInput } from './support/bad-inputs';
import { ask, killAllMembers, population, startMember, stopMember } from './support/fleet';
import { type RedisServer, startRedis } from './support/redis';
import { close, connect, listen, tlsServer } from './support/tls';

describe('fleet: TLS 1.2 session IDs across processes through Redis', () => {
  let redis: RedisServer;
  const secret = crypto.randomBytes(32).toString('hex');
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(() => killAllMembers());
  afterAll(async () => {
    await redis.stop();
  });

  test('two members with the same Redis resume >= 0.97 of returning clients; control ~0.5', async () => {
    // A generous lookup deadline: this measures resumption, not Redis latency on a loaded 2-core machine.
    const env = { REDIS_PORT: String(redis.port), FLEET_SECRET: secret, LOOKUP_MS: '1000' };
    const fleet = [await startMember({ ...env, FLEET: '1' }), await startMember({ ...env, FLEET: '1' })];
    const ratio = await population(
      fleet.map((m) => m.port),
      30,
      8,
      'TLSv1.2',
    );
    const stats = await Promise.all(fleet.map((m) => ask<{ stats: { fleet: { hits: number; errors: number } } }>(m)));
    await Promise.all(fleet.map(stopMember));

    const control = [await startMember({ ...env, FLEET: '0' }), await startMember({ ...env, FLEET: '0' })];
    const controlRatio = await population(
      control.map((m) => m.port),
      30,
      8,
      'TLSv1.2',
    );
    await Promise.all(control.map(stopMember));

    expect(ratio).toBeGreaterThanOrEqual(0.97);
    expect(stats[0]!.stats.fleet.hits + stats[1]!.stats.fleet.hits).toBeGreaterThan(0);
    expect(stats[0]!.stats.fleet.errors + stats[1]!.stats.fleet.errors).toBe(0);
    expect(controlRatio).toBeGreaterThan(0.3);
    expect(controlRatio).toBeLessThan(0.7);
  });

  test('Redis stores sessions sealed, never in the clear, and with the session timeout as TTL', async () => {
    const client = new Redis({ port: redis.port, host: '127.0.0.1' });
    const server = tlsServer({ noTickets: true });
    const cache = attach(server, {
      cache: { timeoutSeconds: 120 },
      fleet: { redis: client, secret: Buffer.from(secret, 'hex'), prefix: 'seal-test:', replicate: false },
    });
    const port = await listen(server);
    const first = await connect(port, { version: 'TLSv1.2' });
    await new Promise((r) => setTimeout(r, 100));
    const keys = await client.keys('seal-test:*');
    expect(keys).toHaveLength(1);
    const stored = await client.get(keys[0]!);
    const ttl = await client.ttl(keys[0]!);
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
    // The DER session (which carries the master secret) does not appear in what Redis holds.
    expect(Buffer.from(stored!, 'base64').includes(first.session!.subarray(-48))).toBe(false);
    expect(cache.stats().fleet!.stores).toBe(1);
    cache.detach();
    await close(server);
    client.disconnect();
  });

  test('a flood of unique full handshakes cannot grow Redis past fleet.maxSessions; every handshake completes; TTL within the lifetime', async () => {
    const client = new Redis({ port: redis.port, host: '127.0.0.1' });
    const server = tlsServer({ noTickets: true });
    const cache = attach(server, {
      cache: { size: 10, timeoutSeconds: 60 },
      fleet: { redis: client, secret: Buffer.from(secret, 'hex'), prefix: 'flood-test:', maxSessions: 40, replicate: false },
    });
    const port = await listen(server);
    let completed = 0;
    for (let i = 0; i < 300; i++) {
      await connect(port, { version: 'TLSv1.2' });
      completed++;
    }
    await new Promise((r) => setTimeout(r, 200));
    const keys = await client.keys('flood-test:*');
    const ttls = await Promise.all(keys.map((k) => client.ttl(k)));
    const fleet = cache.stats().fleet!;
    cache.detach();
    await close(server);
    await client.del(...keys);
    client.disconnect();
    expect(completed).toBe(300);
    expect(keys).toHaveLength(40);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(60);
    expect(fleet.stores).toBe(40);
    expect(fleet.writesDropped).toBe(260);
  });

  test('fail-open: Redis down at start, slow (paused past the deadline), or garbage: handshakes complete', async () => {
    const down = new Redis({ port: 1, host: '127.0.0.1', enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    down.on('error', () => undefined);
    const server = tlsServer({ noTickets: true });
    const cache = attach(server, { fleet: { redis: down, secret: Buffer.from(secret, 'hex'), lookupTimeoutMs: 30, replicate: false } });
    const heard: Error[] = [];
    cache.on('fleetError', (m: { error: Error }) => heard.push(m.error));
    const port = await listen(server);
    // A session made by another fleet member: this server does not know it and asks Redis, which is down.
    const elsewhere = tlsServer({ noTickets: true });
    const peerClient = new Redis({ port: redis.port, host: '127.0.0.1' });
    attach(elsewhere, { fleet: { redis: peerClient, secret: Buffer.from(secret, 'hex'), prefix: 'elsewhere:', replicate: false } });
    const otherPort = await listen(elsewhere);
    const foreign = await connect(otherPort, { version: 'TLSv1.2' });
    const r1 = await connect(port, { version: 'TLSv1.2', session: foreign.session });
    expect(r1.reused).toBe(false);
    expect(r1.protocol).toBe('TLSv1.2');
    await new Promise((r) => setTimeout(r, 50));
    expect(cache.stats().fleet!.errors).toBeGreaterThan(0);
    expect(heard.length).toBeGreaterThan(0);
    cache.detach();
    down.disconnect();

    // Slow: the server is paused, so the lookup hits its deadline.
    const slowClient = new Redis({ port: redis.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    await slowClient.ping();
    const slow = attach(server, {
      fleet: { redis: slowClient, secret: Buffer.from(secret, 'hex'), lookupTimeoutMs: 25, replicate: false },
    });
    await slowClient.ping(); // answered after the fleet's own start-up PING (one connection, in order): that one is not left to time out
    redis.pause();
    const t0 = Date.now();
    const r2 = await connect(port, { version: 'TLSv1.2', session: foreign.session });
    const took = Date.now() - t0;
    redis.resume();
    expect(r2.reused).toBe(false);
    expect(slow.stats().fleet!.timeouts).toBe(1);
    expect(took).toBeLessThan(2000);

    // Garbage under the key the server will look up: a miss counted as an error, never a crash.
    // A generous deadline now: on a loaded machine a 25 ms GET may time out, which is not this check.
    slow.detach();
    const garbageReader = attach(server, {
      fleet: { redis: slowClient, secret: Buffer.from(secret, 'hex'), lookupTimeoutMs: 2000, replicate: false },
    });
    const ids: Buffer[] = [];
    elsewhere.on('newSession', (id: Buffer, _data: Buffer, done: () => void) => (ids.push(id), done()));
    const marked = await connect(otherPort, { version: 'TLSv1.2' });
    expect(ids).toHaveLength(1);
    for (const garbage of ['this is not a sealed session', Buffer.from([0, 1, 2, 3]).toString('base64'), '']) {
      // Where `garbageReader` looks: its context's fingerprint scopes the key (fleet-entry.ts).
      await slowClient.set(`tls:session:${garbageReader.stats().sessionIdContext.fingerprint}:${ids[0]!.toString('hex')}`, garbage);
      const errorsBefore = garbageReader.stats().fleet!.errors;
      const r3 = await connect(port, { version: 'TLSv1.2', session: marked.session });
      expect(r3.reused).toBe(false);
      expect(r3.protocol).toBe('TLSv1.2');
      expect(garbageReader.stats().fleet!.errors).toBe(errorsBefore! + 1);
      recordBadInput(
        'Redis value',
        `session stored as ${JSON.stringify(garbage)}`,
        'not resumed: full handshake, fleet.errors +1, fleetError event',
      );
    }
    garbageReader.detach();
    slowClient.disconnect();
    await close(server);
    await close(elsewhere);
    peerClient.disconnect();
  });

  test("no Redis round trip for a session ID no member issued: TLS 1.3 ClientHellos, other servers' IDs; one GET per TLS 1.2 resumption", async () => {
    const secretBuf = Buffer.from(secret, 'hex');
    const clients = [new Redis({ port: redis.port, host: '127.0.0.1' }), new Redis({ port: redis.port, host: '127.0.0.1' })];
    const servers = [tlsServer({ noTickets: true }), tlsServer({ noTickets: true })];
    const caches = servers.map((s, i) =>
      attach(s, { fleet: { redis: clients[i]!, secret: secretBuf, prefix: 'rtt:', lookupTimeoutMs: 1000, replicate: false } }),
    );
    const [pa, pb] = [await listen(servers[0]!), await listen(servers[1]!)];
    const gets = async () => Number(/cmdstat_get:calls=(\d+)/.exec(String(await clients[0]!.info('commandstats')))?.[1] ?? 0);
    const before = await gets();
    // TLS 1.3: each ClientHello carries a random 32-byte legacy session ID.
    let previous: Buffer | undefined;
    for (let i = 0; i < 10; i++) previous = (await connect(pa, { version: 'TLSv1.3', session: previous })).session;
    // Another server's TLS 1.2 session (untagged ID).
    const other = tlsServer({ noTickets: true });
    const po = await listen(other);
    const foreign = await connect(po, { version: 'TLSv1.2' });
    expect((await connect(pa, { version: 'TLSv1.2', session: foreign.session })).reused).toBe(false);
    expect(caches[0]!.stats().fleet!.lookups).toBe(0);
    expect(caches[0]!.stats().fleet!.skipped).toBeGreaterThanOrEqual(11);
    expect(await gets()).toBe(before);
    // TLS 1.2 session IDs across members: one GET per cross-member resumption, none on the issuer.
    const first = await connect(pa, { version: 'TLSv1.2' });
    await new Promise((r) => setTimeout(r, 100));
    expect((await connect(pa, { version: 'TLSv1.2', session: first.session })).reused).toBe(true);
    expect((await connect(pb, { version: 'TLSv1.2', session: first.session })).reused).toBe(true);
    expect(await gets()).toBe(before + 1);
    expect(caches[1]!.stats().fleet).toMatchObject({ lookups: 1, hits: 1 });
    caches.forEach((c) => c.detach());
    for (const s of [...servers, other]) await close(s);
    clients.forEach((c) => c.disconnect());
  });

  test('fleetError as documented: a lookup past its deadline emits it (code ERR_TLS_RESUMPTION_FLEET_TIMEOUT); Redis down at start-up is reported within a second (event + fleet.errors)', async () => {
    const secretBuf = Buffer.from(secret, 'hex');
    // Down at start-up, with ioredis's defaults (offline queue, endless retries): commands wait, nothing fails by itself.
    const down = new Redis({ port: 1, host: '127.0.0.1' });
    down.on('error', () => undefined); // as the docs' example does: ioredis prints "Unhandled error event" otherwise
    const server = tlsServer({ noTickets: true });
    const t0 = Date.now();
    const cache = attach(server, { fleet: { redis: down, secret: secretBuf, replicate: false } });
    const startup = await new Promise<{ error: Error & { code?: string } }>((resolve) => cache.once('fleetError', resolve));
    expect(Date.now() - t0).toBeLessThan(3000); // 1000 ms plus a loaded machine's timer delay
    expect(startup.error.code).toBe('ERR_TLS_RESUMPTION_FLEET_UNREACHABLE');
    expect(startup.error.message).toMatch(/did not answer PING within 1000 ms/);
    expect(cache.stats().fleet!.errors).toBe(1);
    cache.detach();
    down.disconnect();

    // Past the deadline: Redis paused, the lookup is abandoned, counted, and reported.
    const issuer = tlsServer({ noTickets: true });
    const issuerClient = new Redis({ port: redis.port, host: '127.0.0.1' });
    const issuerCache = attach(issuer, { fleet: { redis: issuerClient, secret: secretBuf, prefix: 'deadline:', replicate: false } });
    const slowClient = new Redis({ port: redis.port, host: '127.0.0.1' });
    await slowClient.ping();
    const slow = attach(server, {
      fleet: { redis: slowClient, secret: secretBuf, prefix: 'deadline:', lookupTimeoutMs: 25, replicate: false },
    });
    const [port, issuerPort] = [await listen(server), await listen(issuer)];
    const heard: Array<Error & { code?: string }> = [];
    slow.on('fleetError', (m: { error: Error }) => heard.push(m.error));
    const first = await connect(issuerPort, { version: 'TLSv1.2' });
    await new Promise((r) => setTimeout(r, 100));
    redis.pause();
    try {
      expect((await connect(port, { version: 'TLSv1.2', session: first.session })).reused).toBe(false);
    } finally {
      redis.resume();
    }
    expect(slow.stats().fleet!.timeouts).toBe(1);
    expect(heard.map((e) => e.code)).toEqual(['ERR_TLS_RESUMPTION_FLEET_TIMEOUT']);
    expect(heard[0]!.message).toMatch(/longer than fleet.lookupTimeoutMs \(25 ms\)/);
    slow.detach();
    issuerCache.detach();
    await Promise.all([close(server), close(issuer)]);
    slowClient.disconnect();
    issuerClient.disconnect();
  });

  test('fleet.stores counts TLS 1.2 sessions only: TLS 1.3 sessions, which no member can look up, are not written to Redis', async () => {
    const client = new Redis({ port: redis.port, host: '127.0.0.1' });
    const server = tlsServer({ noTickets: true });
    const cache = attach(server, { fleet: { redis: client, secret: Buffer.from(secret, 'hex'), prefix: 'tls13:', replicate: false } });
    const port = await listen(server);
    for (let i = 0; i < 5; i++) await connect(port, { version: 'TLSv1.3' });
    await connect(port, { version: 'TLSv1.2' });
    await new Promise((r) => setTimeout(r, 100));
    expect(cache.stats().fleet!.stores).toBe(1);
    expect(await client.keys('tls13:*')).toHaveLength(1);
    cache.detach();
    await close(server);
    client.disconnect();
  });

  test('fleet options are validated: missing client, bad secret, bad deadline, bare context', () => {
    const server = tlsServer({ noTickets: true });
    const client = new Redis({ lazyConnect: true });
    const bad = (input: string, fn: () => unknown, type: new () => Error, message: RegExp) =>
      expectBadInput('fleet option', input, fn, type, message);
    bad(
      'fleet without redis',
      () => attach(server, { fleet: { secret: Buffer.alloc(32) } as never }),
      TypeError,
      /"fleet.redis" must be an ioredis or node-redis client \(required\), got undefined/,
    );
    bad(
      'fleet.redis not a client',
      () => attach(server, { fleet: { redis: {} as never, secret: Buffer.alloc(32) } }),
      TypeError,
      /"fleet.redis" must be an ioredis or node-redis client/,
    );
    bad(
      'fleet.secret of 16 bytes',
      () => attach(server, { fleet: { redis: client, secret: Buffer.alloc(16), replicate: false } }),
      RangeError,
      /"fleet.secret" must be exactly 32 bytes, got 16 bytes/,
    );
    bad(
      'fleet.secret as a string',
      () => attach(server, { fleet: { redis: client, secret: 'x'.repeat(32) as never, replicate: false } }),
      TypeError,
      /"fleet.secret" must be a Buffer of 32 bytes/,
    );
    bad(
      'fleet.lookupTimeoutMs 0',
      () => attach(server, { fleet: { redis: client, secret: Buffer.alloc(32), lookupTimeoutMs: 0, replicate: false } }),
      RangeError,
      /"fleet.lookupTimeoutMs" must be between 1 and 5000 milliseconds, got 0/,
    );
    bad(
      'fleet.maxSessions 0',
      () => attach(server, { fleet: { redis: client, secret: Buffer.alloc(32), maxSessions: 0, replicate: false } }),
      RangeError,
      /"fleet.maxSessions" must be between 1 and 10000000 sessions, got 0/,
    );
    bad(
      'fleet on a bare SecureContext',
      () => attach(tls.createSecureContext({}), { fleet: { redis: client, secret: Buffer.alloc(32), replicate: false } }),
      TypeError,
      /needs a server target/,
    );
    const cache = attach(server);
    bad(
      'fleet passed to configure()',
      () => cache.configure({ fleet: { redis: client, secret: Buffer.alloc(32), replicate: false } }),
      TypeError,
      /cannot be changed by configure/,
    );
    cache.detach();
    client.disconnect();
  });
});
