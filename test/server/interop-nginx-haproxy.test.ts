/**
 * Mixed fleets: Node + this package beside REAL nginx 1.22 and HAProxy 2.6 sharing one ticket
 * key file, clients placed at random, TLS 1.2 tickets and TLS 1.3 tickets, on every Node line.
 *
 * What each side needs (see docs/ticket-key-ring.md, "Mixed fleets"):
 * - the key: nginx reads 48-byte files as name | AES | HMAC and 80-byte files as name | HMAC |
 *   AES (`addKeyFile(file, { format: 'nginx' })`); HAProxy's base64 lines are name | AES | HMAC
 *   (`format: 'haproxy'`, the penultimate line encrypts, as in HAProxy);
 * - the session-ID context: OpenSSL refuses a decrypted ticket from another context. The
 *   package's `nginxSessionIdContext({ cert, clientCa })` and `haproxySessionIdContext()` give
 *   the peer's, and `sessionIdContext` pins it on every connection, also on Node 22 and 24 whose
 *   own ClientHello callback sets a per-connection context first;
 * - TLS 1.3: the PSK's hash must match the suite the server picks; all three pick the client's
 *   first suite here (TLS_AES_256_GCM_SHA384 from Node's default list).
 * nginx and HAProxy have different contexts and no way to change them: they cannot resume each
 * other's clients, whatever keys they share (shown below), so a three-way fleet cannot be one.
 */
import * as crypto from 'node:crypto';
import type * as tls from 'node:tls';

import { selfSignedCertificate } from '../../src/ops/certificate';
import { attach, type SessionCache } from '../../src/server/attach';
import { haproxySessionIdContext, nginxSessionIdContext } from '../../src/server/peer-session-id-context';
import { TicketKeyRing } from '../../src/server/ticket-key-ring';
import { type Peer, startHaproxy, startNginx, ticketKey } from '../support/fleet-peers';
import { cert, close, connect, listen, tlsServer, type Version } from '../support/tls';

const VERSIONS: Version[] = ['TLSv1.2', 'TLSv1.3'];
const peers: Peer[] = [];
const nodes: Array<{ server: tls.Server; cache: SessionCache }> = [];

afterEach(async () => {
  for (const p of peers.splice(0)) await p.stop();
  for (const n of nodes.splice(0)) {
    n.cache.detach();
    await close(n.server);
  }
});

async function nodeMember(ring: TicketKeyRing, sessionIdContext: Buffer | string): Promise<{ port: number; cache: SessionCache }> {
  const server = tlsServer();
  const cache = attach(server, { sessionIdContext, cache: { enabled: false }, tickets: { keyRing: ring } });
  nodes.push({ server, cache });
  return { port: await listen(server), cache };
}

/** >= 0.97 and every cross-member return resumed. */
function expectMixedFleet(r: { ratio: number; cross: number; crossResumed: number }): void {
  expect(r.cross).toBeGreaterThan(0);
  expect(r.ratio).toBeGreaterThanOrEqual(0.97);
  expect(r.crossResumed).toBe(r.cross);
}

/** Clients keep their newest session and land on a random member; the share of returning connections that resumed. */
async function mixed(
  ports: number[],
  version: Version,
  clients = 12,
  rounds = 6,
): Promise<{ ratio: number; cross: number; crossResumed: number }> {
  const state: Array<{ session?: Buffer; last?: number }> = Array.from({ length: clients }, () => ({}));
  let returning = 0;
  let resumed = 0;
  let cross = 0;
  let crossResumed = 0;
  for (let r = 0; r < rounds; r++) {
    await Promise.all(
      state.map(async (c) => {
        const port = ports[crypto.randomInt(ports.length)]!;
        const res = await connect(port, { version, session: c.session });
        if (c.session) {
          returning++;
          if (res.reused) resumed++;
          if (c.last !== port) {
            cross++;
            if (res.reused) crossResumed++;
          }
        }
        c.session = res.session ?? c.session;
        c.last = port;
      }),
    );
  }
  return { ratio: resumed / returning, cross, crossResumed };
}

