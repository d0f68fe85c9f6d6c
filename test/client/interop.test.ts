/**
 * The outbound cache against real servers of other makes: nginx 1.22 (tickets, and session IDs
 * with TLS 1.3 stateful tickets), HAProxy 2.6, `openssl s_server` with stateful single-use TLS 1.3
 * tickets, and a Node server with this package attached. A few connections each, through the
 * client a user of that server would pick (https.Agent, fetch, tls.connect, http2.connect).
 * Every returning connection must resume and no offered session may be declined.
 */
import * as https from 'node:https';
import type * as tls from 'node:tls';

import * as undici from 'undici';
import { type ClientSessionCache, clientSessions } from '../../src/client';
import { attach, type SessionCache } from '../../src/server/attach';
import { TicketKeyRing } from '../../src/server/ticket-key-ring';
import { type Peer, startHaproxy, startNginx, ticketKey } from '../support/fleet-peers';
import { startSServer } from '../support/s_server';
import { close, http2Server, httpsServer, listen, tlsServer, type Version } from '../support/tls';

const VERSIONS: Version[] = ['TLSv1.2', 'TLSv1.3'];
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

function track(peer: Peer): number {
  stops.push(() => peer.stop());
  return peer.port;
}

/** One GET through `agent` on a new connection; whether it resumed. */
function get(agent: https.Agent, port: number, servername = 'localhost'): Promise<boolean> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, servername, path: '/', agent, rejectUnauthorized: false }, (res) => {
        const reused = (res.socket as tls.TLSSocket).isSessionReused();
        res.resume().on('end', () => resolve(reused));
      })
      .on('error', reject);
  });
}

/** One tls.connect through the cache: handshake, a request line, read to the close. */
function roundTrip(sessions: ClientSessionCache, options: tls.ConnectionOptions): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = sessions.connect({ host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false, ...options });
    let reused = false;
    let failure: Error | undefined;
    socket.on('secureConnect', () => {
      reused = socket.isSessionReused();
      socket.end('GET / HTTP/1.0\r\n\r\n');
    });
    socket.on('data', () => undefined);
    socket.on('error', (err) => (failure = err));
    socket.on('close', () => (failure ? reject(failure) : resolve(reused)));
  });
}

/** n GETs, one after the other, each on a new connection (keepAlive off). */
async function sequence(n: number, one: () => Promise<boolean>): Promise<boolean[]> {
  const out: boolean[] = [];
  for (let i = 0; i < n; i++) out.push(await one());
  return out;
}

/** The first connection is full, every later one resumed, and the cache saw no refusal. */
function expectAllReturningResumed(results: boolean[], sessions: ClientSessionCache): void {
  expect(results).toEqual([false, ...results.slice(1).map(() => true)]);
  const s = sessions.stats();
  expect(s).toMatchObject({ connections: results.length, resumed: results.length - 1, full: 1, failed: 0 });
  expect(s.refused).toEqual({ declined: 0, protocolChanged: 0 });
}

describe('nginx 1.22', () => {
  test.each(VERSIONS)('tickets (ssl_session_ticket_key), %s, https.Agent and fetch', async (version) => {
    const port = track(await startNginx(ticketKey(80).nginx));
    const viaAgent = clientSessions();
    const agent = viaAgent.agent({ keepAlive: false, minVersion: version, maxVersion: version });
    expectAllReturningResumed(await sequence(4, () => get(agent, port)), viaAgent);
    // nginx sends a new ticket on each resumption too: TLS 1.3 tickets are spent and replaced.
    if (version === 'TLSv1.3') expect(viaAgent.stats().received).toBeGreaterThanOrEqual(4);

    const viaFetch = clientSessions();
    const dispatcher = new undici.Agent({
      pipelining: 0, // a new connection per request
      connect: viaFetch.connector({ rejectUnauthorized: false, minVersion: version, maxVersion: version }),
    });
    try {
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`https://localhost:${port}/`, { dispatcher } as unknown as RequestInit);
        expect(await res.text()).toBe('ok');
      }
    } finally {
      await dispatcher.close();
    }
    expect(viaFetch.stats()).toMatchObject({ connections: 4, resumed: 3, full: 1, refused: { declined: 0 } });
  });

  test.each(VERSIONS)(
    'session IDs (ssl_session_cache shared, tickets off), %s: TLS 1.3 tickets are stateful and single-use',
    async (version) => {
      const port = track(await startNginx(ticketKey(80).nginx, { sessionIds: true }));
      const sessions = clientSessions();
      const agent = sessions.agent({ keepAlive: false, minVersion: version, maxVersion: version });
      expectAllReturningResumed(await sequence(4, () => get(agent, port)), sessions);
      // TLS 1.2: one session, offered again and again; TLS 1.3: each single-use ticket once.
      expect(sessions.stats().cache.sessions).toBe(version === 'TLSv1.2' ? 1 : 2);
    },
  );
});

