/**
 * Redis as a distributed engine: a Redis Cluster (three masters, one replica each, on loopback)
 * through ioredis's Cluster client, a primary failover while traffic runs, and node-redis (the
 * `redis` package) against a live server. Sessions are single keys (any slot); the ticket ring's
 * document and its lock share a slot (`{key}:lock`).
 */
import * as crypto from 'node:crypto';
import type * as tls from 'node:tls';
import { Cluster } from 'ioredis';
import { createClient } from 'redis';

import { attach, type SessionCache } from '../src/server/attach';
import { lockKeyOf } from '../src/server/fleet/redis-key-ring';
import { TicketKeyRing } from '../src/server/ticket-key-ring';
import { clusterNodeCommand, type RedisCluster, startRedis, startRedisCluster } from './support/redis';
import { close, connect, listen, tlsServer, type Version } from './support/tls';

const secret = crypto.randomBytes(32);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const servers: tls.Server[] = [];
const caches: SessionCache[] = [];
const rings: TicketKeyRing[] = [];

afterEach(async () => {
  for (const c of caches.splice(0)) c.detach();
  for (const r of rings.splice(0)) r.close();
  for (const s of servers.splice(0)) await close(s);
});

async function member(options: Parameters<typeof attach>[1], noTickets: boolean): Promise<{ port: number; cache: SessionCache }> {
  const server = tlsServer({ noTickets });
  servers.push(server);
  const cache = attach(server, options);
  caches.push(cache);
  return { port: await listen(server), cache };
}

/** Returning clients at random over `ports`: resumed share of returning connections, and failures. */
async function traffic(ports: number[], version: Version, clients: number, rounds: number, between?: (round: number) => Promise<void>) {
  const sessions: Array<Buffer | undefined> = Array.from({ length: clients }, () => undefined);
  let returning = 0;
  let resumed = 0;
  let failed = 0;
  for (let r = 0; r < rounds; r++) {
    // A member stores a new session in Redis after the handshake, asynchronously; a returning
    // client comes back later than the next event-loop turn, so let the writes land first.
    if (r > 0) await sleep(100);
    await between?.(r);
    await Promise.all(
      sessions.map(async (session, i) => {
        try {
          const res = await connect(ports[crypto.randomInt(ports.length)]!, { version, session, noTicket: version === 'TLSv1.2' });
          if (session) {
            returning++;
            if (res.reused) resumed++;
          }
          sessions[i] = res.session ?? session;
        } catch {
          failed++;
        }
      }),
    );
  }
  return { ratio: resumed / returning, failed };
}

/** The port of the replica of the master serving `slot` (CLUSTER NODES may not list it at once after the cluster formed: read again, for at most 10 s). */
async function replicaOfSlot(cluster: RedisCluster, slot: number): Promise<number> {
  for (let i = 0; i < 100; i++) {
    if (i > 0) await sleep(100);
    const nodesText = await clusterNodeCommand(cluster.nodes[0]!.port, 'CLUSTER', 'NODES');
    const lines = nodesText
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
    const master = lines.find(
      (l) =>
        l[2]!.includes('master') &&
        l.slice(8).some((r) => {
          const [lo, hi] = r.split('-').map(Number);
          return slot >= lo! && slot <= (hi ?? lo)!;
        }),
    );
    const replica = master && lines.find((l) => l[3] === master[0] && l[2]!.includes('slave'));
    if (replica) return Number(replica[1]!.split(':')[1]!.split('@')[0]);
  }
  throw new Error(`no replica of the master of slot ${slot} in CLUSTER NODES after 10 s`);
}

async function promoted(port: number): Promise<boolean> {
  for (let i = 0; i < 50 && !(await clusterNodeCommand(port, 'ROLE')).startsWith('master'); i++) await sleep(100);
  return (await clusterNodeCommand(port, 'ROLE')).startsWith('master');
}

