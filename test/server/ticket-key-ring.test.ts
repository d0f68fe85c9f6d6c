import { type ChildProcess, fork } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import * as tls from 'node:tls';
import * as util from 'node:util';

import { attach } from '../../src/server/attach';
import { TicketKeyRing } from '../../src/server/ticket-key-ring';
import { expectBadInput } from '../support/bad-inputs';
import { onceChain } from '../support/once';
import {
  type ConnectOptions,
  cert,
  close,
  connect,
  http2Request,
  http2Server,
  httpsServer,
  listen,
  resumeChain,
  tlsServer,
} from '../support/tls';

const V13: ConnectOptions = { version: 'TLSv1.3' };
const V12: ConnectOptions = { version: 'TLSv1.2' };

/** A key in Node's layout (name | HMAC | AES; nginx's too for 80 bytes) plus its parts, so tests can build the other layouts. */
function keyParts(bytes: 48 | 80): { name: Buffer; hmac: Buffer; aes: Buffer; nginx: Buffer; haproxy: Buffer } {
  const half = (bytes - 16) / 2;
  const name = crypto.randomBytes(16);
  const hmac = crypto.randomBytes(half);
  const aes = crypto.randomBytes(half);
  return { name, hmac, aes, nginx: Buffer.concat([name, hmac, aes]), haproxy: Buffer.concat([name, aes, hmac]) };
}

async function ticketFrom(port: number, o: ConnectOptions = V13): Promise<Buffer> {
  const r = await connect(port, o);
  expect(r.session).toBeDefined();
  return r.session!;
}

