import * as crypto from 'node:crypto';
import * as util from 'node:util';
import Redis from 'ioredis';
import { attach } from '../../src/server/attach';
import { TicketKeyRing } from '../../src/server/ticket-key-ring';
import { expectBadInput, recordBadInput } from '../support/bad-inputs';
import { ask, killAllMembers, type Member, population, startMember, stopMember } from '../support/fleet';
import { type RedisServer, startRedis } from '../support/redis';
import { close, connect, listen, tlsServer } from '../support/tls';

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
    // A command timeout that a loaded machine (four Node lines side by side) does not reach on a
    // healthy Redis, and that a paused one passes well within the pause below.
    const client = new Redis({ port: redis.port, host: '127.0.0.1', maxRetriesPerRequest: 0, commandTimeout: 1000 });
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
    // Under load the first read can still pass its command timeout (ready() then resolves on the
    // error, fail-static with no keys yet); a later poll, 0.2 s apart, loads them.
    for (let i = 0; i < 300 && !ring.list().some((k) => k.role === 'encrypt'); i++) await sleep(100);
    const port = await listen(server);
    const keyBefore = ring.list().find((k) => k.role === 'encrypt')?.id;
    expect(keyBefore).toEqual(expect.any(String));
    const first = await connect(port, { version: 'TLSv1.3' });

    redis.pause();
    await sleep(2500);
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
    // The whole document is sealed: only the format and the version show (fleet-entry.ts).
    expect(Object.keys(doc).sort()).toEqual(['format', 'sealed', 'v']);
    expect(doc).toEqual({ format: 2, v: 1, sealed: expect.any(String) });
    const text = util.inspect(ring, { depth: 10 }) + JSON.stringify(ring);
    expect(text).not.toContain(doc.sealed);
    expect(ring.list()).toHaveLength(1);
    ring.close();
    client.disconnect();
  });

  test('a forged, replayed, huge or out-of-bounds ring document changes nothing: refused, counted, announced; the ring keeps its keys and resumes', async () => {
    const key = 'forged:ring';
    const client = new Redis({ port: redis.port, host: '127.0.0.1' });
    const wrappingSecret = Buffer.from(secret, 'hex');
    const ring = TicketKeyRing.fromRedis(client, { wrappingSecret, key, pollIntervalSeconds: 0.2, rotateEverySeconds: 3600 });
    const server = tlsServer();
    const cache = attach(server, { tickets: { keyRing: ring } });
    const refused: string[] = [];
    cache.on('ringDocumentRefused', (m: { reason: string }) => refused.push(m.reason));
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    await ring.ready();
    const port = await listen(server);
    const replay = await client.get(key);
    ring.rotate();
    await ring.ready();
    // The new key encrypts once its activation delay (one poll + 1 s) has passed.
    await sleep(1300);
    const keysBefore = ring.list().map((k) => `${k.id}:${k.role}`);
    const versionBefore = cache.stats().fleet!.ringVersion!;
    expect(versionBefore).toBe(2);
    const first = await connect(port, { version: 'TLSv1.3' });

    // What an attacker who can write to Redis but lacks the wrapping secret can put there.
    const now = Date.now();
    const oldFormat = (createdAt: number, activateAt: number) =>
      JSON.stringify({ v: 1e9, keys: [{ id: '00'.repeat(16), createdAt, activateAt, sealed: 'AAAA' }] });
    const forged: Array<[string, string, string]> = [
      ['the unauthenticated layout, createdAt in the future (froze rotation)', oldFormat(now + 1e12, now), 'malformed'],
      ['the unauthenticated layout, activateAt 1e15 (timer re-armed every ms)', oldFormat(now, 1e15), 'malformed'],
      ['an authentic older document replayed (a retired key back)', replay!, 'older-version'],
      ['an authentic older document with the version in clear raised', JSON.stringify({ ...JSON.parse(replay!), v: 99 }), 'malformed'],
      [
        'format 2 sealed under another secret',
        JSON.stringify({ format: 2, v: 99, sealed: crypto.randomBytes(200).toString('base64') }),
        'not-authentic',
      ],
      [
        '12 MB (one key replayed 50,000 times)',
        JSON.stringify({ v: 1e9, keys: Array(50_000).fill({ id: 'x', sealed: 'A'.repeat(200) }) }),
        'too-large',
      ],
    ];
    for (const [what, value, reason] of forged) {
      const before = cache.stats().fleet!.documentsRefused!;
      await client.set(key, value);
      for (let i = 0; i < 20; i++) await client.publish(`${key}:changed`, '99');
      await ring.ready();
      await sleep(30);
      expect({ what, refused: cache.stats().fleet!.documentsRefused! > before, reason: refused.at(-1) }).toEqual({
        what,
        refused: true,
        reason,
      });
      expect(ring.list().map((k) => `${k.id}:${k.role}`)).toEqual(keysBefore);
      expect(cache.stats().fleet!.ringVersion).toBe(versionBefore);
      recordBadInput(
        'Redis value',
        `ticket ring document: ${what}`,
        `refused (${reason}): the ring keeps its keys, fleet.documentsRefused +1, 'ringDocumentRefused' event`,
      );
    }
    expect((await connect(port, { version: 'TLSv1.3', session: first.session })).reused).toBe(true);
    expect(warnings).not.toContain('TimeoutOverflowWarning');

    // The next rotation writes the fleet's keys back, authenticated, one version up.
    ring.rotate();
    await ring.ready();
    expect(JSON.parse((await client.get(key))!)).toEqual({ format: 2, v: versionBefore + 1, sealed: expect.any(String) });
    expect(cache.stats().fleet!.ringVersion).toBe(versionBefore + 1);
    process.off('warning', onWarning);
    cache.detach();
    ring.close();
    await close(server);
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
