/**
 * Fleet replication (`fleet.replicate`): members write the sessions they issue to a Redis stream
 * and apply the others' to their own store, so TLS 1.2 session IDs and TLS 1.3 stateful tickets
 * resume on any member from local memory. Real redis-server, real TLS on loopback.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import Redis from 'ioredis';
import { sharedStorePath } from '../../src/common/shared-store';
import { attach, type SessionCache } from '../../src/server/attach';
import { expectBadInput } from '../support/bad-inputs';
import { type RedisServer, startRedis } from '../support/redis';
import { close, connect, listen, tlsServer, type Version } from '../support/tls';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secret = crypto.randomBytes(32);

let redis: RedisServer;
const servers: tls.Server[] = [];
const caches: SessionCache[] = [];
const clients: Redis[] = [];

beforeAll(async () => {
  redis = await startRedis(['--enable-debug-command', 'yes']);
});
afterEach(async () => {
  for (const c of caches.splice(0)) c.detach();
  for (const s of servers.splice(0)) await close(s);
  for (const c of clients.splice(0)) c.disconnect();
});
afterAll(async () => {
  await redis?.stop();
});

function client(port = redis.port): Redis {
  const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

interface Member {
  port: number;
  cache: SessionCache;
  server: tls.Server;
}

async function member(prefix: string, extra: Parameters<typeof attach>[1] = {}, memberSecret = secret): Promise<Member> {
  const server = tlsServer({ noTickets: true });
  servers.push(server);
  const c = client();
  await c.ping();
  const cache = attach(server, {
    tickets: { enabled: false },
    ...extra,
    fleet: { redis: c, secret: Buffer.from(memberSecret), prefix },
  });
  caches.push(cache);
  await cache.replicated();
  return { port: await listen(server), cache, server };
}

const replication = (m: Member) => m.cache.stats().fleet!.replication!;

/** A full TLS 1.2 handshake (no ticket) on `port`: the session, and the master secret from the client's key log. */
async function handshakeWithMasterSecret(port: number): Promise<{ session: Buffer; master: Buffer }> {
  let master: Buffer | undefined;
  // NSS key log: "CLIENT_RANDOM <client random> <master secret>" for TLS 1.2.
  const keylog = (line: Buffer) => {
    const [label, , secretHex] = line.toString().trim().split(' ');
    if (label === 'CLIENT_RANDOM') master = Buffer.from(secretHex!, 'hex');
  };
  const { session } = await connect(port, { version: 'TLSv1.2', noTicket: true, keylog });
  if (!session || !master) throw new Error('no session or key log line');
  return { session, master };
}

/** Waits until `m` has applied `n` sessions from other members. */
async function applied(m: Member, n: number): Promise<void> {
  for (let i = 0; replication(m).applied < n; i++) {
    if (i > 200) throw new Error(`member applied ${replication(m).applied} of ${n} sessions`);
    await sleep(10);
  }
}

/** Returning clients placed at random per connection, back after >= 50 ms: resumed share of returning connections. */
async function population(ports: number[], version: Version, clientCount: number, rounds: number): Promise<number> {
  const sessions: Array<Buffer | undefined> = Array.from({ length: clientCount }, () => undefined);
  let returning = 0;
  let resumed = 0;
  for (let r = 0; r < rounds; r++) {
    if (r > 0) await sleep(60);
    await Promise.all(
      sessions.map(async (session, i) => {
        const res = await connect(ports[crypto.randomInt(ports.length)]!, { version, session, noTicket: version === 'TLSv1.2' });
        if (session) {
          returning++;
          if (res.reused) resumed++;
        }
        sessions[i] = res.session ?? session;
      }),
    );
  }
  return resumed / returning;
}