describe('mixed fleet with real nginx', () => {
  test.each([48, 80] as const)(
    "%i-byte ssl_session_ticket_key file shared with Node: each resumes the other's clients >= 0.97",
    async (bytes) => {
      const key = ticketKey(bytes);
      const nginx = await startNginx(key.nginx);
      peers.push(nginx);
      const ring = TicketKeyRing.generate();
      const [id] = ring.addKeyFile(key.nginx, { format: 'nginx', encrypt: true });
      expect(id).toBe(key.name.toString('hex'));
      const node = await nodeMember(ring, nginxSessionIdContext({ cert: cert.cert }));
      for (const version of VERSIONS) expectMixedFleet(await mixed([node.port, nginx.port], version));
      expect(node.cache.stats().tickets!.keys[id!]!.decrypted).toBeGreaterThan(0);
    },
  );

  test("why each setting is needed: the wrong layout or Node's own session-ID context and nginx's tickets never resume on Node", async () => {
    const key = ticketKey(48);
    const nginx = await startNginx(key.nginx);
    peers.push(nginx);
    const fromNginx = async (version: Version) => (await connect(nginx.port, { version })).session;
    // Right layout, Node's default context: the ticket decrypts (counted), OpenSSL refuses the session.
    const ringA = TicketKeyRing.generate();
    ringA.addKeyFile(key.nginx, { format: 'nginx' });
    const serverA = tlsServer();
    const cacheA = attach(serverA, { tickets: { keyRing: ringA } });
    nodes.push({ server: serverA, cache: cacheA });
    const portA = await listen(serverA);
    // Wrong layout (the file read as Node's name | HMAC | AES): the HMAC check fails.
    const ringB = TicketKeyRing.generate();
    ringB.add(key.nginx, { format: 'node' });
    const b = await nodeMember(ringB, nginxSessionIdContext({ cert: cert.cert }));
    for (const version of VERSIONS) {
      expect((await connect(portA, { version, session: await fromNginx(version) })).reused).toBe(false);
      expect((await connect(b.port, { version, session: await fromNginx(version) })).reused).toBe(false);
    }
    // The key decrypted nginx's tickets (per-key `decrypted`); OpenSSL resumed none of them (`resumed` counts only what OpenSSL resumed).
    expect(cacheA.stats().tickets!.keys[key.name.toString('hex')]!.decrypted).toBeGreaterThan(0);
    expect(cacheA.stats().tickets!.resumed).toBe(0);
  });
});

describe("nginx's client CA names", () => {
  // Two CAs and a duplicate: nginx hashes each name once, in file order.
  const caOne = selfSignedCertificate('Client CA One').cert;
  const caTwo = selfSignedCertificate('Client CA Two').cert;
  const bundle = caOne + caTwo + caOne;

  test('ssl_verify_client with an ssl_client_certificate bundle: nginxSessionIdContext({ cert, clientCa }) resumes, without clientCa nothing does', async () => {
    const key = ticketKey(80);
    const nginx = await startNginx(key.nginx, { clientCa: bundle });
    peers.push(nginx);
    const ring = TicketKeyRing.generate();
    ring.addKeyFile(key.nginx, { format: 'nginx', encrypt: true });
    const right = await nodeMember(ring, nginxSessionIdContext({ cert: cert.cert, clientCa: bundle }));
    const wrong = await nodeMember(ring, nginxSessionIdContext({ cert: cert.cert }));
    const reordered = await nodeMember(ring, nginxSessionIdContext({ cert: cert.cert, clientCa: caTwo + caOne }));
    for (const version of VERSIONS) {
      expectMixedFleet(await mixed([right.port, nginx.port], version, 8, 4));
      const fromNginx = (await connect(nginx.port, { version })).session;
      expect({ version, wrong: (await connect(wrong.port, { version, session: fromNginx })).reused }).toEqual({ version, wrong: false });
      expect({ version, reordered: (await connect(reordered.port, { version, session: fromNginx })).reused }).toEqual({
        version,
        reordered: false,
      });
    }
  });

  test('bad input: a clear error naming the field', () => {
    expect(() => nginxSessionIdContext({ cert: 'not a pem' })).toThrow(
      '"cert" must be PEM text (a string or a Buffer) holding at least one certificate, got no "BEGIN CERTIFICATE" block.',
    );
    expect(() => nginxSessionIdContext({} as never)).toThrow(TypeError);
    expect(() => nginxSessionIdContext({ cert: cert.cert, module: 'smtp' as never })).toThrow(
      '"module" must be one of "http", "stream", "mail"',
    );
    expect(() => nginxSessionIdContext({ cert: cert.cert, clientCa: 42 as never })).toThrow(/"clientCa" must be PEM text/);
    expect(() => nginxSessionIdContext({ cert: cert.cert, ca: bundle } as never)).toThrow(/Unknown option "options.ca"/);
    expect(nginxSessionIdContext({ cert: [cert.cert + caOne] })).toEqual(nginxSessionIdContext({ cert: cert.cert }));
    expect(nginxSessionIdContext({ cert: cert.cert, module: 'stream' })).not.toEqual(nginxSessionIdContext({ cert: cert.cert }));
  });
});

