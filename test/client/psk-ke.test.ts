/**
 * TLS 1.3 resumption without a key exchange (psk_ke), opt-in on both sides: the client cache's
 * `pskKe` offers it (SSL_OP_ALLOW_NO_DHE_KEX, every line), `attach(server, { tickets: { pskKe:
 * true } })` prefers it (SSL_OP_ALLOW_NO_DHE_KEX | SSL_OP_PREFER_NO_DHE_KEX, set natively, OpenSSL
 * 3.3+: Node 22, 24, 26). A psk_ke connection has no ephemeral key (`getEphemeralKeyInfo()` is
 * empty); psk_dhe_ke reports its group. Node 20's OpenSSL 3.0 cannot prefer psk_ke: the server
 * option is refused there with a code, and its client still offers psk_ke.
 */
import { constants } from 'node:crypto';
import type * as tls from 'node:tls';

import { type ClientSessionCache, clientSessions } from '../../src/client';
import { attach, type SessionCache } from '../../src/server/attach';
import { serverPskKeSupported } from '../../src/server/options';
import { loopbackTls13Options } from '../../tools/src/bench/loopback-client';
import { close, listen, tlsServer } from '../support/tls';

interface Outcome {
  reused: boolean;
  /** The (EC)DH key exchange of the handshake ('X25519'), or '' when there was none (psk_ke). */
  group: string;
}

function roundTrip(sessions: ClientSessionCache, port: number, ecdhCurve: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = sessions.connect(loopbackTls13Options(port, ecdhCurve));
    let out: Outcome = { reused: false, group: '' };
    socket.on('secureConnect', () => {
      // With X25519 every (EC)DHE handshake reports an ECDH key; psk_ke reports none (Node 20,
      // 22: {}; Node 24, 26: a 'TLSGroup' naming the session's group).
      const info = socket.getEphemeralKeyInfo() as { type?: string; name?: string } | null;
      out = { reused: socket.isSessionReused(), group: info?.type === 'ECDH' ? (info.name ?? '') : '' };
      socket.end();
    });
    socket.on('data', () => undefined);
    socket.on('error', reject);
    socket.on('close', () => resolve(out));
  });
}

const servers: Array<{ server: tls.Server; cache?: SessionCache }> = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.cache?.detach();
    await close(s.server);
  }
});

async function serve(
  options?: tls.TlsOptions,
  attachOptions?: Parameters<typeof attach>[1],
): Promise<{ port: number; cache?: SessionCache }> {
  const server = tlsServer(options);
  const cache = attachOptions ? attach(server, attachOptions) : undefined;
  servers.push({ server, cache });
  return { port: await listen(server), cache };
}

/**
 * Three connections in turn. X25519 unless told: Node never reports the hybrid X25519MLKEM768
 * (OpenSSL 3.5's default, `ecdhCurve: 'auto'`) as an ECDH key.
 */
async function three(sessions: ClientSessionCache, port: number, ecdhCurve = 'X25519'): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (let i = 0; i < 3; i++) out.push(await roundTrip(sessions, port, ecdhCurve));
  return out;
}