describe('HAProxy 2.6', () => {
  test.each(VERSIONS)('tls-ticket-keys, %s, https.Agent', async (version) => {
    const file = `${[ticketKey(80), ticketKey(80), ticketKey(80)].map((k) => k.haproxy.toString('base64')).join('\n')}\n`;
    const port = track(await startHaproxy(file));
    const sessions = clientSessions();
    const agent = sessions.agent({ keepAlive: false, minVersion: version, maxVersion: version });
    if (version === 'TLSv1.2') {
      expectAllReturningResumed(await sequence(4, () => get(agent, port)), sessions);
      return;
    }
    // HAProxy sends two TLS 1.3 tickets after a full handshake and none after a resumption:
    // each used once, every third connection has nothing left to offer (a full handshake, not a
    // refusal). A cache that offered a ticket twice would resume them all.
    expect(await sequence(6, () => get(agent, port))).toEqual([false, true, true, false, true, true]);
    expect(sessions.stats()).toMatchObject({ resumed: 4, full: 2, received: 4, refused: { declined: 0, protocolChanged: 0 } });
  });
});

describe('openssl s_server with stateful TLS 1.3 tickets (each valid once)', () => {
  test('parallel connections each resume with a ticket of their own; none is offered twice', async () => {
    const server = await startSServer(['-tls1_3', '-no_ticket', '-num_tickets', '4']);
    stops.push(() => server.stop());
    const sessions = clientSessions({ ticketsPerUpstream: 4 });
    expect(await roundTrip(sessions, { port: server.port })).toBe(false);
    expect(sessions.stats().cache.sessions).toBe(4);
    // Four at once: a cache that gave two of them one ticket would see the second declined.
    const parallel = await Promise.all(Array.from({ length: 4 }, () => roundTrip(sessions, { port: server.port })));
    expect(parallel).toEqual([true, true, true, true]);
    expect(sessions.stats()).toMatchObject({ offered: 4, resumed: 4, full: 1, refused: { declined: 0 } });
  });
});

describe('a Node server with this package attached', () => {
  const attached: Array<{ server: tls.Server; cache: SessionCache }> = [];
  afterEach(async () => {
    for (const a of attached.splice(0)) {
      a.cache.detach();
      await close(a.server);
    }
  });

  async function serveAttached<T extends tls.Server>(
    server: T,
    options: Parameters<typeof attach>[1],
  ): Promise<{ port: number; cache: SessionCache }> {
    const cache = attach(server, options);
    attached.push({ server, cache });
    return { port: await listen(server), cache };
  }

  test.each(VERSIONS)(
    'ticket key ring, %s: https.Agent, http2.connect and tls.connect all resume; the server counts it',
    async (version) => {
      const ring = TicketKeyRing.generate();
      const https1 = await serveAttached(httpsServer(), { tickets: { keyRing: ring } });
      const sessions = clientSessions();
      const agent = sessions.agent({ keepAlive: false, minVersion: version, maxVersion: version });
      expectAllReturningResumed(await sequence(4, () => get(agent, https1.port)), sessions);
      expect(https1.cache.stats().tickets!.resumed).toBe(3);

      const h2 = await serveAttached(http2Server(), { tickets: { keyRing: ring } });
      const viaH2 = clientSessions();
      const h2Results = await sequence(3, () => {
        return new Promise<boolean>((resolve, reject) => {
          const client = viaH2.http2Connect(`https://localhost:${h2.port}`, {
            rejectUnauthorized: false,
            minVersion: version,
            maxVersion: version,
          });
          client.on('error', reject);
          const req = client.request({ ':path': '/' });
          req.on('data', () => undefined);
          req.on('end', () => {
            const reused = (client.socket as tls.TLSSocket).isSessionReused();
            client.close(() => resolve(reused));
          });
          req.end();
        });
      });
      expectAllReturningResumed(h2Results, viaH2);
    },
  );

  test('session cache only (tickets off): TLS 1.2 session IDs and TLS 1.3 stateful tickets through tls.connect', async () => {
    const node = await serveAttached(tlsServer(), { tickets: { enabled: false } });
    for (const version of VERSIONS) {
      const sessions = clientSessions();
      expectAllReturningResumed(
        await sequence(4, () => roundTrip(sessions, { port: node.port, minVersion: version, maxVersion: version })),
        sessions,
      );
    }
    expect(node.cache.stats().resumption.resumed).toBe(6);
  });
});