describe('Redis Cluster (3 masters + 3 replicas) with ioredis Cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  }, 60000);
  afterAll(async () => {
    await cluster?.stop();
  });

  const clusterClient = () => {
    const c = new Cluster(cluster.seeds, { redisOptions: { maxRetriesPerRequest: 1 }, clusterRetryStrategy: () => 100 });
    c.on('error', () => undefined);
    return c;
  };

  test('fleet session store and fromRedis ring across the cluster; a primary failover mid-traffic fails no handshake and resumption recovers', async () => {
    const clients = [clusterClient(), clusterClient()];
    const ringsHere = clients.map((c) =>
      TicketKeyRing.fromRedis(c, { wrappingSecret: secret, key: 'cluster:ring', pollIntervalSeconds: 0.5 }),
    );
    rings.push(...ringsHere);
    await Promise.all(ringsHere.map((r) => r.ready()));
    const sessionsA = await member({ fleet: { redis: clients[0]!, secret, lookupTimeoutMs: 500, replicate: false } }, true);
    const sessionsB = await member({ fleet: { redis: clients[1]!, secret, lookupTimeoutMs: 500, replicate: false } }, true);
    const ticketsA = await member({ tickets: { keyRing: ringsHere[0]! } }, false);
    const ticketsB = await member({ tickets: { keyRing: ringsHere[1]! } }, false);
    expect(ringsHere[0]!.list()[0]!.id).toBe(ringsHere[1]!.list()[0]!.id);

    // The ring's lock is in the document's slot.
    const slot = async (key: string) => Number(await clients[0]!.call('CLUSTER', 'KEYSLOT', key));
    expect(await slot(lockKeyOf('cluster:ring'))).toBe(await slot('cluster:ring'));

    const before = await traffic([sessionsA.port, sessionsB.port], 'TLSv1.2', 12, 5);
    expect(before).toEqual({ ratio: expect.any(Number), failed: 0 });
    expect(before.ratio).toBeGreaterThanOrEqual(0.97);

    // Promote the replica of the master that holds the ring document, while traffic runs.
    const replicaPort = await replicaOfSlot(cluster, await slot('cluster:ring'));
    let failedOver = false;
    const during12 = await traffic([sessionsA.port, sessionsB.port], 'TLSv1.2', 12, 8, async (round) => {
      if (round === 2) {
        await clusterNodeCommand(replicaPort, 'CLUSTER', 'FAILOVER');
        failedOver = true;
      }
    });
    const during13 = await traffic([ticketsA.port, ticketsB.port], 'TLSv1.3', 12, 4);
    expect(failedOver).toBe(true);
    expect(await promoted(replicaPort)).toBe(true);
    expect({ failed12: during12.failed, failed13: during13.failed }).toEqual({ failed12: 0, failed13: 0 });
    expect(during13.ratio).toBeGreaterThanOrEqual(0.97);

    // After the failover: fresh clients resume through the promoted primary.
    const after = await traffic([sessionsA.port, sessionsB.port], 'TLSv1.2', 12, 5);
    expect(after.failed).toBe(0);
    expect(after.ratio).toBeGreaterThanOrEqual(0.97);
    // A rotation after the failover reaches both members (document and lock on the new primary).
    ringsHere[0]!.rotate();
    await sleep(2500);
    await Promise.all(ringsHere.map((r) => r.ready()));
    expect(ringsHere[0]!.list().find((k) => k.role === 'encrypt')!.id).toBe(ringsHere[1]!.list().find((k) => k.role === 'encrypt')!.id);
    expect(ringsHere[0]!.list().length).toBeGreaterThanOrEqual(2);
    clients.forEach((c) => c.disconnect());
  }, 120000);

  test("fleet.replicate through the cluster: TLS 1.2 IDs and TLS 1.3 stateful tickets from local memory; a failover of the stream's primary fails no handshake and replication goes on", async () => {
    const clients = [clusterClient(), clusterClient()];
    const options = (c: Cluster) => ({ tickets: { enabled: false }, fleet: { redis: c, secret, prefix: 'replica:' } });
    const a = await member(options(clients[0]!), true);
    const b = await member(options(clients[1]!), true);
    await Promise.all([a.cache.replicated(), b.cache.replicated()]);
    const before12 = await traffic([a.port, b.port], 'TLSv1.2', 12, 4);
    const before13 = await traffic([a.port, b.port], 'TLSv1.3', 12, 4);
    expect({ r12: before12.ratio, r13: before13.ratio }).toEqual({ r12: expect.any(Number), r13: expect.any(Number) });
    expect(Math.min(before12.ratio, before13.ratio)).toBeGreaterThanOrEqual(0.97);

    const replicaPort = await replicaOfSlot(cluster, Number(await clients[0]!.call('CLUSTER', 'KEYSLOT', 'replica:stream')));
    const during = await traffic([a.port, b.port], 'TLSv1.2', 12, 6, async (round) => {
      if (round === 2) await clusterNodeCommand(replicaPort, 'CLUSTER', 'FAILOVER');
    });
    expect(await promoted(replicaPort)).toBe(true);
    expect(during.failed).toBe(0);
    // After the failover: new sessions reach the other member through the promoted primary.
    const after12 = await traffic([a.port, b.port], 'TLSv1.2', 12, 4);
    const after13 = await traffic([a.port, b.port], 'TLSv1.3', 12, 4);
    expect({ failed12: after12.failed, failed13: after13.failed }).toEqual({ failed12: 0, failed13: 0 });
    expect(Math.min(after12.ratio, after13.ratio)).toBeGreaterThanOrEqual(0.97);
    const stats = [a, b].map((m) => m.cache.stats().fleet!.replication!);
    expect(stats[0]!.applied + stats[1]!.applied).toBeGreaterThan(0);
    expect(stats[0]!.rejected + stats[1]!.rejected).toBe(0);
    clients.forEach((c) => c.disconnect());
  }, 120000);
});

