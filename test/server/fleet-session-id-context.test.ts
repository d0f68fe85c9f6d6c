/**
 * The session-ID context as an option of ours: applied natively, shown by stats() as a
 * fingerprint, put back exactly by detach() (a stock server resumes as stock again, on every Node
 * line: 20 and 26 store Node's string raw, 22 and 24 a SHA-256 of it), and bad input refused
 * with nothing applied. Without the option, a fleet mode derives the context from the fleet's
 * identity AND the server's certificates, client-certificate policy, client CA names and SNI
 * contexts, so services that differ in any of them never resume each other's sessions (a session
 * carries its client's authentication).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import Redis from 'ioredis';

import { native } from '../../src/common/native';
import { sharedStorePath } from '../../src/common/shared-store';
import { selfSignedCertificate } from '../../src/ops/certificate';
import { attach } from '../../src/server/attach';
import { TicketKeyRing } from '../../src/server/ticket-key-ring';
import { expectBadInput } from '../support/bad-inputs';
import { cert, close, connect, listen, tlsServer, type Version } from '../support/tls';

const VERSIONS: Version[] = ['TLSv1.2', 'TLSv1.3'];
const servers: tls.Server[] = [];
const fp = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest().subarray(0, 8).toString('hex');
const contextOf = (server: tls.Server) =>
  (server as unknown as { _sharedCreds: { context: { _external: unknown } } })._sharedCreds.context._external;

async function started(options: Parameters<typeof tlsServer>[0] = {}): Promise<{ server: tls.Server; port: number }> {
  const server = tlsServer(options);
  servers.push(server);
  return { server, port: await listen(server) };
}

afterEach(async () => {
  for (const s of servers.splice(0)) await close(s);
});

describe('sessionIdContext', () => {
  test.each(VERSIONS)(
    'detach() puts back the bytes Node set: a stock ticket resumes again, exactly as before attach (%s)',
    async (version) => {
      for (const serverOptions of [{}, { sessionIdContext: 'node-given' }]) {
        const { server, port } = await started(serverOptions);
        const stockNative = native.attach(contextOf(server));
        const nodeBytes = native.sessionIdContextOf(stockNative)!;
        native.detach(stockNative);
        const stock = await connect(port, { version });
        expect((await connect(port, { version, session: stock.session })).reused).toBe(true);

        const cache = attach(server, { sessionIdContext: 'another service' });
        expect(cache.stats().sessionIdContext).toEqual({
          source: 'option',
          fingerprint: fp('another service'),
          inputs: ['sessionIdContext'],
        });
        // Node's key still decrypts the ticket; OpenSSL refuses the session: its context differs.
        expect((await connect(port, { version, session: stock.session })).reused).toBe(false);
        const ours = await connect(port, { version });
        expect((await connect(port, { version, session: ours.session })).reused).toBe(true);

        cache.detach();
        expect((await connect(port, { version, session: stock.session })).reused).toBe(true);
        expect((await connect(port, { version, session: ours.session })).reused).toBe(false);
        const after = native.attach(contextOf(server));
        expect(native.sessionIdContextOf(after)!.equals(nodeBytes)).toBe(true);
        native.detach(after);
      }
    },
  );

  test("a plain single process keeps Node's context; stats() shows its fingerprint", async () => {
    const { server } = await started();
    const h = native.attach(contextOf(server));
    const bytes = native.sessionIdContextOf(h)!;
    native.detach(h);
    const cache = attach(server);
    expect(cache.stats().sessionIdContext).toEqual({ source: 'node', fingerprint: fp(bytes), inputs: [] });
    expect(bytes.length).toBeGreaterThan(0);
    cache.detach();
  });

  test("fleet modes derive the context from the fleet identity; Node's own sessionIdContext option and ours win", async () => {
    const secret = crypto.randomBytes(32);
    const rings = [TicketKeyRing.fromSecret(secret), TicketKeyRing.fromSecret(secret), TicketKeyRing.fromSecret(crypto.randomBytes(32))];
    const [a, b, c] = await Promise.all([started(), started(), started()]);
    const ca = attach(a.server, { tickets: { keyRing: rings[0]! } });
    const cb = attach(b.server, { tickets: { keyRing: rings[1]! } });
    const cc = attach(c.server, { tickets: { keyRing: rings[2]! } });
    expect(ca.stats().sessionIdContext.source).toBe('ring');
    expect(ca.stats().sessionIdContext.fingerprint).toBe(cb.stats().sessionIdContext.fingerprint);
    // Not from the secret: a fleet replacing its secret (fromSecret(new) + addSecret(old) beside
    // members on fromSecret(old)) keeps resuming across members.
    expect(cc.stats().sessionIdContext.fingerprint).toBe(ca.stats().sessionIdContext.fingerprint);
    // Neither the secret nor anything it derives shows up.
    const shown = JSON.stringify(ca.stats()) + JSON.stringify(ca.options);
    expect(shown).not.toContain(secret.toString('hex'));
    const redisRing = TicketKeyRing.fromRedis(new Redis({ lazyConnect: true }), { wrappingSecret: secret, key: 'fleet-a' });
    expect(JSON.stringify(redisRing) + JSON.stringify(ca.stats())).not.toContain(redisRing._sessionIdContext()!.toString('hex'));
    expect(
      redisRing
        ._sessionIdContext()!
        .equals(TicketKeyRing.fromRedis(new Redis({ lazyConnect: true }), { wrappingSecret: secret, key: 'fleet-b' })._sessionIdContext()!),
    ).toBe(false);

    // Our option over the ring's; configure(null) goes back to the ring's.
    ca.configure({ sessionIdContext: Buffer.from('explicit') });
    expect(ca.stats().sessionIdContext).toEqual({ source: 'option', fingerprint: fp('explicit'), inputs: ['sessionIdContext'] });
    ca.configure({ sessionIdContext: null });
    expect(ca.stats().sessionIdContext).toEqual(cb.stats().sessionIdContext);

    // A server created with Node's own sessionIdContext keeps it (the user chose it: isolation).
    const d = await started({ sessionIdContext: 'svc-d' });
    const cd = attach(d.server, { tickets: { keyRing: TicketKeyRing.fromSecret(secret) } });
    expect(cd.stats().sessionIdContext.source).toBe('node');
    for (const x of [ca, cb, cc, cd]) x.detach();
  });

  test('a fromSecret ring on SNI contexts: the SNI context gets the derived context too and resumes across servers', async () => {
    const secret = crypto.randomBytes(32);
    const mk = async () => {
      const s = await started();
      s.server.addContext('sni.test', { key: cert.key, cert: cert.cert });
      return { ...s, cache: attach(s.server, { tickets: { keyRing: TicketKeyRing.fromSecret(secret) } }) };
    };
    const [a, b] = [await mk(), await mk()];
    for (const version of VERSIONS) {
      const first = await connect(a.port, { version, servername: 'sni.test' });
      expect((await connect(b.port, { version, servername: 'sni.test', session: first.session })).reused).toBe(true);
    }
    a.cache.detach();
    b.cache.detach();
  });

  test('bad input: wrong type or more than 32 bytes is refused, naming the option, and nothing is applied', async () => {
    const { server, port } = await started();
    const cache = attach(server);
    const before = cache.stats().sessionIdContext;
    const first = await connect(port, { version: 'TLSv1.3' });
    const bad = (input: string, value: unknown, type: new () => Error, message: RegExp) =>
      expectBadInput(
        'option',
        `sessionIdContext ${input}`,
        () => cache.configure({ sessionIdContext: value as string, cache: { size: 7 } }),
        type,
        message,
      );
    bad('33-character string', 'x'.repeat(33), RangeError, /"sessionIdContext" must be 1 to 32 bytes .*got 33 bytes/);
    bad('17 two-byte characters (34 UTF-8 bytes)', 'é'.repeat(17), RangeError, /"sessionIdContext" must be 1 to 32 bytes .*got 34 bytes/);
    bad('empty string', '', RangeError, /"sessionIdContext" must be 1 to 32 bytes .*got 0 bytes/);
    bad('Buffer of 33 bytes', Buffer.alloc(33), RangeError, /"sessionIdContext" must be 1 to 32 bytes .*got 33 bytes/);
    bad('number', 42, TypeError, /"sessionIdContext" must be a string or a Buffer\/Uint8Array of 1 to 32 bytes, got the number 42/);
    bad('array', [1, 2], TypeError, /"sessionIdContext" must be a string or a Buffer\/Uint8Array/);
    expectBadInput(
      'option',
      'sessionIdContext ' + 'attach() with 40 bytes',
      () => attach(tlsServer(), { sessionIdContext: Buffer.alloc(40) }),
      RangeError,
      /"sessionIdContext"/,
    );
    expect(cache.stats().sessionIdContext).toEqual(before);
    expect(cache.stats().settings.cache.size).not.toBe(7);
    expect((await connect(port, { version: 'TLSv1.3', session: first.session })).reused).toBe(true);
    // 32 bytes and a Uint8Array are fine.
    cache.configure({ sessionIdContext: new Uint8Array(32).fill(7) });
    expect(cache.stats().sessionIdContext).toEqual({
      source: 'option',
      fingerprint: fp(Buffer.alloc(32, 7)),
      inputs: ['sessionIdContext'],
    });
    cache.detach();
  });
});

describe('the default context in a fleet mode: derived from the fleet identity and who may resume', () => {
  // Two services, each with its own server certificate and its own client CA (a self-signed
  // client certificate is its own CA), both requiring a client certificate.
  const serviceA = { cert: selfSignedCertificate('a.test'), client: selfSignedCertificate('client-a') };
  const serviceB = { cert: selfSignedCertificate('b.test'), client: selfSignedCertificate('client-b') };
  const mutualTls = (s: typeof serviceA) => ({
    key: s.cert.key,
    cert: s.cert.cert,
    ca: s.client.cert,
    requestCert: true,
    rejectUnauthorized: true,
  });
  const rings: TicketKeyRing[] = [];
  const ring = (secret: Buffer) => {
    const r = TicketKeyRing.fromSecret(secret);
    rings.push(r);
    return r;
  };
  afterEach(() => {
    for (const r of rings.splice(0)) r.close();
  });

  type Options = Parameters<typeof attach>[1];
  const storeName = `boundary-${process.pid}`;
  const storeFile = path.join(os.tmpdir(), `tls-resumption-boundary-${process.pid}.store`);
  const secrets = { a: crypto.randomBytes(32), b: crypto.randomBytes(32) };
  const stores: Array<{ label: string; options: (svc: 'a' | 'b') => Options; cleanup: () => void }> = [
    {
      label: 'fromSecret rings (different secrets) and one shared.name',
      options: (svc) => ({ shared: { name: storeName, slotBytes: 4096 }, tickets: { keyRing: ring(secrets[svc]) } }),
      cleanup: () => fs.rmSync(sharedStorePath(storeName), { force: true }),
    },
    {
      label: 'one shared.path',
      // Tickets off: Node's own ticket keys differ per server; the store is what resumes.
      options: () => ({ shared: { path: storeFile, slotBytes: 4096 }, tickets: { enabled: false } }),
      cleanup: () => fs.rmSync(storeFile, { force: true }),
    },
  ];

  for (const { label, options, cleanup } of stores) {
    test.each(VERSIONS)(
      `${label}: a session of service A never resumes on service B, whose client certificate it skips (%s)`,
      async (version) => {
        try {
          const a = await started(mutualTls(serviceA));
          const a2 = await started(mutualTls(serviceA));
          const b = await started(mutualTls(serviceB));
          const [ca, ca2, cb] = [attach(a.server, options('a')), attach(a2.server, options('a')), attach(b.server, options('b'))];
          const first = await connect(a.port, { version, clientCert: serviceA.client });
          expect(first.session).toBeDefined();
          // Control: a second server of service A (same configuration) resumes A's session.
          expect((await connect(a2.port, { version, clientCert: serviceA.client, session: first.session })).reused).toBe(true);
          // B asks for its own client certificate; the session carries A's client. Not resumed, B
          // runs a full handshake and refuses a client without a certificate.
          const cross = await connect(b.port, { version, session: first.session }).then(
            (r) => (r.reused ? 'resumed' : 'full handshake'),
            () => 'refused',
          );
          expect(cross).toBe('refused');
          expect(cb.stats().resumption.resumed).toBe(0);
          expect(ca.stats().sessionIdContext.fingerprint).toBe(ca2.stats().sessionIdContext.fingerprint);
          expect(ca.stats().sessionIdContext.fingerprint).not.toBe(cb.stats().sessionIdContext.fingerprint);
          expect(ca.stats().sessionIdContext.inputs).toEqual(
            expect.arrayContaining(['certificates', 'clientCertificatePolicy', 'clientCaNames', 'sharedStore']),
          );
          for (const c of [ca, ca2, cb]) c.detach();
        } finally {
          cleanup();
        }
      },
    );
  }

  test('any single input that differs gives another context; the same configuration the same one; stats() names the inputs, never their values', async () => {
    const secret = crypto.randomBytes(32);
    const fingerprintOf = async (serverOptions: Parameters<typeof tlsServer>[0], sni?: (server: tls.Server) => void) => {
      const { server } = await started(serverOptions);
      sni?.(server);
      const cache = attach(server, { tickets: { keyRing: ring(secret) } });
      const stats = cache.stats().sessionIdContext;
      cache.detach();
      return stats;
    };
    const base = await fingerprintOf(mutualTls(serviceA));
    expect(base).toEqual({
      source: 'ring',
      fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
      inputs: ['ringIdentity', 'certificates', 'clientCertificatePolicy', 'clientCaNames'],
    });
    expect(await fingerprintOf(mutualTls(serviceA))).toEqual(base);
    const variants: Array<[string, Parameters<typeof tlsServer>[0], ((server: tls.Server) => void)?]> = [
      ['another certificate', { ...mutualTls(serviceA), key: serviceB.cert.key, cert: serviceB.cert.cert }],
      ['another client CA', { ...mutualTls(serviceA), ca: serviceB.client.cert }],
      ['no client CA', { ...mutualTls(serviceA), ca: undefined }],
      ['requestCert false', { ...mutualTls(serviceA), requestCert: false }],
      ['rejectUnauthorized false', { ...mutualTls(serviceA), rejectUnauthorized: false }],
      [
        'an SNI context',
        mutualTls(serviceA),
        (server) => server.addContext('b.test', { key: serviceB.cert.key, cert: serviceB.cert.cert }),
      ],
      [
        'an SNICallback',
        { ...mutualTls(serviceA), SNICallback: (_name: string, cb: (e: Error | null, c?: tls.SecureContext) => void) => cb(null) },
      ],
    ];
    const seen = new Set([base.fingerprint]);
    for (const [what, options, sni] of variants) {
      const stats = await fingerprintOf(options, sni);
      expect({ what, fresh: !seen.has(stats.fingerprint) }).toEqual({ what, fresh: true });
      seen.add(stats.fingerprint);
    }
    const shown = JSON.stringify(base);
    expect(shown).not.toContain(secret.toString('hex'));
  });

  test('addContext() after attach derives again and every context carries the new context; a session from before no longer resumes', async () => {
    const secret = crypto.randomBytes(32);
    const { server, port } = await started();
    const cache = attach(server, { tickets: { keyRing: ring(secret) } });
    const before = cache.stats().sessionIdContext;
    const first = await connect(port, { version: 'TLSv1.3' });
    expect((await connect(port, { version: 'TLSv1.3', session: first.session })).reused).toBe(true);
    server.addContext('other.test', { key: serviceB.cert.key, cert: serviceB.cert.cert });
    const after = cache.stats().sessionIdContext;
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(after.inputs).toContain('sniContexts');
    expect((await connect(port, { version: 'TLSv1.3', session: first.session })).reused).toBe(false);
    for (const servername of ['localhost', 'other.test']) {
      const s = await connect(port, { version: 'TLSv1.3', servername });
      expect((await connect(port, { version: 'TLSv1.3', servername, session: s.session })).reused).toBe(true);
    }
    cache.detach();
  });
});
