/**
 * stats().resumption: every offered session is counted once, as resumed or under the reason it
 * was not, each reason produced on purpose with real TLS connections on loopback.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import Redis from 'ioredis';
import { native } from '../src/common/native';
import { attach, RESUMPTION_FAILURE_REASONS, type ResumptionStats, type SessionCache } from '../src/server/attach';
import { TicketKeyRing } from '../src/server/ticket-key-ring';
import { expectBadInput } from './support/bad-inputs';
import { startRedis } from './support/redis';
import { hooks } from './support/store-hooks';
import { close, connect, http2Request, http2Server, httpsServer, listen, type ServerOptions, tlsServer, type Version } from './support/tls';

const servers: tls.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => close(s)));
});

async function serve(
  o: ServerOptions = {},
  options: Parameters<typeof attach>[1] = {},
): Promise<{ server: tls.Server; port: number; cache: SessionCache }> {
  const server = tlsServer({ sessionIdContext: 'reasons-test', ...o });
  servers.push(server);
  const cache = attach(server, options);
  const port = await listen(server);
  return { server, port, cache };
}

/** offered = resumed + sum(failed), and the per-protocol counts add up to the totals. */
function checked(cache: SessionCache): ResumptionStats {
  const r = cache.stats().resumption;
  const failed = RESUMPTION_FAILURE_REASONS.reduce((n, k) => n + r.failed[k], 0);
  expect(r.offered).toBe(r.resumed + failed);
  expect(r.byProtocol['TLSv1.2'].offered + r.byProtocol['TLSv1.3'].offered).toBe(r.offered);
  expect(r.byProtocol['TLSv1.2'].resumed + r.byProtocol['TLSv1.3'].resumed).toBe(r.resumed);
  return r;
}

function failures(cache: SessionCache): Record<string, number> {
  const f = checked(cache).failed;
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v !== 0));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until `offsetMs` past the next whole second. OpenSSL 3.0 ages sessions in whole seconds
 * and a TLS 1.3 client drops a PSK older than its lifetime hint + 1 s, so an expiry test issues
 * its session just after a second starts and offers it exactly timeout + 1 seconds later.
 */
async function atSecond(offsetMs: number): Promise<void> {
  await sleep(1000 - (Date.now() % 1000) + offsetMs);
}