describe('TicketKeyRing on real TLS', () => {
  const servers: tls.Server[] = [];
  const rings: TicketKeyRing[] = [];
  function server(o: Parameters<typeof tlsServer>[0] = {}): tls.Server {
    const s = tlsServer(o);
    servers.push(s);
    return s;
  }
  function ringed(ring: TicketKeyRing, o: Parameters<typeof tlsServer>[0] = {}): tls.Server {
    const s = server(o);
    attach(s, { tickets: { enabled: true, keyRing: ring } });
    return s;
  }
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      attach(s).detach();
      await close(s);
    }
    rings.splice(0);
  });

  test('TLS 1.3 single-use tickets: stock Node resumes every other connection, the ring every one', async () => {
    const stock = server();
    const stockPort = await listen(stock);
    const stockResumed = await onceChain(stockPort, 11, V13);
    expect(stockResumed).toBe(5); // full, resumed, full, resumed, ...: 0.5 of the 10 that could

    const ring = TicketKeyRing.generate();
    const withRing = ringed(ring);
    const port = await listen(withRing);
    expect(await onceChain(port, 11, V13)).toBe(10);
    const t = attach(withRing).stats().tickets!;
    expect(t.resumed).toBe(10);
    expect(t.renewed).toBe(0); // same key all along: TLS 1.3 renews for freshness, not rotation
    expect(t.unknownKey).toBe(0);
    expect(t.failed).toBe(0);
    expect(t.issued).toBeGreaterThanOrEqual(11);
    const [only] = ring.list();
    expect(t.keys[only!.id]).toEqual({ encrypted: t.issued, decrypted: 10 });
  });

  test('https and http2 servers: single-use TLS 1.3 clients resume every time with the ring', async () => {
    const h = httpsServer();
    servers.push(h);
    attach(h, { tickets: { enabled: true, keyRing: TicketKeyRing.generate() } });
    expect(await onceChain(await listen(h), 5, V13)).toBe(4);

    const h2 = http2Server();
    servers.push(h2 as unknown as tls.Server);
    const ring = TicketKeyRing.generate();
    attach(h2, { tickets: { enabled: true, keyRing: ring } });
    const p2 = await listen(h2);
    let session: Buffer | undefined;
    let resumed = 0;
    for (let i = 0; i < 4; i++) {
      const r = await http2Request(p2, { ...V13, session });
      if (r.reused) resumed++;
      session = r.session;
    }
    expect(resumed).toBe(3);
    expect(ring.stats().resumed).toBe(3);
  });

  test('setSecureContext: the ring follows the server to its new context; earlier tickets keep resuming', async () => {
    const ring = TicketKeyRing.generate();
    const s = ringed(ring);
    const port = await listen(s);
    const before = await ticketFrom(port);
    s.setSecureContext({ key: cert.key, cert: cert.cert });
    expect((await connect(port, { ...V13, session: before })).reused).toBe(true);
    expect(ring.attachedContexts).toBe(1);
    expect(ring.stats().resumed).toBe(1);
  });

  test('TLS 1.2 tickets resume through the ring', async () => {
    const ring = TicketKeyRing.generate();
    const s = ringed(ring);
    const port = await listen(s);
    expect(await resumeChain(port, 5, V12)).toBe(4);
    const t = attach(s).stats().tickets!;
    expect(t.resumed).toBe(4);
    expect(t.renewed).toBe(0);
  });

  test('rotation: old tickets still resume and are renewed under the new key; aged-out keys are rejected and counted', async () => {
    const ring = TicketKeyRing.generate({ keepKeys: 3 });
    const s = ringed(ring);
    const port = await listen(s);
    for (const o of [V13, V12]) {
      const first = ring.list()[0]!.id;
      const old = await ticketFrom(port, o);
      ring.rotate();
      const current = ring.list()[0]!.id;
      expect(current).not.toBe(first);
      expect(
        ring
          .list()
          .slice(0, 2)
          .map((k) => [k.id, k.role]),
      ).toEqual([
        [current, 'encrypt'],
        [first, 'decrypt'],
      ]);
      const before = attach(s).stats().tickets!;
      const r = await connect(port, { ...o, session: old });
      expect(r.reused).toBe(true);
      expect(attach(s).stats().tickets!.renewed - before.renewed).toBe(1);
      const after = attach(s).stats().tickets!;
      expect(after.keys[current]!.encrypted - (before.keys[current]?.encrypted ?? 0)).toBeGreaterThanOrEqual(1);
      // The renewed ticket is under the current key and keeps resuming after the old key is gone.
      ring.rotate();
      ring.rotate();
      expect(ring.list().map((k) => k.id)).not.toContain(first);
      const gone = await connect(port, { ...o, session: old });
      expect(gone.reused).toBe(false);
      expect(attach(s).stats().tickets!.unknownKey - after.unknownKey).toBe(1);
      // A Node client sees a renewed TLS 1.2 ticket only through getSession(): OpenSSL skips the
      // client new-session callback on a resumed TLS 1.2 handshake.
      const renewed = o.version === 'TLSv1.2' ? r.sessionAtHandshake : r.session;
      expect(renewed).toBeDefined();
      expect((await connect(port, { ...o, session: renewed })).reused).toBe(true);
    }
  });

  test('automatic rotation every 200 ms while single-use clients reconnect loses no resumption', async () => {
    const ring = TicketKeyRing.generate({ rotateEverySeconds: 0.2, keepKeys: 4 });
    const s = ringed(ring);
    const port = await listen(s);
    const firstId = ring.list()[0]!.id;
    const firstTicket = await ticketFrom(port);
    const started = Date.now();
    let session: Buffer | undefined;
    let connections = 0;
    let resumed = 0;
    while (Date.now() - started < 1500) {
      const r = await connect(port, { ...V13, session });
      connections++;
      if (r.reused) resumed++;
      session = r.session;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(resumed).toBe(connections - 1);
    const t = attach(s).stats().tickets!;
    expect(t.renewed).toBeGreaterThanOrEqual(3); // tickets crossed rotations and were renewed
    expect(ring.list().length).toBeLessThanOrEqual(4);
    expect(Object.values(t.keys).filter((k) => k.encrypted > 0).length).toBeGreaterThan(1);
    // Once the first key (kept for 4 rotations) has aged out, its ticket is refused and counted.
    while (ring.list().some((k) => k.id === firstId)) await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await connect(port, { ...V13, session: firstTicket })).reused).toBe(false);
    expect(attach(s).stats().tickets!.unknownKey).toBe(1);
  });

  test('remove(keyId) revokes at once: its tickets get full handshakes and count as unknownKey', async () => {
    const ring = TicketKeyRing.generate();
    const s = ringed(ring);
    const port = await listen(s);
    const victim = ring.list()[0]!.id;
    const ticket = await ticketFrom(port);
    expect(ring.remove(victim)).toBe(true);
    expect(ring.remove(victim)).toBe(false);
    // Removing the encrypting key of a generated ring rotates to a fresh one.
    expect(ring.list()).toHaveLength(1);
    expect(ring.list()[0]!.id).not.toBe(victim);
    expect((await connect(port, { ...V13, session: ticket })).reused).toBe(false);
    expect(attach(s).stats().tickets!.unknownKey).toBe(1);
    expect(attach(s).stats().tickets!.keys[victim]).toBeUndefined();
  });

  test('a secret ring whose current key was revoked issues no tickets until the next epoch; connections still succeed', async () => {
    const ring = TicketKeyRing.fromSecret(crypto.randomBytes(32), { keepKeys: 2 });
    const s = ringed(ring);
    const port = await listen(s);
    const current = ring.list()[0]!;
    expect(current.role).toBe('encrypt');
    expect(ring.remove(current.id)).toBe(true);
    expect(ring.list().some((k) => k.role === 'encrypt')).toBe(false);
    ring.rotate(); // same epoch: the revoked key is not derived again
    expect(ring.list().map((k) => k.id)).not.toContain(current.id);
    for (const o of [V13, V12]) {
      const r = await connect(port, o);
      expect(r.protocol).toBe(o.version);
      if (o.version === 'TLSv1.3') expect((await connect(port, { ...o, session: r.session })).reused).toBe(false);
    }
    expect(ring.stats().issued).toBe(0);
    expect(ring.stats().failed).toBe(0);
  });

  test("a stock server's getTicketKeys() loads: tickets issued by stock Node before attach still resume", async () => {
    const s = server();
    const port = await listen(s);
    const stock13 = await ticketFrom(port, V13);
    const stock12 = await ticketFrom(port, V12);
    const nodeKeys = s.getTicketKeys();
    const ring = TicketKeyRing.generate();
    const id = ring.add(nodeKeys, { encrypt: false, format: 'node' });
    nodeKeys.fill(0);
    attach(s, { tickets: { enabled: true, keyRing: ring } });
    expect(ring.list().find((k) => k.id === id)).toMatchObject({ role: 'decrypt', source: 'added', bits: 128 });
    expect((await connect(port, { ...V13, session: stock13 })).reused).toBe(true);
    expect((await connect(port, { ...V12, session: stock12 })).reused).toBe(true);
    const t = attach(s).stats().tickets!;
    expect(t.keys[id]!.decrypted).toBe(2);
    expect(t.renewed).toBe(2); // moved to the ring's own key
  });

  test('Node/nginx 48-byte format interoperates both ways with a stock server holding the same key', async () => {
    const k = keyParts(48);
    const stock = server();
    stock.setTicketKeys(k.nginx);
    const stockPort = await listen(stock);
    const ring = TicketKeyRing.generate();
    ring.add(k.nginx, { encrypt: true });
    const s = ringed(ring);
    const port = await listen(s);
    for (const o of [V13, V12]) {
      expect((await connect(port, { ...o, session: await ticketFrom(stockPort, o) })).reused).toBe(true);
      expect((await connect(stockPort, { ...o, session: await ticketFrom(port, o) })).reused).toBe(true);
    }
  });

  test('nginx 80-byte key files and HAProxy base64 key files load; the same key in either layout interoperates', async () => {
    const k = keyParts(80);
    const nginxRing = TicketKeyRing.generate();
    expect(nginxRing.addKeyFile(k.nginx, { format: 'nginx', encrypt: true })).toHaveLength(1);
    const older = keyParts(48);
    const haproxyRing = TicketKeyRing.generate();
    const file = `# previous, current, next\n${older.haproxy.toString('base64')}\n${k.haproxy.toString('base64')}\n${keyParts(80).haproxy.toString('base64')}\n`;
    const ids = haproxyRing.addKeyFile(file, { format: 'haproxy', encrypt: true });
    expect(ids).toHaveLength(3);
    expect(ids[1]).toBe(k.name.toString('hex')); // penultimate encrypts, as in HAProxy
    expect(haproxyRing.list()[0]).toMatchObject({ id: ids[1], role: 'encrypt', bits: 256 });
    const a = ringed(nginxRing);
    const b = ringed(haproxyRing);
    const pa = await listen(a);
    const pb = await listen(b);
    for (const o of [V13, V12]) {
      expect((await connect(pb, { ...o, session: await ticketFrom(pa, o) })).reused).toBe(true);
      expect((await connect(pa, { ...o, session: await ticketFrom(pb, o) })).reused).toBe(true);
    }
    // A single HAProxy line through add() with format 'haproxy' (base64 string accepted).
    const single = TicketKeyRing.generate();
    expect(single.add(older.haproxy.toString('base64'), { format: 'haproxy' })).toBe(older.name.toString('hex'));
  });

  test('fromSecret: two servers with the same secret resume each other; a different secret does not', async () => {
    const secret = crypto.randomBytes(32);
    const a = ringed(TicketKeyRing.fromSecret(secret));
    const b = ringed(TicketKeyRing.fromSecret(secret));
    const c = ringed(TicketKeyRing.fromSecret(crypto.randomBytes(32)));
    const [pa, pb, pc] = [await listen(a), await listen(b), await listen(c)];
    for (const o of [V13, V12]) {
      expect((await connect(pb, { ...o, session: await ticketFrom(pa, o) })).reused).toBe(true);
      expect((await connect(pa, { ...o, session: await ticketFrom(pb, o) })).reused).toBe(true);
      expect((await connect(pc, { ...o, session: await ticketFrom(pa, o) })).reused).toBe(false);
    }
    expect(attach(c).stats().tickets!.unknownKey).toBe(2);
    // Same secret, same epoch: same key ids in both rings.
    expect(
      attach(a)
        .options.tickets.keyRing!.list()
        .map((k) => k.id),
    ).toEqual(
      attach(b)
        .options.tickets.keyRing!.list()
        .map((k) => k.id),
    );
  });

  /** Starts a support script, resolves with the port it prints; stopped (SIGTERM) by the caller. */
  function startProcess(script: string, env: Record<string, string>, children: ChildProcess[]): Promise<number> {
    return new Promise((resolve, reject) => {
      const child = fork(path.join(__dirname, '..', 'support', script), [], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      });
      children.push(child);
      child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
    });
  }

  function stopAll(children: ChildProcess[]): Promise<unknown> {
    return Promise.all(
      children.map(
        (c) =>
          new Promise((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve(undefined);
            c.once('exit', resolve);
            c.kill('SIGTERM');
          }),
      ),
    );
  }

  test("fromSecret across two processes: each resumes the other one's tickets", async () => {
    const secret = crypto.randomBytes(32).toString('hex');
    const children: ChildProcess[] = [];
    try {
      const [pa, pb] = await Promise.all([
        startProcess('ticket-ring-child.js', { TSC_SECRET: secret }, children),
        startProcess('ticket-ring-child.js', { TSC_SECRET: secret }, children),
      ]);
      for (const o of [V13, V12]) {
        expect((await connect(pb, { ...o, session: await ticketFrom(pa, o) })).reused).toBe(true);
        expect((await connect(pa, { ...o, session: await ticketFrom(pb, o) })).reused).toBe(true);
      }
    } finally {
      await stopAll(children);
    }
  }, 60000);

  test('cluster workers: fromSecret rings resume across workers; per-worker generate() rings do not', async () => {
    const children: ChildProcess[] = [];
    try {
      const shared = await startProcess('ticket-ring-cluster.js', { TSC_SECRET: crypto.randomBytes(32).toString('hex') }, children);
      const separate = await startProcess('ticket-ring-cluster.js', { TSC_RING: 'generate' }, children);
      // Round-robin: consecutive connections land on alternating workers.
      expect(await onceChain(shared, 8, V13)).toBe(7);
      expect(await onceChain(separate, 8, V13)).toBeLessThanOrEqual(1);
    } finally {
      await stopAll(children);
    }
  }, 60000);

  test('fromSecret epochs: rollover keeps old tickets (renewed), clock skew of one epoch still resumes, old epochs age out', async () => {
    const secret = crypto.randomBytes(48);
    const period = 60;
    let clock = 1_000_000 * period * 1000 + 59_000; // one second before an epoch boundary
    const ring = TicketKeyRing.fromSecret(secret, { rotateEverySeconds: period, keepKeys: 2, now: () => clock });
    let ahead = clock + 2000; // a peer whose clock is 2 s ahead: already in the next epoch
    const peer = TicketKeyRing.fromSecret(secret, { rotateEverySeconds: period, keepKeys: 2, now: () => ahead });
    const a = ringed(ring);
    const b = ringed(peer);
    const [pa, pb] = [await listen(a), await listen(b)];
    expect(ring.list().map((k) => k.epoch)).toEqual([1_000_000, 1_000_001, 999_999]);
    expect(ring.list()[0]!.role).toBe('encrypt');
    expect(peer.list()[0]!.epoch).toBe(1_000_001);

    // Skew: the peer's next-epoch ticket decrypts here, and this epoch's ticket decrypts there.
    expect((await connect(pa, { ...V13, session: await ticketFrom(pb) })).reused).toBe(true);
    expect((await connect(pb, { ...V13, session: await ticketFrom(pa) })).reused).toBe(true);

    // Rollover: the old epoch's ticket resumes and is renewed under the new epoch's key.
    const old = await ticketFrom(pa);
    clock += 2000;
    ring.rotate();
    expect(ring.list()[0]).toMatchObject({ role: 'encrypt', epoch: 1_000_001 });
    const before = attach(a).stats().tickets!.renewed;
    expect((await connect(pa, { ...V13, session: old })).reused).toBe(true);
    expect(attach(a).stats().tickets!.renewed - before).toBe(1);

    // Two epochs later (keepKeys 2) the first epoch's key is gone.
    clock += period * 1000;
    ahead += period * 1000;
    ring.rotate();
    expect(ring.list().map((k) => k.epoch)).toEqual([1_000_002, 1_000_003, 1_000_001]);
    expect((await connect(pa, { ...V13, session: old })).reused).toBe(false);
    expect(attach(a).stats().tickets!.unknownKey).toBe(1);
  });

  test('fromSecret: replacing the secret with an overlap window (addSecret / removeSecret)', async () => {
    const oldSecret = crypto.randomBytes(32);
    const newSecret = crypto.randomBytes(32);
    const oldFleet = ringed(TicketKeyRing.fromSecret(oldSecret, { keepKeys: 2 }));
    const ring = TicketKeyRing.fromSecret(newSecret, { keepKeys: 2 });
    const oldId = ring.addSecret(oldSecret, { encrypt: false });
    expect(oldId).toMatch(/^[0-9a-f]{16}$/);
    const s = ringed(ring);
    const [po, ps] = [await listen(oldFleet), await listen(s)];
    const oldTicket = await ticketFrom(po);
    expect((await connect(ps, { ...V13, session: oldTicket })).reused).toBe(true);
    expect(ring.list().filter((k) => k.role === 'encrypt')).toHaveLength(1);
    expect(ring.list().filter((k) => k.secretId === oldId)).toHaveLength(3);
    expect(ring.removeSecret(oldId)).toBe(true);
    expect(ring.list().filter((k) => k.secretId === oldId)).toHaveLength(0);
    expect((await connect(ps, { ...V13, session: await ticketFrom(po) })).reused).toBe(false);
    expect(() => TicketKeyRing.generate().addSecret(newSecret)).toThrow(TypeError);
  });

  test('SNI: contexts chosen by an SNICallback or addContext carry the ring, so resumption works', async () => {
    const other = tls.createSecureContext({ key: cert.key, cert: cert.cert });
    const ring = TicketKeyRing.generate();
    const s = ringed(ring, { SNICallback: (_name: string, cb: (e: Error | null, c?: tls.SecureContext) => void) => cb(null, other) });
    const port = await listen(s);
    expect(await onceChain(port, 6, { ...V13, servername: 'sni.example' })).toBe(5);
    expect(await resumeChain(port, 4, { ...V12, servername: 'sni.example' })).toBe(3);
    expect(attach(s).stats().tickets!.failed).toBe(0);

    // Node copies the SNI context's certificate onto the SSL and keeps the default SSL_CTX, so the
    // ring is found even on an SNI context that does not carry it.
    const bare = tls.createSecureContext({ key: cert.key, cert: cert.cert });
    let sniCalls = 0;
    const ring3 = TicketKeyRing.generate();
    const s3 = ringed(ring3, {
      SNICallback: (_n: string, cb: (e: Error | null, c?: tls.SecureContext) => void) => (sniCalls++, cb(null, bare)),
    });
    const p3 = await listen(s3);
    await connect(p3, { ...V13, servername: 'bare.example' }); // attach's SNI wrapper hangs the ring on `bare`...
    const { native } = await import('../../src/common/native');
    native.ringHang((bare as unknown as { context: { _external: unknown } }).context._external, null, ring3._native()); // ...take it off
    const issued = ring3.stats().issued;
    expect(await onceChain(p3, 4, { ...V13, servername: 'bare.example' })).toBe(3);
    expect(sniCalls).toBe(2); // only full handshakes select a certificate
    expect(ring3.stats().issued - issued).toBeGreaterThanOrEqual(5);

    const ring2 = TicketKeyRing.generate();
    const s2 = ringed(ring2);
    s2.addContext('added.example', { key: cert.key, cert: cert.cert });
    const p2 = await listen(s2);
    expect(await onceChain(p2, 6, { ...V13, servername: 'added.example' })).toBe(5);
  });

  test('the ring works together with the session cache; detach gives tickets back to Node', async () => {
    const ring = TicketKeyRing.generate({ rotateEverySeconds: 1 });
    const s = server();
    const cache = attach(s, { cache: { enabled: true }, tickets: { enabled: true, keyRing: ring } });
    const port = await listen(s);
    expect(await resumeChain(port, 3, { ...V12, noTicket: true })).toBe(2); // session IDs: the cache
    expect(cache.stats().hits).toBe(2);
    expect(await onceChain(port, 3, V13)).toBe(2); // tickets: the ring
    expect(cache.stats().tickets!.resumed).toBe(2);
    const ringTicket = await ticketFrom(port);
    cache.configure({ tickets: { keyRing: null } });
    expect(cache.stats().tickets).toBeUndefined();
    expect((await connect(port, { ...V13, session: ringTicket })).reused).toBe(false);
    expect(await onceChain(port, 4, V13)).toBe(2); // Node's own tickets again
    cache.configure({ tickets: { keyRing: ring } });
    expect(ring.attachedContexts).toBe(1);
    cache.detach();
    expect(ring.attachedContexts).toBe(0); // rotation timer cleared
    expect(await onceChain(port, 4, V13)).toBe(2);
    expect(ring.stats().resumed).toBe(2);
  });
});

