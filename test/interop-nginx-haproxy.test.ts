/**
 * Mixed fleets: Node + this package beside REAL nginx 1.22 and HAProxy 2.6 sharing one ticket
 * key file, clients placed at random, TLS 1.2 tickets and TLS 1.3 tickets.
 *
 * What each side needs (see docs/ticket-key-ring.md, "Mixed fleets"):
 * - the key: nginx reads 48-byte files as name | AES | HMAC and 80-byte files as name | HMAC |
 *   AES (`addKeyFile(file, { format: 'nginx' })`); HAProxy's base64 lines are name | AES | HMAC
 *   (`format: 'haproxy'`, the penultimate line encrypts, as in HAProxy);
 * - the session-ID context: OpenSSL refuses a decrypted ticket from another context. nginx sets
 *   SHA-1("HTTP" | SHA-1(certificate DER) | client CA names), HAProxy the string "haproxy";
 *   neither can be configured, so Node takes the peer's (`sessionIdContext`);
 * - TLS 1.3: the PSK's hash must match the suite the server picks; all three pick the client's
 *   first suite here (TLS_AES_256_GCM_SHA384 from Node's default list).
 * nginx and HAProxy have different contexts and no way to change them: they cannot resume each
 * other's clients, whatever keys they share (shown below), so a three-way fleet cannot be one.
 *
 * Node 22 and 24 cannot join such a fleet at all: they give every connection the context
 * SHA-256(sessionIdContext | 0x00 | SNI name) from a ClientHello callback of their own, which no
 * option reproduces (nginx's binary context is refused there as not UTF-8 text). On those lines
 * the tests below show that: the keys match, the ticket decrypts, no cross resumption.
 */
import * as crypto from 'node:crypto';
import type * as tls from 'node:tls';
import { NODE_BINDS_CONTEXT_TO_SERVER_NAME as BINDS } from '../src/common/session-id-context';
import { attach, type SessionCache } from '../src/server/attach';
import { TicketKeyRing } from '../src/server/ticket-key-ring';
import { HAPROXY_SESSION_ID_CONTEXT, nginxSessionIdContext, type Peer, startHaproxy, startNginx, ticketKey } from './support/fleet-peers';
import { cert, close, connect, listen, tlsServer, type Version } from './support/tls';

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

/** >= 0.97 and every cross-member return resumed; on Node 22/24 (see above) no cross-member return resumes. */
function expectMixedFleet(r: { ratio: number; cross: number; crossResumed: number }): void {
  expect(r.cross).toBeGreaterThan(0);
  if (BINDS) {
    expect(r.crossResumed).toBe(0);
    return;
  }
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
      if (BINDS) {
        // nginx's context is a SHA-1 digest: not text Node 22/24 can hold.
        expect(() => attach(tlsServer(), { sessionIdContext: nginxSessionIdContext(cert.cert) })).toThrow(
          /"sessionIdContext" must be UTF-8 text on Node/,
        );
      }
      const node = await nodeMember(ring, BINDS ? 'nginx' : nginxSessionIdContext(cert.cert));
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
    const b = await nodeMember(ringB, BINDS ? 'nginx' : nginxSessionIdContext(cert.cert));
    for (const version of VERSIONS) {
      expect((await connect(portA, { version, session: await fromNginx(version) })).reused).toBe(false);
      expect((await connect(b.port, { version, session: await fromNginx(version) })).reused).toBe(false);
    }
    // The key decrypted nginx's tickets (per-key `decrypted`); OpenSSL resumed none of them (`resumed` counts only what OpenSSL resumed).
    expect(cacheA.stats().tickets!.keys[key.name.toString('hex')]!.decrypted).toBeGreaterThan(0);
    expect(cacheA.stats().tickets!.resumed).toBe(0);
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
      const node = await nodeMember(ring, HAPROXY_SESSION_ID_CONTEXT);
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
    const withNginx = await nodeMember(ring, BINDS ? 'nginx' : nginxSessionIdContext(cert.cert));
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
      expect((await connect(withNginx.port, { version, session: n.session })).reused).toBe(!BINDS);
      expect((await connect(withNginx.port, { version, session: h.session })).reused).toBe(false);
    }
  });
});