if (serverPskKeSupported()) {
  describe(`OpenSSL ${process.versions.openssl}: both sides opt in`, () => {
    test('resumed connections run no key exchange; stats show it on both sides; detach puts Node back', async () => {
      const { port, cache } = await serve({}, { tickets: { pskKe: true } });
      expect(cache!.stats().settings.tickets.pskKe).toBe(true);
      const sessions = clientSessions({ pskKe: true });
      const [first, ...rest] = await three(sessions, port);
      expect(first).toMatchObject({ reused: false });
      expect(first!.group).not.toBe('');
      expect(rest).toEqual([
        { reused: true, group: '' },
        { reused: true, group: '' },
      ]);
      expect(sessions.stats()).toMatchObject({ resumed: 2, resumedPskKe: 2, cache: { pskKe: true } });
      expect(cache!.stats().resumption).toMatchObject({ resumed: 2, resumedPskKe: 2 });
      expect(cache!.nodeSettings.tickets.pskKe).toBe(false);
    });

    test("Node's default group (X25519MLKEM768 on OpenSSL 3.5): the client cannot tell, the server counts psk_ke", async () => {
      const { port, cache } = await serve({}, { tickets: { pskKe: true } });
      const sessions = clientSessions({ pskKe: true });
      expect((await three(sessions, port, 'auto')).map((o) => o.reused)).toEqual([false, true, true]);
      expect(cache!.stats().resumption).toMatchObject({ resumed: 2, resumedPskKe: 2 });

      const plain = clientSessions();
      expect((await three(plain, port, 'auto')).map((o) => o.reused)).toEqual([false, true, true]);
      expect(cache!.stats().resumption).toMatchObject({ resumed: 4, resumedPskKe: 2 });
    });

    test('either side alone: psk_dhe_ke, the group of a full handshake', async () => {
      const withServer = await serve({}, { tickets: { pskKe: true } });
      const plainClient = clientSessions();
      const a = await three(plainClient, withServer.port);
      expect(a.map((o) => o.reused)).toEqual([false, true, true]);
      expect(a.every((o) => o.group !== '')).toBe(true);
      expect(plainClient.stats().resumedPskKe).toBe(0);
      expect(withServer.cache!.stats().resumption).toMatchObject({ resumed: 2, resumedPskKe: 0 });

      const withoutServer = await serve({}, {});
      const pskClient = clientSessions({ pskKe: true });
      const b = await three(pskClient, withoutServer.port);
      expect(b.map((o) => o.reused)).toEqual([false, true, true]);
      expect(b.every((o) => o.group !== '')).toBe(true);
      expect(pskClient.stats().resumedPskKe).toBe(0);
    });

    test("Node's secureOptions cannot do it (bit 35 does not reach the context); configure() turns it off again", async () => {
      const viaSecureOptions = await serve({ secureOptions: constants.SSL_OP_ALLOW_NO_DHE_KEX | (2 ** 35) });
      const sessions = clientSessions({ pskKe: true });
      expect((await three(sessions, viaSecureOptions.port)).every((o) => o.group !== '')).toBe(true);

      const { port, cache } = await serve({}, { tickets: { pskKe: true } });
      cache!.configure({ tickets: { pskKe: false } });
      expect(cache!.stats().settings.tickets.pskKe).toBe(false);
      const again = clientSessions({ pskKe: true });
      expect((await three(again, port)).every((o) => o.group !== '')).toBe(true);
    });
  });
} else {
  describe(`OpenSSL ${process.versions.openssl} (Node 20): the server cannot prefer psk_ke`, () => {
    test('attach({ tickets: { pskKe: true } }) throws ERR_TLS_RESUMPTION_UNSUPPORTED; nothing is applied', async () => {
      const server = tlsServer();
      servers.push({ server });
      let caught: (Error & { code?: string }) | undefined;
      try {
        attach(server, { tickets: { pskKe: true } });
      } catch (err) {
        caught = err as Error & { code?: string };
      }
      expect(caught?.code).toBe('ERR_TLS_RESUMPTION_UNSUPPORTED');
      expect(caught?.message).toMatch(/^"tickets.pskKe" needs OpenSSL 3.3 or later \(SSL_OP_PREFER_NO_DHE_KEX\), got OpenSSL 3\.0\./);
      const cache = attach(server);
      servers[servers.length - 1]!.cache = cache;
      expect(cache.stats().settings.tickets.pskKe).toBe(false);
    });

    test('the client offers psk_ke; an OpenSSL 3.0 server that allows it still picks psk_dhe_ke', async () => {
      const { port } = await serve({ secureOptions: constants.SSL_OP_ALLOW_NO_DHE_KEX });
      const sessions = clientSessions({ pskKe: true });
      const out = await three(sessions, port);
      expect(out.map((o) => o.reused)).toEqual([false, true, true]);
      expect(out.every((o) => o.group !== '')).toBe(true);
      expect(sessions.stats()).toMatchObject({ resumed: 2, resumedPskKe: 0, cache: { pskKe: true } });
    });
  });
}
