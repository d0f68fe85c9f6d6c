/**
 * Isolation: two services with different session-ID contexts (`sessionIdContext`) never resume
 * each other's sessions, through any store this package adds: OpenSSL's internal cache (same
 * process), the shared store (same store name), the fleet Redis store (same Redis, same secret)
 * and tickets under one shared ring (`fromSecret` with the same secret).
 *
 * Each case has a control: a third service with the SAME context as the first resumes the first
 * one's session through the same store, so a "not resumed" is the context check at work and not
 * a store that simply failed. Who refuses: OpenSSL compares the session's sid_ctx with the
 * connection's after every lookup (cache, get-session callback, decrypted ticket) and treats a
 * difference as a miss; before that, the shared store and the fleet's Redis store key every entry
 * by context and session ID, so a lookup from another context misses there without decoding
 * anything (test/common/shared-store-scope.test.ts; the Redis cases below).
 *
 * Shared-store file mode 0600 and refusal of a file owned by another user are covered in
 * shared-store.test.ts ("the file is 0600 ..." and "a store of another ... owner or mode is refused").
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type * as tls from 'node:tls';
import Redis from 'ioredis';
import { sharedStorePath } from '../../src/common/shared-store';
import { selfSignedCertificate } from '../../src/ops/certificate';
import { attach, type SessionCache } from '../../src/server/attach';
import { TicketKeyRing } from '../../src/server/ticket-key-ring';
import { type RedisServer, startRedis } from '../support/redis';
import { close, connect, listen, type ServerOptions, tlsServer, type Version } from '../support/tls';

interface Service {
  server: tls.Server;
  cache: SessionCache;
  port: number;
}

const started: Service[] = [];
const certA = selfSignedCertificate('a.test', 1);
const certB = selfSignedCertificate('b.test', 1);
const rings: TicketKeyRing[] = [];

async function service(sid: string, serverOptions: ServerOptions, attachOptions: Parameters<typeof attach>[1]): Promise<Service> {
  const server = tlsServer({ sessionIdContext: sid, ...serverOptions });
  const cache = attach(server, attachOptions);
  const port = await listen(server);
  const s = { server, cache, port };
  started.push(s);
  return s;
}

afterEach(async () => {
  for (const s of started.splice(0)) {
    s.cache.detach();
    await close(s.server);
  }
  for (const r of rings.splice(0)) r.close();
});

/** A session from `from`, then: does `to` resume it? (`from` must resume it itself.) */
async function crossResume(from: Service, to: Service, version: Version, noTicket = false): Promise<{ own: boolean; cross: boolean }> {
  const first = await connect(from.port, { version, noTicket });
  expect(first.session).toBeDefined();
  const own = await connect(from.port, { version, noTicket, session: first.session });
  const cross = await connect(to.port, { version, noTicket, session: first.session });
  return { own: own.reused, cross: cross.reused };
}

const VERSIONS: Version[] = ['TLSv1.2', 'TLSv1.3'];

