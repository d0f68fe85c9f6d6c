import * as crypto from 'node:crypto';
import * as util from 'node:util';
import Redis from 'ioredis';
import { attach } from '../src/server/attach';
import { TicketKeyRing } from '../src/server/ticket-key-ring';
import { expectBadInput, recordBadInput } from './support/bad-inputs';
import { ask, killAllMembers, type Member, population, startMember, stopMember } from './support/fleet';
import { type RedisServer, startRedis } from './support/redis';
import { close, connect, listen, tlsServer } from './support/tls';

interface MemberStats {
  stats: { tickets: { renewed: number; resumed: number }; fleet: { ringVersion: number; lastSyncAgeSeconds: number; syncErrors: number } };
  keys: Array<{ id: string; role: string }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const encrypting = (s: MemberStats) => s.keys.find((k) => k.role === 'encrypt')?.id;

describe('fleet: ticket keys coordinated through Redis', () => {
  let redis: RedisServer;
  const secret = crypto.randomBytes(32).toString('hex');
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(() => killAllMembers());
  afterAll(async () => {
    await redis.stop();
  });

  test('TLS 1.3 tickets: two members sharing a Redis ring resume >= 0.97; own keys each ~0.5', async () => {
    const env = { REDIS_PORT: String(redis.port), FLEET_SECRET: secret, TICKETS: '1', POLL: '0.5' };
    const fleet = await Promise.all([startMember({ ...env, RING: 'redis' }), startMember({ ...env, RING: 'redis' })]);
    const ratio = await population(
      fleet.map((m) => m.port),
      30,
      8,
      'TLSv1.3',
    );
    const stats = await Promise.all(fleet.map((m) => ask<MemberStats>(m)));
    await Promise.all(fleet.map(stopMember));
    const control = await Promise.all([startMember({ ...env, RING: 'generate' }), startMember({ ...env, RING: 'generate' })]);
    const controlRatio = await population(
      control.map((m) => m.port),
      30,
      8,
      'TLSv1.3',
    );
    await Promise.all(control.map(stopMember));

    expect(ratio).toBeGreaterThanOrEqual(0.97);
    expect(encrypting(stats[0]!)).toBe(encrypting(stats[1]!));
    expect(stats[0]!.stats.fleet.ringVersion).toBe(stats[1]!.stats.fleet.ringVersion);
    expect(controlRatio).toBeGreaterThan(0.3);
    expect(controlRatio).toBeLessThan(0.7);
  });

  test('TLS 1.2 session IDs (tickets off) and TLS 1.3 tickets together: fleet store + Redis ring', async () => {
    const env = {
      REDIS_PORT: String(redis.port),
      FLEET_SECRET: secret,
      TICKETS: '1',
      POLL: '0.5',
      FLEET: '1',
      RING: 'redis',
      LOOKUP_MS: '1000',
    };
    const fleet = await Promise.all([startMember(env), startMember(env)]);
    const ports = fleet.map((m) => m.port);
    const r12 = await population(ports, 20, 6, 'TLSv1.2');
    const r13 = await population(ports, 20, 6, 'TLSv1.3');
    await Promise.all(fleet.map(stopMember));
    expect(r12).toBeGreaterThanOrEqual(0.97);
    expect(r13).toBeGreaterThanOrEqual(0.97);
  });

  test('rotation through Redis: both members switch together; tickets under the old key still resume and are renewed', async () => {
    const env = { REDIS_PORT: String(redis.port), FLEET_SECRET: secret, TICKETS: '1', POLL: '0.3', RING: 'redis' };
    const admin = new Redis({ port: redis.port });
    await admin.del('tls:ticket-keys');
    admin.disconnect();
    const fleet: Member[] = await Promise.all([startMember(env), startMember(env)]);
    const before = await Promise.all(fleet.map((m) => ask<MemberStats>(m)));
    expect(encrypting(before[0]!)).toBe(encrypting(before[1]!));
    const oldTicket = (await connect(fleet[0]!.port, { version: 'TLSv1.3' })).session;

    fleet[1]!.child.send('rotate'); // one member creates the key; the other learns it from Redis
    await sleep(2500); // activation delay: one poll (0.3 s) + 1 s margin
    const after = await Promise.all(fleet.map((m) => ask<MemberStats>(m)));
    expect(encrypting(after[0]!)).toBe(encrypting(after[1]!));
    expect(encrypting(after[0]!)).not.toBe(encrypting(before[0]!));
    expect(after[0]!.stats.fleet.ringVersion).toBe(before[0]!.stats.fleet.ringVersion + 1);

    const resumedOld = await connect(fleet[1]!.port, { version: 'TLSv1.3', session: oldTicket });
    expect(resumedOld.reused).toBe(true);
    const s1 = await ask<MemberStats>(fleet[1]!);
    expect(s1.stats.tickets.renewed).toBeGreaterThanOrEqual(1);
    await Promise.all(fleet.map(stopMember));
  });

  test('fail-static: Redis down keeps the last keys; it reconciles when Redis returns', async () => {
    const client = new Redis({ port: redis.port, host: '127.0.0.1', maxRetriesPerRequest: 0, commandTimeout: 200 });
    client.on('error', () => undefined);
    const ring = TicketKeyRing.fromRedis(client, {
      wrappingSecret: Buffer.from(secret, 'hex'),
      pollIntervalSeconds: 0.2,
      key: 'fail-static:ring',
    });
    const errors: Error[] = [];
    ring.onError((e) => errors.push(e));
    const server = tlsServer();
    const cache = attach(server, { tickets: { keyRing: ring } });
    await ring.ready();
    const port = await listen(server);
    const keyBefore = ring.list().find((k) => k.role === 'encrypt')!.id;
    const first = await connect(port, { version: 'TLSv1.3' });

    redis.pause();
    await sleep(800);
    const during = await connect(port, { version: 'TLSv1.3', session: first.session });
    expect(during.reused).toBe(true);
    expect(ring.list().find((k) => k.role === 'encrypt')!.id).toBe(keyBefore);
    expect(cache.stats().fleet!.syncErrors).toBeGreaterThan(0);
    expect(errors.length).toBeGreaterThan(0);
    redis.resume();

    // Garbage in the ring document: counted, the ring keeps its keys.
    for (const garbage of ['{"v": 99, "keys": [{"id": "00", "sealed": "AAAA"}]}', 'not json', '{"v": "x"}']) {
      const before = cache.stats().fleet!.syncErrors!;
      await client.set('fail-static:ring', garbage);
      await ring.ready();
      expect(ring.list().find((k) => k.role === 'encrypt')!.id).toBe(keyBefore);
      expect(cache.stats().fleet!.syncErrors).toBeGreaterThan(before);
      recordBadInput('Redis value', `ticket ring document ${garbage}`, 'ignored: the ring keeps its last keys, fleet.syncErrors +1');
    }
    const again = await connect(port, { version: 'TLSv1.3', session: during.session });
    expect(again.reused).toBe(true);
    cache.detach();
    ring.close();
    await close(server);
    client.disconnect();
  });

  test('keys in Redis are sealed; the ring never shows key bytes', async () => {
    const client = new Redis({ port: redis.port, host: '127.0.0.1' });
    const ring = TicketKeyRing.fromRedis(client, { wrappingSecret: Buffer.from(secret, 'hex'), key: 'sealed:ring' });
    await ring.ready();
    const doc = JSON.parse((await client.get('sealed:ring'))!);
    expect(doc.keys).toHaveLength(1);
    expect(Object.keys(doc.keys[0]).sort()).toEqual(['activateAt', 'createdAt', 'id', 'sealed']);
    const text = util.inspect(ring, { depth: 10 }) + JSON.stringify(ring);
    expect(text).not.toContain(doc.keys[0].sealed);
    expect(text).toContain(doc.keys[0].id);
    ring.close();
    client.disconnect();
  });

  test('fromRedis options are validated', () => {
    const client = new Redis({ lazyConnect: true });
    const bad = (input: string, fn: () => unknown, type: new () => Error, message: RegExp) =>
      expectBadInput('fleet option', input, fn, type, message);
    bad(
      'fromRedis without wrappingSecret',
      () => TicketKeyRing.fromRedis(client, {} as never),
      TypeError,
      /"wrappingSecret" must be a Buffer of 32 bytes \(required\), got undefined/,
    );
    bad(
      'fromRedis wrappingSecret of 31 bytes',
      () => TicketKeyRing.fromRedis(client, { wrappingSecret: Buffer.alloc(31) }),
      RangeError,
      /"wrappingSecret" must be exactly 32 bytes, got 31 bytes/,
    );
    bad(
      'fromRedis client not a Redis client',
      () => TicketKeyRing.fromRedis({} as never, { wrappingSecret: Buffer.alloc(32) }),
      TypeError,
      /"client" must be an ioredis or node-redis client/,
    );
    bad(
      'fromRedis pollIntervalSeconds 0',
      () => TicketKeyRing.fromRedis(client, { wrappingSecret: Buffer.alloc(32), pollIntervalSeconds: 0 }),
      RangeError,
      /"pollIntervalSeconds" must be between 0.1 and 3600 seconds/,
    );
    bad(
      'fromRedis keepKeys 0',
      () => TicketKeyRing.fromRedis(client, { wrappingSecret: Buffer.alloc(32), keepKeys: 0 }),
      RangeError,
      /"keepKeys" must be between 1 and 1024/,
    );
    bad(
      'fromRedis key empty',
      () => TicketKeyRing.fromRedis(client, { wrappingSecret: Buffer.alloc(32), key: '' }),
      TypeError,
      /"key" must be a string/,
    );
    client.disconnect();
  });
});