describe.each(['TLSv1.2', 'TLSv1.3'] as Version[])('resumption reasons over %s tickets', (version) => {
  test("fresh handshakes offer nothing (a TLS 1.3 client's random legacy session ID is no offer); resumed tickets count", async () => {
    const { port, cache } = await serve();
    const first = await connect(port, { version });
    await connect(port); // no session: the default client still sends a random legacy session ID
    expect(checked(cache)).toMatchObject({ offered: 0, resumed: 0 });
    let session = first.session;
    for (let i = 0; i < 3; i++) {
      const r = await connect(port, { version, session });
      expect(r.reused).toBe(true);
      session = r.session ?? session;
    }
    const r = checked(cache);
    expect(r).toMatchObject({ offered: 3, resumed: 3 });
    expect(r.byProtocol[version]).toEqual({ offered: 3, resumed: 3 });
  });

  test('a ticket from another ring: unknownKey; a forged ticket under a known key name: badTicket, and the ring does not count it resumed', async () => {
    const ringA = TicketKeyRing.generate();
    const ringB = TicketKeyRing.generate();
    const a = await serve({}, { tickets: { keyRing: ringA } });
    const b = await serve({}, { tickets: { keyRing: ringB } });
    const fromA = await connect(a.port, { version });
    const onB = await connect(b.port, { version, session: fromA.session });
    expect(onB.reused).toBe(false);
    expect(failures(b.cache)).toEqual({ unknownKey: 1 });

    const forged = forgeTicket(fromA.session!);
    const resumedBefore = ringA.stats().resumed;
    const onA = await connect(a.port, { version, session: forged });
    expect(onA.reused).toBe(false);
    expect(failures(a.cache)).toEqual({ badTicket: 1 });
    expect(ringA.stats().resumed).toBe(resumedBefore);
    // And a genuine one still resumes and is counted by the ring.
    const genuine = await connect(a.port, { version, session: fromA.session });
    expect(genuine.reused).toBe(true);
    expect(ringA.stats().resumed).toBe(resumedBefore + 1);
    ringA.close();
    ringB.close();
  });

  test("Node's own ticket key (no ring): a forged ticket is badTicket, another server's is unknownKey", async () => {
    const a = await serve();
    const b = await serve();
    const fromA = await connect(a.port, { version });
    expect((await connect(b.port, { version, session: fromA.session })).reused).toBe(false);
    expect(failures(b.cache)).toEqual({ unknownKey: 1 });
    expect((await connect(a.port, { version, session: forgeTicket(fromA.session!) })).reused).toBe(false);
    expect(failures(a.cache)).toEqual({ badTicket: 1 });
  });

  test('same ring, two session-ID contexts: contextMismatch', async () => {
    const ring = TicketKeyRing.generate();
    const a = await serve({ sessionIdContext: 'context-a' }, { tickets: { keyRing: ring } });
    const b = await serve({ sessionIdContext: 'context-b' }, { tickets: { keyRing: ring } });
    const fromA = await connect(a.port, { version });
    expect((await connect(b.port, { version, session: fromA.session })).reused).toBe(false);
    expect(failures(b.cache)).toEqual({ contextMismatch: 1 });
    // Same context, same ring: resumes.
    const c = await serve({ sessionIdContext: 'context-a' }, { tickets: { keyRing: ring } });
    expect((await connect(c.port, { version, session: fromA.session })).reused).toBe(true);
    expect(checked(c.cache)).toMatchObject({ offered: 1, resumed: 1 });
    ring.close();
  });

  test('a 1-second timeout: expired', async () => {
    const { port, cache } = await serve({}, { cache: { timeoutSeconds: 1 } });
    await atSecond(20);
    const first = await connect(port, { version });
    await atSecond(1300);
    expect((await connect(port, { version, session: first.session })).reused).toBe(false);
    expect(failures(cache)).toEqual({ expired: 1 });
  });
});

describe('resumption reasons over stateful sessions', () => {
  test('TLS 1.2 session ID: resumed, then an unknown one (another server, a flushed cache) is notFound', async () => {
    const a = await serve({ noTickets: true });
    const b = await serve({ noTickets: true });
    const first = await connect(a.port, { version: 'TLSv1.2', noTicket: true });
    expect((await connect(a.port, { version: 'TLSv1.2', noTicket: true, session: first.session })).reused).toBe(true);
    expect((await connect(b.port, { version: 'TLSv1.2', noTicket: true, session: first.session })).reused).toBe(false);
    expect(failures(b.cache)).toEqual({ notFound: 1 });
    a.cache.flush({ all: true });
    expect((await connect(a.port, { version: 'TLSv1.2', noTicket: true, session: first.session })).reused).toBe(false);
    expect(checked(a.cache)).toMatchObject({ offered: 2, resumed: 1, failed: { notFound: 1 } });
  });

  test('TLS 1.2 session ID and stateful TLS 1.3 ticket past a 1-second timeout: expired', async () => {
    const { port, cache } = await serve({ noTickets: true }, { cache: { timeoutSeconds: 1 } });
    await atSecond(20);
    const s12 = await connect(port, { version: 'TLSv1.2', noTicket: true });
    const s13 = await connect(port, { version: 'TLSv1.3' });
    await atSecond(1300);
    expect((await connect(port, { version: 'TLSv1.2', noTicket: true, session: s12.session })).reused).toBe(false);
    expect((await connect(port, { version: 'TLSv1.3', session: s13.session })).reused).toBe(false);
    const r = checked(cache);
    expect(failures(cache)).toEqual({ expired: 2 });
    expect(r.byProtocol).toEqual({ 'TLSv1.2': { offered: 1, resumed: 0 }, 'TLSv1.3': { offered: 1, resumed: 0 } });
  });
});

