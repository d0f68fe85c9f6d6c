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
 * difference as a miss. The shared store keys entries by session ID alone and leaves that check
 * to OpenSSL (on Node 22 and 24 the connection's context is set per SNI name, unreadable).
 *
 * Shared-store file mode 0600 and refusal of a file owned by another user are covered in
 * shared-store.test.ts ("the file is 0600 ..." and "a store of another ... owner or mode is refused").
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type * as tls from 'node:tls';
import Redis from 'ioredis';
import { sharedStorePath } from '../src/common/shared-store';
import { attach, type SessionCache } from '../src/server/attach';
import { TicketKeyRing } from '../src/server/ticket-key-ring';
import { type RedisServer, startRedis } from './support/redis';
import { close, connect, listen, type ServerOptions, tlsServer, type Version } from './support/tls';

interface Service {
  server: tls.Server;
  cache: SessionCache;
  port: number;
}

const started: Service[] = [];
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
      // The store hands sessions out by ID; OpenSSL compares the session-ID context and treats
      // a foreign one as a miss (ssl_get_prev_session), so b resumes nothing. The store cannot
      // refuse earlier: on Node 22 and 24 a connection's context is SHA-256 of the configured
      // string and the SNI name, set per connection, and OpenSSL has no getter for it.
      expect(b.cache.stats().hits).toBe(0);
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
    // policy (test/fleet-session-id-context.test.ts); servers alike in all of them are one
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
  });
});

async function waitFor(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