describe('fleet.replicate: every member resumes every fleet session from its own memory', () => {
  test.each(['TLSv1.2', 'TLSv1.3'] as const)(
    '%s across two members (one on OpenSSL cache, one on a shared store): >= 0.99, no Redis GET, nothing counted as lookup',
    async (version) => {
      const prefix = `pop-${version}:`;
      const store = `replicate-test-${process.pid}-${version}`;
      const a = await member(prefix);
      const b = await member(prefix, { shared: { name: store, sizeBytes: 1 << 20 } });
      const gets = async () => Number(/cmdstat_get:calls=(\d+)/.exec(String(await clients[0]!.info('commandstats')))?.[1] ?? 0);
      const getsBefore = await gets();
      const ratio = await population([a.port, b.port], version, 20, 5);
      expect(ratio).toBeGreaterThanOrEqual(0.99);
      const [sa, sb] = [a.cache.stats(), b.cache.stats()];
      expect(sa.fleet!.replication!.applied + sb.fleet!.replication!.applied).toBeGreaterThan(0);
      expect(sa.fleet!.replication!.published + sb.fleet!.replication!.published).toBeGreaterThan(0);
      expect(sa.fleet!.replication!).toMatchObject({ rejected: 0, caughtUp: true });
      expect(sb.shared!.stores).toBeGreaterThan(0);
      expect(sa.resumption.byProtocol[version].resumed + sb.resumption.byProtocol[version].resumed).toBeGreaterThan(0);
      expect(sa.fleet!.replication!.lagP99Ms).toBeGreaterThanOrEqual(0);
      expect(sa.fleet!.lookups).toBeUndefined();
      expect(a.server.listenerCount('resumeSession') + a.server.listenerCount('newSession')).toBe(0);
      expect(await gets()).toBe(getsBefore);
      caches.splice(caches.indexOf(b.cache), 1)[0]!.detach();
      require('node:fs').rmSync(sharedStorePath(store), { force: true });
    },
  );

  test('a session that has not arrived yet is a counted miss (notYetReplicated), resumed once it arrives', async () => {
    const a = await member('nyr:');
    const b = await member('nyr:');
    redis.pause();
    try {
      const first = await connect(a.port, { version: 'TLSv1.2', noTicket: true });
      const early = await connect(b.port, { version: 'TLSv1.2', noTicket: true, session: first.session });
      expect(early.reused).toBe(false);
      const failed = b.cache.stats().resumption.failed;
      expect(failed.notYetReplicated).toBe(1);
      expect(failed.notFound).toBe(0);
      await sleep(1200);
      // Redis is stopped: the replica has not heard from the stream for as long.
      expect(replication(b).silentMs).toBeGreaterThanOrEqual(1000);
      redis.resume();
      await applied(b, 1);
      expect((await connect(b.port, { version: 'TLSv1.2', noTicket: true, session: first.session })).reused).toBe(true);
    } finally {
      redis.resume();
    }
  });

  test('Redis made slow (DEBUG SLEEP) does not touch a handshake of a replicated session; Redis killed: resumption goes on', async () => {
    const own = await startRedis();
    try {
      const make = async () => {
        const server = tlsServer({ noTickets: true });
        servers.push(server);
        const c = client(own.port);
        await c.ping();
        const cache = attach(server, { tickets: { enabled: false }, fleet: { redis: c, secret: Buffer.from(secret) } });
        caches.push(cache);
        await cache.replicated();
        return { port: await listen(server), cache, server };
      };
      const a = await make();
      const b = await make();
      const sessions: Buffer[] = [];
      for (let i = 0; i < 10; i++)
        sessions.push((await connect(a.port, { version: i % 2 ? 'TLSv1.3' : 'TLSv1.2', noTicket: true })).session!);
      await applied(b, 10);
      // Redis asleep for 1.5 s: every resumption on b still comes from its memory.
      const sleeper = client(own.port);
      const slept = sleeper.call('DEBUG', 'SLEEP', '1.5').catch(() => undefined);
      await sleep(50);
      const slow = await Promise.all(
        sessions.map((session, i) => connect(b.port, { version: i % 2 ? 'TLSv1.3' : 'TLSv1.2', noTicket: true, session })),
      );
      expect(slow.filter((r) => r.reused)).toHaveLength(10);
      await slept;
      // Redis killed: members resume what they hold; new clients get full handshakes, none fails.
      await own.stop();
      const down = await Promise.all(
        sessions.map((session, i) => connect(b.port, { version: i % 2 ? 'TLSv1.3' : 'TLSv1.2', noTicket: true, session })),
      );
      expect(down.filter((r) => r.reused)).toHaveLength(10);
      const fresh = await connect(a.port, { version: 'TLSv1.2', noTicket: true });
      expect(fresh.protocol).toBe('TLSv1.2');
      expect((await connect(a.port, { version: 'TLSv1.2', noTicket: true, session: fresh.session })).reused).toBe(true);
      const failed = b.cache.stats().resumption.failed;
      expect(Object.values(failed).reduce((x: number, y) => x + (y as number), 0)).toBe(0);
      await sleep(1100);
      expect(replication(b).silentMs).toBeGreaterThanOrEqual(1000);
    } finally {
      await own.stop();
    }
  });

  test('a member that joins later catches up on the live sessions before it serves', async () => {
    const a = await member('join:');
    const sessions: Buffer[] = [];
    for (let i = 0; i < 8; i++) sessions.push((await connect(a.port, { version: i % 2 ? 'TLSv1.3' : 'TLSv1.2', noTicket: true })).session!);
    await sleep(100);
    const late = await member('join:');
    // TLS 1.3 full handshakes issue two tickets each: every one of them is a session.
    expect(replication(late)).toMatchObject({ caughtUp: true, applied: replication(a).published });
    const back = await Promise.all(
      sessions.map((session, i) => connect(late.port, { version: i % 2 ? 'TLSv1.3' : 'TLSv1.2', noTicket: true, session })),
    );
    expect(back.filter((r) => r.reused)).toHaveLength(8);
  });

  test('sealed in Redis, forged and foreign entries dropped and counted, expiry bounded by the session lifetime', async () => {
    const a = await member('seal:', { cache: { timeoutSeconds: 120 } });
    const b = await member('seal:', { cache: { timeoutSeconds: 120 } });
    const first = await connect(a.port, { version: 'TLSv1.2', noTicket: true });
    await applied(b, 1);
    const entries = (await clients[0]!.xrange('seal:stream', '-', '+')) as [string, string[]][];
    expect(entries).toHaveLength(1);
    const fields = entries[0]![1];
    const field = (name: string) => fields[fields.indexOf(name) + 1]!;
    // The session (which carries the master secret) is not in Redis in the clear.
    expect(Buffer.from(field('b'), 'base64').includes(first.session!.subarray(-48))).toBe(false);
    expect(fields.join(' ')).not.toContain(first.session!.subarray(-48).toString('hex'));
    const expiresAt = Number(field('e'));
    expect(expiresAt).toBeLessThanOrEqual(Date.now() / 1000 + 121);
    // Forged: garbage, a real entry with a later expiry, a real entry under another session ID.
    const forge = (...f: string[]) => clients[0]!.call('XADD', 'seal:stream', '*', 'm', 'forger', ...f);
    await forge('k', 's', 'i', field('i'), 'e', field('e'), 'b', 'not sealed');
    await forge('k', 's', 'i', field('i'), 'e', String(expiresAt + 3600), 'b', field('b'));
    await forge('k', 's', 'i', crypto.randomBytes(32).toString('hex'), 'e', field('e'), 'b', field('b'));
    await forge('k', 'f', 'i', '', 'e', String(Date.now()), 'b', field('b'));
    // Foreign: a member of another fleet (another secret, so another derived session-ID context)
    // writing to the same stream: its entries name its context, and b skips them unopened.
    const foreign = await member('seal:', {}, crypto.randomBytes(32));
    const theirs = await connect(foreign.port, { version: 'TLSv1.2', noTicket: true });
    for (let i = 0; replication(b).rejected + replication(b).otherContext < 5 && i < 200; i++) await sleep(10);
    expect(replication(b)).toMatchObject({ rejected: 4, otherContext: 1, applied: 1, flushes: 0 });
    expect((await connect(b.port, { version: 'TLSv1.2', noTicket: true, session: theirs.session })).reused).toBe(false);
    expect((await connect(b.port, { version: 'TLSv1.2', noTicket: true, session: first.session })).reused).toBe(true);
  });

  test('no entry stays in Redis past its session lifetime', async () => {
    const a = await member('trim:', { cache: { timeoutSeconds: 1 } });
    await connect(a.port, { version: 'TLSv1.2', noTicket: true });
    await sleep(100);
    expect(await clients[0]!.xlen('trim:stream')).toBe(1);
    // Trimmed every 5 s by entry time (XTRIM MINID): gone within the lifetime plus one period.
    for (let i = 0; i < 80 && (await clients[0]!.xlen('trim:stream')) > 0; i++) await sleep(100);
    expect(await clients[0]!.xlen('trim:stream')).toBe(0);
  });

  test('flush({ all: true }) on one member empties every member; a member joining later does not bring the sessions back', async () => {
    const a = await member('flush:');
    const b = await member('flush:');
    const sessions: Buffer[] = [];
    for (let i = 0; i < 4; i++) sessions.push((await connect(a.port, { version: 'TLSv1.2', noTicket: true })).session!);
    await applied(b, 4);
    a.cache.flush({ all: true });
    for (let i = 0; replication(b).flushes < 1 && i < 200; i++) await sleep(10);
    expect(replication(b).flushes).toBe(1);
    for (const session of sessions) {
      expect((await connect(b.port, { version: 'TLSv1.2', noTicket: true, session })).reused).toBe(false);
      expect((await connect(a.port, { version: 'TLSv1.2', noTicket: true, session })).reused).toBe(false);
    }
    // The stream now starts at the flush: what came before it is gone from Redis too.
    const [head] = (await clients[0]!.xrange('flush:stream', '-', '+', 'COUNT', 1)) as [string, string[]][];
    expect(head![1]).toEqual(expect.arrayContaining(['k', 'f']));
    const late = await member('flush:');
    for (const session of sessions) {
      expect((await connect(late.port, { version: 'TLSv1.2', noTicket: true, session })).reused).toBe(false);
    }
  });

  test("flushed and expired sessions are wiped from every member's store file (no master secret left behind)", async () => {
    const file = path.join(os.tmpdir(), `replicate-wipe-${process.pid}.store`);
    fs.rmSync(file, { force: true });
    try {
      const a = await member('wipe:', { cache: { timeoutSeconds: 2 } });
      const b = await member('wipe:', { cache: { timeoutSeconds: 2 }, shared: { path: file, sizeBytes: 1 << 20 } });
      const holds = (master: Buffer) => fs.readFileSync(file).includes(master);
      // Expired: applied on b, then gone from b's file within the lifetime plus one sweep (5 s).
      const expiring = await handshakeWithMasterSecret(a.port);
      await applied(b, 1);
      expect(holds(expiring.master)).toBe(true);
      for (let i = 0; i < 90 && holds(expiring.master); i++) await sleep(100);
      expect(holds(expiring.master)).toBe(false);
      expect(b.cache.stats().shared!.expiries).toBeGreaterThanOrEqual(1);
      // Flushed on a: gone from b's file as soon as the flush arrives.
      const flushed = await handshakeWithMasterSecret(a.port);
      await applied(b, 2);
      expect(holds(flushed.master)).toBe(true);
      a.cache.flush({ all: true });
      for (let i = 0; replication(b).flushes < 1 && i < 200; i++) await sleep(10);
      expect(replication(b).flushes).toBe(1);
      expect(holds(flushed.master)).toBe(false);
      expect((await connect(b.port, { version: 'TLSv1.2', noTicket: true, session: flushed.session })).reused).toBe(false);
    } finally {
      for (const c of caches.splice(0)) c.detach();
      fs.rmSync(file, { force: true });
    }
  });

  test('fleet.replicate is validated', () => {
    const server = tlsServer({ noTickets: true });
    const c = new Redis({ lazyConnect: true });
    expectBadInput(
      'fleet option',
      'fleet.replicate not a boolean',
      () => attach(server, { fleet: { redis: c, secret: Buffer.alloc(32), replicate: 'yes' as never } }),
      TypeError,
      /"fleet.replicate" must be a boolean, got the string "yes"/,
    );
    // Replication is the default: the lookup mode's options without `replicate: false` are refused, not ignored.
    for (const [name, value] of [
      ['lookupTimeoutMs', 50],
      ['maxSessions', 100],
    ] as const) {
      let caught: (Error & { code?: string }) | undefined;
      expectBadInput(
        'fleet option',
        `fleet.${name} without replicate: false`,
        () => {
          try {
            attach(server, { fleet: { redis: c, secret: Buffer.alloc(32), [name]: value } });
          } catch (err) {
            caught = err as Error;
            throw err;
          }
        },
        RangeError,
        `"fleet.${name}" must be set only with fleet.replicate: false (the lookup mode; replication, the default, never looks a session up in Redis), got ${value} with replication on.`,
      );
      expect(caught!.code).toBe('ERR_INVALID_ARG_VALUE');
    }
    c.disconnect();
  });

  test('replication is the default; replicate: false is the lookup mode', async () => {
    const server = tlsServer({ noTickets: true });
    servers.push(server);
    const byDefault = attach(server, { fleet: { redis: client(), secret: Buffer.from(secret), prefix: 'default:' } });
    await byDefault.replicated();
    expect(byDefault.stats().fleet).toEqual({ replication: expect.objectContaining({ caughtUp: true }) });
    expect(server.listenerCount('resumeSession')).toBe(0);
    byDefault.detach();
    const lookup = attach(server, { fleet: { redis: client(), secret: Buffer.from(secret), prefix: 'default:', replicate: false } });
    caches.push(lookup);
    expect(lookup.stats().fleet).toMatchObject({ lookups: 0, stores: 0 });
    expect(lookup.stats().fleet!.replication).toBeUndefined();
    expect(server.listenerCount('resumeSession')).toBe(1);
  });
});
