/**
 * The session-ID context as an option of ours: applied natively, shown by stats() as a
 * fingerprint, put back exactly by detach() (a stock server resumes as stock again, on every Node
 * line: 20 and 26 store Node's string raw, 22 and 24 a SHA-256 of it), and bad input refused
 * with nothing applied.
 */
import * as crypto from 'node:crypto';
import type * as tls from 'node:tls';
import Redis from 'ioredis';
import { native } from '../src/common/native';
import { attach } from '../src/server/attach';
import { TicketKeyRing } from '../src/server/ticket-key-ring';
import { expectBadInput } from './support/bad-inputs';
import { cert, close, connect, listen, tlsServer, type Version } from './support/tls';

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
        expect(cache.stats().sessionIdContext).toEqual({ source: 'option', fingerprint: fp('another service') });
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
    expect(cache.stats().sessionIdContext).toEqual({ source: 'node', fingerprint: fp(bytes) });
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
    expect(ca.stats().sessionIdContext).toEqual({ source: 'option', fingerprint: fp('explicit') });
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
    expect(cache.stats().sessionIdContext).toEqual({ source: 'option', fingerprint: fp(Buffer.alloc(32, 7)) });
    cache.detach();
  });
});