describe('TicketKeyRing inputs and secrecy', () => {
  test.each([
    ['key of 47 bytes', () => TicketKeyRing.generate().add(Buffer.alloc(47)), RangeError, /"key" must be 48 or 80 bytes.*got 47/],
    ['key of 0 bytes', () => TicketKeyRing.generate().add(new Uint8Array(0)), RangeError, /"key"/],
    ['key of wrong type', () => TicketKeyRing.generate().add(42 as unknown as Buffer), TypeError, /"key" must be a Buffer/],
    ['key as a string without haproxy format', () => TicketKeyRing.generate().add('abcd' as unknown as Buffer), TypeError, /"key"/],
    ['unknown key format', () => TicketKeyRing.generate().add(Buffer.alloc(48), { format: 'pem' as 'nginx' }), RangeError, /"format"/],
    [
      'unknown add option',
      () => TicketKeyRing.generate().add(Buffer.alloc(48), { encrypted: true } as object),
      TypeError,
      /options.encrypted.*encrypt/,
    ],
    ['secret too short', () => TicketKeyRing.fromSecret(Buffer.alloc(31)), RangeError, /"secret" must be between 32 and 64 bytes, got 31/],
    ['secret too long', () => TicketKeyRing.fromSecret(Buffer.alloc(65)), RangeError, /"secret"/],
    ['secret as a string', () => TicketKeyRing.fromSecret('x'.repeat(32) as unknown as Buffer), TypeError, /"secret"/],
    [
      'rotateEverySeconds 0',
      () => TicketKeyRing.generate({ rotateEverySeconds: 0 }),
      RangeError,
      /"rotateEverySeconds" must be between 0.1 and 2147483647 seconds/,
    ],
    ['rotateEverySeconds NaN', () => TicketKeyRing.generate({ rotateEverySeconds: NaN }), TypeError, /"rotateEverySeconds"/],
    ['keepKeys 0', () => TicketKeyRing.generate({ keepKeys: 0 }), RangeError, /"keepKeys" must be between 1 and 1024/],
    ['keepKeys 1.5', () => TicketKeyRing.generate({ keepKeys: 1.5 }), TypeError, /"keepKeys" must be an integer/],
    ['now not a function', () => TicketKeyRing.generate({ now: 5 as unknown as () => number }), TypeError, /"now"/],
    [
      'now returning 1e30 (fromSecret never returned)',
      () => TicketKeyRing.fromSecret(Buffer.alloc(32, 1), { now: () => 1e30 }),
      RangeError,
      /"now" must be a function returning milliseconds since 1970, 0 to 8640000000000000, got it returned 1e\+30/,
    ],
    [
      'now returning NaN (a ring with no key and no error)',
      () => TicketKeyRing.fromSecret(Buffer.alloc(32, 1), { now: () => NaN }),
      RangeError,
      /"now" must be a function returning milliseconds .* got it returned NaN/,
    ],
    [
      'haproxy line of 32 bytes',
      () => TicketKeyRing.generate().addKeyFile(Buffer.alloc(32).toString('base64'), { format: 'haproxy' }),
      RangeError,
      /"contents, line 1" must be base64 of 48 or 80 bytes, got 32 bytes/,
    ],
    ['haproxy file with no key', () => TicketKeyRing.generate().addKeyFile('# nothing\n', { format: 'haproxy' }), RangeError, /no key/],
    [
      'encrypting key on a secret ring',
      () => TicketKeyRing.fromSecret(Buffer.alloc(32, 1)).add(Buffer.alloc(80), { encrypt: true }),
      TypeError,
      /fromSecret/,
    ],
    [
      'keyRing of the wrong type',
      () => attach(tls.createSecureContext({}), { tickets: { keyRing: {} as TicketKeyRing } }),
      TypeError,
      /"tickets.keyRing" must be a TicketKeyRing or null/,
    ],
    ['remove with a non-string id', () => TicketKeyRing.generate().remove(1 as unknown as string), TypeError, /"keyId"/],
  ])('%s', (name, fn, type, message) => {
    const area = /haproxy|key of|key as|key format/.test(name) ? 'key file' : 'key ring';
    expectBadInput(area, name, fn, type as new () => Error, message);
  });

  test('a bad option leaves the ring and the context unchanged', () => {
    const ring = TicketKeyRing.generate();
    // ageSeconds moves with the clock (10 ms steps) between the two reads on a loaded machine.
    const keys = () => ring.list().map(({ ageSeconds: _age, ...k }) => k);
    const before = keys();
    expect(() => ring.addKeyFile(`${keyParts(48).haproxy.toString('base64')}\nnot base64!\n`, { format: 'haproxy' })).toThrow(TypeError);
    expect(keys()).toEqual(before);
  });

  test('addKeyFile with encrypt on a fromSecret ring is refused before any key is added; a clock that turns bad later keeps its last good reading', () => {
    let clock = Date.now();
    const ring = TicketKeyRing.fromSecret(Buffer.alloc(32, 2), { now: () => clock });
    const before = ring.list();
    const file = [keyParts(48), keyParts(48), keyParts(80)].map((k) => k.haproxy.toString('base64')).join('\n');
    expectBadInput(
      'key ring',
      'addKeyFile with encrypt: true on a fromSecret ring (half-applied before)',
      () => ring.addKeyFile(file, { format: 'haproxy', encrypt: true }),
      TypeError,
      /"encrypt" must be false on a fromSecret ring/,
    );
    expect(ring.list()).toEqual(before);
    clock = NaN;
    ring.rotate();
    expect(ring.list().map((k) => k.id)).toEqual(before.map((k) => k.id));
  });

  test('key bytes and secrets never appear in inspect, JSON, stats, list or errors', () => {
    const k = keyParts(80);
    const secret = crypto.randomBytes(32);
    const ring = TicketKeyRing.fromSecret(secret);
    ring.add(k.nginx);
    const gen = TicketKeyRing.generate();
    gen.add(k.haproxy.toString('base64'), { format: 'haproxy' });
    let error = '';
    try {
      gen.add(Buffer.concat([k.nginx, Buffer.from([1])]));
    } catch (e) {
      error = String((e as Error).message) + String((e as Error).stack);
    }
    const sc = tls.createSecureContext({ key: cert.key, cert: cert.cert });
    const cache = attach(sc, { tickets: { keyRing: ring } });
    const shown = [
      util.inspect(ring, { depth: Infinity, showHidden: true }),
      util.inspect(gen, { depth: Infinity, showHidden: true }),
      JSON.stringify(ring),
      JSON.stringify(gen),
      JSON.stringify(ring.stats()),
      JSON.stringify(cache.stats()),
      util.inspect(cache.options, { depth: Infinity }),
      error,
    ].join('\n');
    for (const secretBytes of [k.hmac, k.aes, secret]) {
      for (const enc of ['hex', 'base64'] as const) expect(shown).not.toContain(secretBytes.toString(enc));
      expect(shown).not.toContain(secretBytes.subarray(0, 8).toString('hex'));
    }
    expect(shown).toContain(k.name.toString('hex')); // the id: the name is public
    const withoutAge = (l: Array<{ ageSeconds?: number }>) => l.map(({ ageSeconds: _age, ...rest }) => rest);
    expect(withoutAge(JSON.parse(JSON.stringify(gen)))).toEqual(withoutAge(gen.list()));
    cache.detach();
  });
});