describe('node-redis (the redis package) against a live redis-server', () => {
  test("fleet session store and fromRedis ring: members resume each other's clients; a rotation reaches the other member through its subscription", async () => {
    const redis = await startRedis();
    const clients = [
      createClient({ socket: { host: '127.0.0.1', port: redis.port } }),
      createClient({ socket: { host: '127.0.0.1', port: redis.port } }),
    ];
    for (const c of clients) {
      c.on('error', () => undefined);
      await c.connect();
    }
    try {
      const ringsHere = clients.map((c) =>
        TicketKeyRing.fromRedis(c, { wrappingSecret: secret, key: 'node-redis:ring', pollIntervalSeconds: 600 }),
      );
      rings.push(...ringsHere);
      await Promise.all(ringsHere.map((r) => r.ready()));
      const a = await member(
        { fleet: { redis: clients[0]!, secret, lookupTimeoutMs: 500, replicate: false }, tickets: { keyRing: ringsHere[0]! } },
        false,
      );
      const b = await member(
        { fleet: { redis: clients[1]!, secret, lookupTimeoutMs: 500, replicate: false }, tickets: { keyRing: ringsHere[1]! } },
        false,
      );
      const r12 = await traffic([a.port, b.port], 'TLSv1.2', 10, 5);
      const r13 = await traffic([a.port, b.port], 'TLSv1.3', 10, 5);
      expect({ r12: r12.failed, r13: r13.failed }).toEqual({ r12: 0, r13: 0 });
      expect(r12.ratio).toBeGreaterThanOrEqual(0.97);
      expect(r13.ratio).toBeGreaterThanOrEqual(0.97);
      expect(a.cache.stats().fleet!.hits! + b.cache.stats().fleet!.hits!).toBeGreaterThan(0);
      expect(a.cache.stats().fleet!.errors! + b.cache.stats().fleet!.errors!).toBe(0);
      // Polling is 10 minutes: only the published message can bring the new key this fast.
      const version = ringsHere[1]!._fleetStats()!.ringVersion;
      ringsHere[0]!.rotate();
      for (let i = 0; i < 50 && ringsHere[1]!._fleetStats()!.ringVersion === version; i++) await sleep(100);
      expect(ringsHere[1]!._fleetStats()!.ringVersion).toBe(version + 1);
      const sealed = await clients[0]!.get('node-redis:ring');
      expect(JSON.parse(sealed!).v).toBe(version + 1);
      // Replication through node-redis: its duplicate() connection carries the blocking stream read.
      const options = (c: (typeof clients)[number]) => ({
        tickets: { enabled: false },
        fleet: { redis: c, secret, prefix: 'nr:' },
      });
      const ra = await member(options(clients[0]!), true);
      const rb = await member(options(clients[1]!), true);
      await Promise.all([ra.cache.replicated(), rb.cache.replicated()]);
      const rep12 = await traffic([ra.port, rb.port], 'TLSv1.2', 10, 4);
      const rep13 = await traffic([ra.port, rb.port], 'TLSv1.3', 10, 4);
      expect({ f12: rep12.failed, f13: rep13.failed }).toEqual({ f12: 0, f13: 0 });
      expect(Math.min(rep12.ratio, rep13.ratio)).toBeGreaterThanOrEqual(0.97);
      expect(rb.cache.stats().fleet!.replication!.applied).toBeGreaterThan(0);
    } finally {
      for (const r of rings.splice(0)) r.close();
      for (const c of clients) await c.quit().catch(() => undefined);
      await redis.stop();
    }
  }, 60000);
});