describe('mixed fleet with real HAProxy', () => {
  test.each([48, 80] as const)(
    "tls-ticket-keys file of %i-byte keys shared with Node: each resumes the other's clients >= 0.97",
    async (bytes) => {
      const keys = [ticketKey(bytes), ticketKey(bytes), ticketKey(bytes)];
      const file = `${keys.map((k) => k.haproxy.toString('base64')).join('\n')}\n`;
      const haproxy = await startHaproxy(file);
      peers.push(haproxy);
      const ring = TicketKeyRing.generate();
      const ids = ring.addKeyFile(file, { format: 'haproxy', encrypt: true });
      expect(ring.list().find((k) => k.role === 'encrypt')!.id).toBe(ids[1]);
      const node = await nodeMember(ring, haproxySessionIdContext());
      for (const version of VERSIONS) expectMixedFleet(await mixed([node.port, haproxy.port], version));
      expect(node.cache.stats().tickets!.resumed).toBeGreaterThan(0);
    },
  );
});

describe('nginx and HAProxy together', () => {
  test("the same key in both files: they never resume each other's clients (different, fixed session-ID contexts)", async () => {
    const key = ticketKey(80);
    const spare = [ticketKey(80), ticketKey(80)];
    // HAProxy encrypts with the penultimate line: put the shared key there.
    const file = `${[spare[0]!, key, spare[1]!].map((k) => k.haproxy.toString('base64')).join('\n')}\n`;
    const [nginx, haproxy] = [await startNginx(key.nginx), await startHaproxy(file)];
    peers.push(nginx, haproxy);
    // Node with nginx's context resumes nginx's tickets, not HAProxy's; with HAProxy's, the reverse.
    const ring = TicketKeyRing.generate();
    ring.add(key.node, { encrypt: true });
    const withNginx = await nodeMember(ring, nginxSessionIdContext({ cert: cert.cert }));
    for (const version of VERSIONS) {
      const n = await connect(nginx.port, { version });
      const h = await connect(haproxy.port, { version });
      expect((await connect(nginx.port, { version, session: n.session })).reused).toBe(true);
      expect((await connect(haproxy.port, { version, session: h.session })).reused).toBe(true);
      expect({ version, nginxToHaproxy: (await connect(haproxy.port, { version, session: n.session })).reused }).toEqual({
        version,
        nginxToHaproxy: false,
      });
      expect({ version, haproxyToNginx: (await connect(nginx.port, { version, session: h.session })).reused }).toEqual({
        version,
        haproxyToNginx: false,
      });
      expect((await connect(withNginx.port, { version, session: n.session })).reused).toBe(true);
      expect((await connect(withNginx.port, { version, session: h.session })).reused).toBe(false);
    }
  });
});