describe('isolation: different session-ID contexts never resume each other', () => {
  test.each(VERSIONS)('internal cache, one process (%s; session IDs / stateful TLS 1.3 tickets)', async (version) => {
    // Tickets off: TLS 1.2 resumes by session ID, TLS 1.3 by stateful tickets backed by the cache.
    const opts = { cache: { enabled: true } };
    const a = await service('service-a', { noTickets: true }, opts);
    const b = await service('service-b', { noTickets: true }, opts);
    const r = await crossResume(a, b, version, version === 'TLSv1.2');
    expect(r).toEqual({ own: true, cross: false });
    // Stateful sessions live in each context's own cache: b has never seen a's session ID.
    expect(b.cache.stats().hits).toBe(0);
  });

  test.each(VERSIONS)('shared store with the same name (%s)', async (version) => {
    const name = `isolation-${process.pid}-${version}`;
    const shared = { name, sizeBytes: 1 << 20 };
    try {
      const a = await service('service-a', { noTickets: true }, { shared });
      const b = await service('service-b', { noTickets: true }, { shared });
      const a2 = await service('service-a', { noTickets: true }, { shared });
      const r = await crossResume(a, b, version, version === 'TLSv1.2');
      expect(r).toEqual({ own: true, cross: false });
      // Control: another server of service a (another context, another internal cache) resumes
      // a's session through the store.
      const control = await crossResume(a, a2, version, version === 'TLSv1.2');
      expect(control.cross).toBe(true);
      // The store holds a's session under a's context: b's lookup is a context miss, nothing decoded.
      expect(b.cache.stats().hits).toBe(0);
      expect(b.cache.stats().shared).toMatchObject({ corrupt: 0 });
      expect(b.cache.stats().shared!.contextMisses).toBeGreaterThan(0);
      expect(a2.cache.stats().hits).toBeGreaterThan(0);
    } finally {
      fs.rmSync(sharedStorePath(name), { force: true });
    }
  });

  test.each(VERSIONS)('tickets under one ring secret (fromSecret, same secret) (%s)', async (version) => {
    const secret = crypto.randomBytes(32);
    const ring = (): TicketKeyRing => {
      const r = TicketKeyRing.fromSecret(secret);
      rings.push(r);
      return r;
    };
    // The internal cache off, so nothing but the ticket can resume.
    const opts = (): Parameters<typeof attach>[1] => ({ cache: { enabled: false }, tickets: { enabled: true, keyRing: ring() } });
    const a = await service('service-a', {}, opts());
    const b = await service('service-b', {}, opts());
    const a2 = await service('service-a', {}, opts());
    const r = await crossResume(a, b, version);
    expect(r).toEqual({ own: true, cross: false });
    const control = await crossResume(a, a2, version);
    expect(control.cross).toBe(true);
    // b's ring did decrypt the ticket (same key); OpenSSL then refused the session because its
    // sid_ctx is a's, and b issued a fresh one. The ring counts resumed only what OpenSSL resumed.
    const bStats = b.cache.stats();
    expect(Object.values(bStats.tickets!.keys).reduce((n, k) => n + k.decrypted, 0)).toBeGreaterThan(0);
    expect(bStats.tickets!.resumed).toBe(0);
    expect(bStats.resumption.failed.contextMismatch).toBeGreaterThan(0);
  });

  test('documented limit: without sessionIdContext, two servers of one configuration (same certificate, no client certificates) share the derived context and a shared ring resumes across them', async () => {
    // The derived context covers the fleet identity, the certificates and the client-certificate
    // policy (test/server/fleet-session-id-context.test.ts); servers alike in all of them are one
    // service to OpenSSL: isolating them needs the option (docs/hardening.md).
    const secret = crypto.randomBytes(32);
    const opts = (): Parameters<typeof attach>[1] => {
      const r = TicketKeyRing.fromSecret(secret);
      rings.push(r);
      return { cache: { enabled: false }, tickets: { keyRing: r } };
    };
    const mk = async (): Promise<Service> => {
      const server = tlsServer();
      const cache = attach(server, opts());
      const s = { server, cache, port: await listen(server) };
      started.push(s);
      return s;
    };
    const a = await mk();
    const b = await mk();
    const r = await crossResume(a, b, 'TLSv1.3');
    expect(r).toEqual({ own: true, cross: true });
  });

  describe('fleet Redis store, same Redis and secret', () => {
    let redis: RedisServer;
    let client: Redis;
    beforeAll(async () => {
      redis = await startRedis();
      client = new Redis({ port: redis.port, host: '127.0.0.1' });
    });
    afterAll(async () => {
      client.disconnect();
      await redis.stop();
    });

    test('TLS 1.2 session IDs', async () => {
      const secret = crypto.randomBytes(32);
      const fleet = (): Parameters<typeof attach>[1] => ({
        fleet: { redis: client, secret, prefix: 'isolation:', lookupTimeoutMs: 1000, replicate: false },
      });
      const a = await service('service-a', { noTickets: true }, fleet());
      const b = await service('service-b', { noTickets: true }, fleet());
      const a2 = await service('service-a', { noTickets: true }, fleet());
      const first = await connect(a.port, { version: 'TLSv1.2', noTicket: true });
      // The store is written behind the handshake.
      await waitFor(async () => (await client.keys('isolation:*')).length > 0);
      const cross = await connect(b.port, { version: 'TLSv1.2', noTicket: true, session: first.session });
      const control = await connect(a2.port, { version: 'TLSv1.2', noTicket: true, session: first.session });
      expect(control.reused).toBe(true);
      expect(cross.reused).toBe(false);
      // Entries are scoped by the context fingerprint (src/common/fleet-entry.ts): b asked Redis
      // for its own context's key and found nothing; nothing of a's was fetched or opened.
      expect(b.cache.stats().fleet!).toMatchObject({ lookups: 1, hits: 0, misses: 1, errors: 0 });
      expect(a2.cache.stats().fleet!.hits).toBe(1);
    });

    /** A fleet member serving `certificate`, with no sessionIdContext: the derived context (fleet identity + certificate) scopes its entries. */
    async function member(
      certificate: { key: string; cert: string },
      fleet: NonNullable<Parameters<typeof attach>[1]>['fleet'],
    ): Promise<Service> {
      const server = tlsServer({ ...certificate, noTickets: true });
      const cache = attach(server, { fleet });
      const s = { server, cache, port: await listen(server) };
      started.push(s);
      return s;
    }

    test('lookup mode (replicate: false), two fleets of other certificates on one Redis and secret: a miss before anything is fetched or opened', async () => {
      const secret = crypto.randomBytes(32);
      const fleet = { redis: client, secret, prefix: 'scoped-lookup:', lookupTimeoutMs: 1000, replicate: false };
      const a = await member(certA, fleet);
      const a2 = await member(certA, fleet);
      const b = await member(certB, fleet);
      expect(a.cache.stats().sessionIdContext.fingerprint).not.toBe(b.cache.stats().sessionIdContext.fingerprint);
      const first = await connect(a.port, { version: 'TLSv1.2', noTicket: true });
      await waitFor(async () => (await client.keys('scoped-lookup:*')).length > 0);
      // The entry key names the writer's context fingerprint (fleet-entry.ts).
      expect(await client.keys(`scoped-lookup:${a.cache.stats().sessionIdContext.fingerprint}:*`)).toHaveLength(1);
      const cross = await connect(b.port, { version: 'TLSv1.2', noTicket: true, session: first.session });
      expect(cross.reused).toBe(false);
      // b asked for its own context's key: absent. Nothing of a's entry was read or opened.
      expect(b.cache.stats().fleet!).toMatchObject({ lookups: 1, hits: 0, misses: 1, errors: 0 });
      expect(b.cache.stats().resumption.failed.storeError).toBe(0);
      const control = await connect(a2.port, { version: 'TLSv1.2', noTicket: true, session: first.session });
      expect(control.reused).toBe(true);
      expect(a2.cache.stats().fleet!.hits).toBe(1);
    });

    test.each(['TLSv1.2', 'TLSv1.3'] as Version[])(
      'replication, two fleets of other certificates on one stream and secret (%s): the other fleet skips the entries unopened',
      async (version) => {
        const secret = crypto.randomBytes(32);
        const fleet = { redis: client, secret, prefix: `scoped-stream-${version}:` };
        const a = await member(certA, fleet);
        const a2 = await member(certA, fleet);
        const b = await member(certB, fleet);
        const noTicket = version === 'TLSv1.2';
        const first = await connect(a.port, { version, noTicket });
        const replication = (s: Service) => s.cache.stats().fleet!.replication!;
        await waitFor(async () => replication(a2).applied > 0 && replication(b).otherContext > 0);
        expect(replication(b)).toMatchObject({ applied: 0, rejected: 0 });
        expect(replication(a2)).toMatchObject({ otherContext: 0, rejected: 0 });
        expect((await connect(b.port, { version, noTicket, session: first.session })).reused).toBe(false);
        expect((await connect(a2.port, { version, noTicket, session: first.session })).reused).toBe(true);
      },
    );
  });
});

async function waitFor(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