describe('protocol mismatches', () => {
  test('a TLS 1.3 PSK under a SHA-384 suite offered to a server with only SHA-256 suites', async () => {
    const ring = TicketKeyRing.generate();
    const a = await serve({ ciphers: 'TLS_AES_256_GCM_SHA384' }, { tickets: { keyRing: ring } });
    const b = await serve({ ciphers: 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256' }, { tickets: { keyRing: ring } });
    const fromA = await connect(a.port, { version: 'TLSv1.3' });
    expect((await connect(b.port, { version: 'TLSv1.3', session: fromA.session })).reused).toBe(false);
    expect(failures(b.cache)).toEqual({ protocolMismatch: 1 });
    expect(checked(b.cache).byProtocol['TLSv1.3']).toEqual({ offered: 1, resumed: 0 });
    ring.close();
  });

  test('a TLS 1.2 ticket offered by a client that negotiates TLS 1.3, and a TLS 1.3 ticket to a TLS 1.2-only server', async () => {
    const ring = TicketKeyRing.generate();
    const a = await serve({}, { tickets: { keyRing: ring } });
    const only12 = await serve({ maxVersion: 'TLSv1.2' }, { tickets: { keyRing: ring } });
    const s12 = await connect(a.port, { version: 'TLSv1.2' });
    const s13 = await connect(a.port, { version: 'TLSv1.3' });
    const up = await connect(a.port, { range: ['TLSv1.2', 'TLSv1.3'], session: s12.session! });
    expect(up).toMatchObject({ reused: false, protocol: 'TLSv1.3' });
    expect(failures(a.cache)).toEqual({ protocolMismatch: 1 });
    const down = await connect(only12.port, { range: ['TLSv1.2', 'TLSv1.3'], session: s13.session! });
    expect(down).toMatchObject({ reused: false, protocol: 'TLSv1.2' });
    expect(failures(only12.cache)).toEqual({ protocolMismatch: 1 });
    ring.close();
  });
});

describe('maxSessionAgeSeconds', () => {
  test('a renewed TLS 1.3 chain resumes until its original handshake is older than the cap, then is refused as tooOld', async () => {
    const ring = TicketKeyRing.generate();
    const { port, cache } = await serve({}, { tickets: { keyRing: ring }, maxSessionAgeSeconds: 2 });
    const start = Date.now();
    const first = await connect(port, { version: 'TLSv1.3' });
    let session = first.session;
    const outcome: Array<{ reused: boolean; elapsedMs: number }> = [];
    while (Date.now() - start < 4500) {
      await sleep(400);
      const r = await connect(port, { version: 'TLSv1.3', session });
      outcome.push({ reused: r.reused, elapsedMs: Date.now() - start });
      session = r.session ?? session;
      if (!r.reused) break;
    }
    // Renewed tickets (each used once) resumed for at least the first two seconds...
    const resumed = outcome.filter((o) => o.reused);
    expect(resumed.length).toBeGreaterThanOrEqual(3);
    expect(resumed.every((o) => o.elapsedMs < 3100)).toBe(true);
    // ...and the first offer past the cap was refused, counted tooOld.
    const refused = outcome.at(-1)!;
    expect(refused.reused).toBe(false);
    expect(refused.elapsedMs).toBeGreaterThan(2000);
    expect(failures(cache)).toEqual({ tooOld: 1 });
    // The refused connection was a full handshake: its fresh ticket starts a new chain.
    expect((await connect(port, { version: 'TLSv1.3', session })).reused).toBe(true);
    expect(checked(cache)).toMatchObject({ resumed: resumed.length + 1, failed: { tooOld: 1 } });
    ring.close();
  });

  test('stateful sessions alike: a TLS 1.2 session ID with a long cache timeout is refused past the cap as tooOld', async () => {
    const { port, cache } = await serve({ noTickets: true }, { cache: { timeoutSeconds: 600 }, maxSessionAgeSeconds: 1 });
    const first = await connect(port, { version: 'TLSv1.2', noTicket: true });
    expect((await connect(port, { version: 'TLSv1.2', noTicket: true, session: first.session })).reused).toBe(true);
    await sleep(2200);
    expect((await connect(port, { version: 'TLSv1.2', noTicket: true, session: first.session })).reused).toBe(false);
    expect(failures(cache)).toEqual({ tooOld: 1 });
  });

  test('bad values: TypeError / RangeError naming the field, nothing applied', async () => {
    const server = tlsServer();
    servers.push(server);
    expectBadInput(
      'option',
      'maxSessionAgeSeconds: -1',
      () => attach(server, { maxSessionAgeSeconds: -1 }),
      RangeError,
      /"maxSessionAgeSeconds" must be between 0 and 2147483647 seconds, got -1/,
    );
    expectBadInput(
      'option',
      'maxSessionAgeSeconds: "60"',
      () => attach(server, { maxSessionAgeSeconds: '60' as unknown as number }),
      TypeError,
      /"maxSessionAgeSeconds" must be an integer/,
    );
    const cache = attach(server);
    expect(cache.options.maxSessionAgeSeconds).toBe(604800);
    expectBadInput(
      'option',
      'configure({ maxSessionAgeSeconds: 1.5 })',
      () => cache.configure({ maxSessionAgeSeconds: 1.5 }),
      TypeError,
      /"maxSessionAgeSeconds" must be an integer/,
    );
    expect(cache.options.maxSessionAgeSeconds).toBe(604800); // nothing applied
    expect(cache.configure({ maxSessionAgeSeconds: 0 }).options.maxSessionAgeSeconds).toBe(0);
  });
});

describe('storeError', () => {
  const MiB = 1024 * 1024;
  const SLOT = 384;
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reasons-store-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Two servers (two contexts, two internal caches) sharing one store file, as two workers do. */
  async function pair(timeoutSeconds?: number) {
    const shared = { path: path.join(dir, 'store'), sizeBytes: MiB, slotBytes: SLOT };
    const cache = timeoutSeconds === undefined ? {} : { timeoutSeconds };
    const a = await serve({ noTickets: true }, { shared, cache });
    const b = await serve({ noTickets: true }, { shared });
    return { a, b, file: shared.path };
  }

  /** Flips one byte of the session bytes of every live slot in the store file. */
  function corruptLiveSlots(file: string): number {
    const l = hooks.layout(MiB, SLOT);
    const fd = fs.openSync(file, 'r+');
    let n = 0;
    try {
      const slot = Buffer.alloc(SLOT);
      for (let i = 0; i < l.slotCount; i++) {
        const at = l.slotsAt + i * SLOT;
        fs.readSync(fd, slot, 0, SLOT, at);
        if (slot.readUInt32LE(24) === 0) continue; // der_len: an empty slot
        slot[l.slotHeaderBytes + 8] ^= 0x01;
        fs.writeSync(fd, slot, 0, SLOT, at);
        n++;
      }
    } finally {
      fs.closeSync(fd);
    }
    return n;
  }

  // TLS 1.3 without tickets: the stateful PSK identity is looked up like a TLS 1.2 session ID.
  test.each(['TLSv1.2', 'TLSv1.3'] as Version[])(
    'the shared store over %s: an entry whose bytes fail their checksum is storeError, not notFound',
    async (version) => {
      const { a, b, file } = await pair();
      const o = { version, noTicket: version === 'TLSv1.2' };
      const s1 = await connect(a.port, o);
      // The store works: another context resumes a's session through it (and now caches it itself).
      expect((await connect(b.port, { ...o, session: s1.session })).reused).toBe(true);
      const s2 = await connect(a.port, o);
      // Every session the store holds (TLS 1.3: each ticket a server sends is one).
      expect(corruptLiveSlots(file)).toBe(version === 'TLSv1.2' ? 2 : 5);
      expect((await connect(b.port, { ...o, session: s2.session })).reused).toBe(false);
      // TLS 1.2: b's own cache still holds s1 (TLS 1.3 stateful sessions are single-use).
      const again = version === 'TLSv1.2' ? 1 : 0;
      if (again) expect((await connect(b.port, { ...o, session: s1.session })).reused).toBe(true);
      const counts = { offered: 2 + again, resumed: 1 + again };
      expect(checked(b.cache)).toMatchObject({ ...counts, byProtocol: { [version]: counts } });
      expect(failures(b.cache)).toEqual({ storeError: 1 });
      expect(b.cache.stats().shared).toMatchObject({ corrupt: 1 });
    },
  );

  test('the shared store: a session past its lifetime there is expired, not notFound', async () => {
    const { a, b } = await pair(1);
    await atSecond(20);
    const s = await connect(a.port, { version: 'TLSv1.2', noTicket: true });
    await atSecond(1300);
    expect((await connect(b.port, { version: 'TLSv1.2', noTicket: true, session: s.session })).reused).toBe(false);
    expect(failures(b.cache)).toEqual({ expired: 1 });
  });

  test('Redis stopped: the fleet lookup fails, the handshake is full, counted storeError', async () => {
    const redis = await startRedis();
    let stopped = false;
    const client = new Redis({ port: redis.port, lazyConnect: false, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    client.on('error', () => undefined);
    await new Promise((resolve) => client.once('ready', resolve));
    const secret = crypto.randomBytes(32);
    // The session comes from a member of the same fleet (same secret, so its session IDs carry
    // the fleet's tag and are looked up) whose Redis is another one: this member's Redis has
    // never seen it. A session from outside the fleet would cost no lookup at all.
    const otherRedis = await startRedis();
    const otherClient = new Redis({ port: otherRedis.port, lazyConnect: false, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    otherClient.on('error', () => undefined);
    await new Promise((resolve) => otherClient.once('ready', resolve));
    try {
      const other = await serve({ noTickets: true }, { fleet: { redis: otherClient, secret, lookupTimeoutMs: 200, replicate: false } });
      const { port, cache } = await serve(
        { noTickets: true },
        { fleet: { redis: client, secret, lookupTimeoutMs: 200, replicate: false } },
      );
      const first = await connect(other.port, { version: 'TLSv1.2', noTicket: true });
      // Redis up: a session this fleet never saw is simply not found.
      expect((await connect(port, { version: 'TLSv1.2', noTicket: true, session: first.session })).reused).toBe(false);
      expect(failures(cache)).toEqual({ notFound: 1 });
      await redis.stop();
      stopped = true;
      expect((await connect(port, { version: 'TLSv1.2', noTicket: true, session: first.session })).reused).toBe(false);
      expect(failures(cache)).toEqual({ notFound: 1, storeError: 1 });
    } finally {
      client.disconnect();
      otherClient.disconnect();
      await otherRedis.stop();
      // (stop() twice would wait for an exit that already happened)
      if (!stopped) await redis.stop();
    }
  });
});

describe('https and http2 servers', () => {
  test('resumptions and failures are counted the same way behind https and http2', async () => {
    const h1 = httpsServer({ sessionIdContext: 'reasons-test' });
    const h2 = http2Server({ sessionIdContext: 'reasons-test' });
    servers.push(h1, h2);
    const c1 = attach(h1);
    const c2 = attach(h2);
    const p1 = await listen(h1);
    const p2 = await listen(h2);
    const first = await connect(p1, { version: 'TLSv1.2' });
    expect((await connect(p1, { version: 'TLSv1.2', session: first.session })).reused).toBe(true);
    expect(checked(c1)).toMatchObject({ offered: 1, resumed: 1, byProtocol: { 'TLSv1.2': { offered: 1, resumed: 1 } } });
    const r1 = await http2Request(p2, { version: 'TLSv1.3' });
    expect((await http2Request(p2, { version: 'TLSv1.3', session: r1.session })).reused).toBe(true);
    // A ticket from the https server (another key) offered to the http2 server.
    expect((await http2Request(p2, { version: 'TLSv1.3', session: (await connect(p1, { version: 'TLSv1.3' })).session })).reused).toBe(
      false,
    );
    expect(checked(c2)).toMatchObject({
      offered: 2,
      resumed: 1,
      failed: { unknownKey: 1 },
      byProtocol: { 'TLSv1.3': { offered: 2, resumed: 1 } },
    });
  });
});

describe('hooks and Node', () => {
  test("Node's own newSession / resumeSession keep working beside the hooks, and their resumptions count", async () => {
    const store = new Map<string, Buffer>();
    const { server, port, cache } = await serve({ noTickets: true }, { cache: { enabled: false } });
    server.on('newSession', (id: Buffer, data: Buffer, cb: () => void) => {
      store.set(id.toString('hex'), data);
      cb();
    });
    server.on('resumeSession', (id: Buffer, cb: (err: Error | null, data?: Buffer | null) => void) =>
      cb(null, store.get(id.toString('hex')) ?? null),
    );
    const first = await connect(port, { version: 'TLSv1.2', noTicket: true });
    expect(store.size).toBe(1);
    expect((await connect(port, { version: 'TLSv1.2', noTicket: true, session: first.session })).reused).toBe(true);
    store.clear();
    expect((await connect(port, { version: 'TLSv1.2', noTicket: true, session: first.session })).reused).toBe(false);
    expect(checked(cache)).toMatchObject({ offered: 2, resumed: 1, failed: { notFound: 1 } });
  });

  test('sampled failures reach the diagnostics channel; detach removes the hooks', async () => {
    const dc = await import('node:diagnostics_channel');
    const seen: Array<Record<string, unknown>> = [];
    const onMessage = (m: unknown) => seen.push(m as Record<string, unknown>);
    dc.subscribe('tls-resumption:resumption-failed', onMessage);
    try {
      const a = await serve();
      const b = await serve();
      const fromA = await connect(a.port, { version: 'TLSv1.2' });
      for (let i = 0; i < 5; i++) await connect(b.port, { version: 'TLSv1.2', session: fromA.session });
      expect(failures(b.cache)).toEqual({ unknownKey: 5 });
      await sleep(1300);
      const mine = seen.filter((m) => m.cache === b.cache);
      // At most one message per reason per second: 5 failures inside a second or two give 1 or 2.
      expect(mine.length).toBeGreaterThanOrEqual(1);
      expect(mine.length).toBeLessThanOrEqual(2);
      expect(mine[0]).toMatchObject({ reason: 'unknownKey', protocol: 'TLSv1.2', mechanism: 'tls12Ticket' });
      expect(mine.reduce((n, m) => n + 1 + (m.suppressed as number), 0)).toBeLessThanOrEqual(5);
      b.cache.detach();
      const again = await connect(b.port, { version: 'TLSv1.2', session: fromA.session });
      expect(again.reused).toBe(false);
      expect(() => b.cache.stats()).toThrow(/detached/);
    } finally {
      dc.unsubscribe('tls-resumption:resumption-failed', onMessage);
    }
  });
});

/** Flips one byte inside the encrypted part of the session's ticket (after name and IV). */
function forgeTicket(session: Buffer): Buffer {
  const info = native.inspectSession(session);
  if (!info || info.ticket.length < 64) throw new Error('no ticket to forge');
  const at = session.indexOf(info.ticket);
  if (at < 0) throw new Error('ticket not found in the session bytes');
  const forged = Buffer.from(session);
  forged[at + 40] ^= 0x55;
  return forged;
}
