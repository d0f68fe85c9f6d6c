/**
 * The outbound session cache against real TLS servers on loopback: tls.connect (with and without
 * a connected `socket`), https.Agent, undici and fetch, http2.connect; each TLS 1.3 ticket offered
 * once; keys that keep sessions to their peer and client identity; lifetimes, refusals, failures.
 */
import * as dc from 'node:diagnostics_channel';
import * as https from 'node:https';
import * as net from 'node:net';
import type * as tls from 'node:tls';

import * as undici from 'undici';
import { type ClientSessionCache, clientSessions } from '../../src/client';
import { Channels } from '../../src/common/events';
import { selfSignedCertificate } from '../../src/ops/certificate';
import { expectBadInput } from '../support/bad-inputs';
import { startSServer } from '../support/s_server';
import { cert, close, http2Server, httpsServer, listen, tlsServer, type Version } from '../support/tls';
import { runSupportChild } from '../support/ts-child';

interface Outcome {
  reused: boolean;
  protocol: string | null;
}

/** One connection through the cache: handshake, one byte each way, close. */
function roundTrip(sessions: ClientSessionCache, options: tls.ConnectionOptions): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = sessions.connect({ host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false, ...options });
    let out: Outcome = { reused: false, protocol: null };
    socket.on('secureConnect', () => {
      out = { reused: socket.isSessionReused(), protocol: socket.getProtocol() };
      socket.write('GET / HTTP/1.0\r\n\r\n');
    });
    socket.on('data', () => undefined);
    let failure: Error | undefined;
    socket.on('error', (err) => (failure = err));
    // Settles on 'close', after the cache has seen the outcome too.
    socket.on('close', () => (failure ? reject(failure) : resolve(out)));
  });
}

function only(version: Version): tls.ConnectionOptions {
  return { minVersion: version, maxVersion: version };
}

const servers: tls.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => close(s)));
});
async function serve<T extends tls.Server>(server: T): Promise<number> {
  servers.push(server);
  return listen(server);
}

describe('tls.connect', () => {
  test('TLS 1.2: one session reused until it expires; stats count it', async () => {
    const port = await serve(tlsServer());
    const sessions = clientSessions();
    const results: boolean[] = [];
    for (let i = 0; i < 6; i++) results.push((await roundTrip(sessions, { port, ...only('TLSv1.2') })).reused);
    expect(results).toEqual([false, true, true, true, true, true]);
    const s = sessions.stats();
    expect(s).toMatchObject({ connections: 6, offered: 5, resumed: 5, full: 1, failed: 0 });
    expect(s.cache.sessions).toBe(1);
    expect(Object.keys(s.upstreams)).toEqual([`127.0.0.1:${port}/localhost`]);
  });

  test('TLS 1.3: each ticket is offered once (stock Node server: 2 tickets per full handshake, none on resumption)', async () => {
    const port = await serve(tlsServer());
    const sessions = clientSessions();
    const results: boolean[] = [];
    for (let i = 0; i < 6; i++) results.push((await roundTrip(sessions, { port, ...only('TLSv1.3') })).reused);
    // Node's server gives two tickets after a full handshake and none after a resumption: each
    // used once, so every third connection is a full handshake (a cache that reuses a ticket
    // would resume them all, against RFC 8446 C.4).
    expect(results).toEqual([false, true, true, false, true, true]);
    expect(sessions.stats()).toMatchObject({ offered: 4, resumed: 4, full: 2, received: 4 });
    expect(sessions.stats().cache.sessions).toBe(0);
  });

  test('TLS 1.3: parallel connections each get their own ticket, up to ticketsPerUpstream', async () => {
    const port = await serve(tlsServer({ sessionTimeout: 300 }));
    const sessions = clientSessions({ ticketsPerUpstream: 4 });
    // Three full handshakes at once bring six tickets; the cache keeps the newest four.
    await Promise.all(Array.from({ length: 3 }, () => roundTrip(sessions, { port, ...only('TLSv1.3') })));
    expect(sessions.stats().cache).toMatchObject({ sessions: 4, evicted: 2 });
    // Six at once: four resume, each with its own ticket; two make full handshakes.
    const parallel = await Promise.all(Array.from({ length: 6 }, () => roundTrip(sessions, { port, ...only('TLSv1.3') })));
    expect(parallel.filter((r) => r.reused).length).toBe(4);
    expect(sessions.stats()).toMatchObject({ offered: 4, resumed: 4, full: 5 });
    const s = sessions.stats();
    expect(s.refused.declined).toBe(0);
  });

  test('single-use TLS 1.3 tickets (openssl s_server, stateful tickets): every returning connection resumes', async () => {
    const server = await startSServer(['-tls1_3', '-no_ticket', '-num_tickets', '2']);
    try {
      const sessions = clientSessions();
      const results: boolean[] = [];
      for (let i = 0; i < 8; i++) results.push((await roundTrip(sessions, { port: server.port })).reused);
      expect(results[0]).toBe(false);
      expect(results.slice(1).every(Boolean)).toBe(true);
      expect(sessions.stats().refused.declined).toBe(0);
    } finally {
      await server.stop();
    }
  });

  test('with a connected `socket` (the STARTTLS path, nodejs/node#64402), TLS 1.2 and 1.3', async () => {
    const port = await serve(tlsServer());
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const sessions = clientSessions();
      const results: boolean[] = [];
      for (let i = 0; i < 3; i++) {
        const plain = net.connect(port, '127.0.0.1');
        await new Promise((resolve) => plain.once('connect', resolve));
        const r = await roundTrip(sessions, { socket: plain, servername: 'localhost', ...only(version) });
        results.push(r.reused);
      }
      expect(results).toEqual([false, true, true]);
      expect(Object.keys(sessions.stats().upstreams)).toEqual([`127.0.0.1:${port}/localhost`]);
    }
  });

  test('the lifetime the server announces is honoured: an expired ticket is never offered', async () => {
    const port = await serve(tlsServer({ sessionTimeout: 1 }));
    const sessions = clientSessions();
    expect((await roundTrip(sessions, { port, ...only('TLSv1.3') })).reused).toBe(false);
    expect((await roundTrip(sessions, { port, ...only('TLSv1.3') })).reused).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await roundTrip(sessions, { port, ...only('TLSv1.3') })).reused).toBe(false);
    const s = sessions.stats();
    expect(s.cache.expired).toBe(1);
    expect(s.offered).toBe(1);
    expect(s.refused.declined).toBe(0);
  });

  test('a refused session is evicted; the next connection resumes the new one', async () => {
    const sessions = clientSessions();
    const seen: unknown[] = [];
    const published: unknown[] = [];
    const onPublish = (m: unknown) => published.push(m);
    dc.subscribe(Channels.clientRefused, onPublish);
    sessions.on('clientRefused', (m) => seen.push(m));
    const first = tlsServer();
    const port = await serve(first);
    await roundTrip(sessions, { port, ...only('TLSv1.2') });
    // Same port, new server: other ticket keys, so the cached session is declined.
    await close(first);
    servers.splice(servers.indexOf(first), 1);
    const second = tlsServer();
    servers.push(second);
    await new Promise<void>((r) => second.listen(port, '127.0.0.1', r));
    expect((await roundTrip(sessions, { port, ...only('TLSv1.2') })).reused).toBe(false);
    expect((await roundTrip(sessions, { port, ...only('TLSv1.2') })).reused).toBe(true);
    const s = sessions.stats();
    expect(s.refused.declined).toBe(1);
    expect(s.cache.sessions).toBe(1);
    expect(seen).toEqual([
      { cache: sessions, upstream: `127.0.0.1:${port}/localhost`, reason: 'declined', protocol: 'TLSv1.2', negotiated: 'TLSv1.2' },
    ]);
    expect(published).toEqual(seen);
    dc.unsubscribe(Channels.clientRefused, onPublish);
  });

  test('a failed connection evicts the session it offered', async () => {
    const sessions = clientSessions();
    const server = tlsServer();
    const port = await serve(server);
    await roundTrip(sessions, { port, ...only('TLSv1.2') });
    expect(sessions.stats().cache.sessions).toBe(1);
    await close(server);
    servers.splice(servers.indexOf(server), 1);
    const dropper = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => dropper.listen(port, '127.0.0.1', r));
    try {
      await expect(roundTrip(sessions, { port, ...only('TLSv1.2') })).rejects.toThrow();
    } finally {
      await new Promise((r) => dropper.close(r));
    }
    const s = sessions.stats();
    expect(s).toMatchObject({ offered: 1, failed: 1 });
    expect(s.cache.sessions).toBe(0);
  });
});

describe('keys: a session never goes to another peer or client identity', () => {
  const alice = selfSignedCertificate('alice');
  const bob = selfSignedCertificate('bob');

  test('client certificates, CA, servername and port each make another upstream', async () => {
    const port = await serve(tlsServer({ requestCert: true, rejectUnauthorized: false }));
    const other = await serve(tlsServer());
    const sessions = clientSessions();
    const asAlice = { port, key: alice.key, cert: alice.cert, ...only('TLSv1.2') };
    expect((await roundTrip(sessions, asAlice)).reused).toBe(false);
    expect((await roundTrip(sessions, asAlice)).reused).toBe(true);
    // Bob, another CA, another name, another port: none may resume Alice's session.
    expect((await roundTrip(sessions, { ...asAlice, key: bob.key, cert: bob.cert })).reused).toBe(false);
    expect((await roundTrip(sessions, { ...asAlice, ca: cert.cert })).reused).toBe(false);
    expect((await roundTrip(sessions, { ...asAlice, servername: 'other.localhost' })).reused).toBe(false);
    expect((await roundTrip(sessions, { ...asAlice, port: other })).reused).toBe(false);
    const s = sessions.stats();
    expect(s.offered).toBe(1);
    expect(s.full).toBe(5);
    expect(s.refused.declined).toBe(0);
    // Labels carry a hash of the identity, never the key or certificate.
    const labels = Object.keys(s.upstreams);
    expect(labels).toHaveLength(5);
    expect(JSON.stringify(s)).not.toContain('PRIVATE');
    expect(labels.filter((l) => /#[0-9a-f]{8}$/.test(l))).toHaveLength(5);
  });
});

describe('https.Agent', () => {
  test('one line (sessions.agent()): 101 SNI names round-robin resume every returning connection (stock: 0.00 past 100)', async () => {
    const port = await serve(httpsServer());
    const names = Array.from({ length: 101 }, (_, i) => `h${i}.localhost`);
    const get = (agent: https.Agent, servername: string) =>
      new Promise<boolean>((resolve, reject) => {
        const req = https.get({ host: '127.0.0.1', port, servername, path: '/', agent, rejectUnauthorized: false }, (res) => {
          const reused = (res.socket as tls.TLSSocket).isSessionReused();
          res.resume().on('end', () => resolve(reused));
        });
        req.on('error', reject);
      });
    const sessions = clientSessions();
    const agent = sessions.agent({ keepAlive: false, maxVersion: 'TLSv1.2' });
    const stock = new https.Agent({ keepAlive: false, maxVersion: 'TLSv1.2' });
    let resumed = 0;
    let stockResumed = 0;
    for (let round = 0; round < 2; round++) {
      for (const name of names) {
        const r = await get(agent, name);
        const st = await get(stock, name);
        if (round > 0) {
          resumed += r ? 1 : 0;
          stockResumed += st ? 1 : 0;
        }
      }
    }
    expect(resumed / names.length).toBe(1);
    expect(stockResumed).toBe(0);
    expect(Object.keys(sessions.stats().upstreams)).toHaveLength(101);
  });

  test('install() into an existing agent: TLS 1.3 tickets each used once; twice is a no-op; another cache is refused', async () => {
    const port = await serve(httpsServer());
    const agent = new https.Agent({ keepAlive: false });
    const sessions = clientSessions();
    expect(sessions.install(agent)).toBe(agent);
    expect(sessions.install(agent)).toBe(agent);
    const reused: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      reused.push(
        await new Promise<boolean>((resolve, reject) => {
          https
            .get({ host: '127.0.0.1', port, servername: 'localhost', agent, rejectUnauthorized: false }, (res) => {
              const r = (res.socket as tls.TLSSocket).isSessionReused();
              res.resume().on('end', () => resolve(r));
            })
            .on('error', reject);
        }),
      );
    }
    expect(reused).toEqual([false, true, true]);
    expect(() => clientSessions().install(agent)).toThrow(/already has another client session cache/);
  });
});

describe('undici and fetch', () => {
  const closeHeader = { key: cert.key, cert: cert.cert };
  function closingServer(): https.Server {
    // Connection: close on every response, so each request opens a new connection.
    return https.createServer(closeHeader, (_req, res) => {
      res.setHeader('connection', 'close');
      res.end('ok');
    });
  }

  test('undici.Agent({ connect: sessions.connector() }) with undici.request and global fetch', async () => {
    const port = await serve(closingServer());
    const sessions = clientSessions();
    const dispatcher = new undici.Agent({ connect: sessions.connector({ rejectUnauthorized: false }) });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await undici.request(`https://localhost:${port}/`, { dispatcher });
        expect(await res.body.text()).toBe('ok');
      }
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`https://localhost:${port}/`, { dispatcher } as unknown as RequestInit);
        expect(await res.text()).toBe('ok');
      }
    } finally {
      await dispatcher.close();
    }
    const s = sessions.stats();
    expect(s.connections).toBe(6);
    // Stock Node server, TLS 1.3: two tickets per full handshake, each used once.
    expect(s.resumed).toBe(4);
    expect(s.full).toBe(2);
    expect(Object.keys(s.upstreams)).toEqual([`localhost:${port}`]);
  });

  test('setGlobalDispatcher in a real process: plain fetch() resumes (TLS 1.2)', async () => {
    const port = await serve(closingServer());
    const { code, out, err } = await runSupportChild('client-fetch-child.ts', [String(port), '4']);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(JSON.parse(out)).toMatchObject({ connections: 4, resumed: 3, full: 1 });
  });
});

describe('http2.connect', () => {
  test('sessions.http2Connect(): the second and third sessions resume', async () => {
    const port = await serve(http2Server());
    const sessions = clientSessions();
    const reused: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      reused.push(
        await new Promise<boolean>((resolve, reject) => {
          const client = sessions.http2Connect(`https://localhost:${port}`, { rejectUnauthorized: false });
          client.on('error', reject);
          const req = client.request({ ':path': '/' });
          req.on('data', () => undefined);
          req.on('end', () => {
            const r = (client.socket as tls.TLSSocket).isSessionReused();
            client.close(() => resolve(r));
          });
          req.end();
        }),
      );
    }
    expect(reused).toEqual([false, true, true]);
  });
});

describe('bad arguments to the methods', () => {
  /** The error `fn` throws: its class, code and message. */
  function thrown(fn: () => unknown): { name: string; code: unknown; message: string } {
    try {
      fn();
    } catch (err) {
      const e = err as Error & { code?: unknown };
      return { name: e.name, code: e.code, message: e.message };
    }
    throw new Error('expected a throw');
  }

  test('each throws with a stable code and names the argument; no connection is opened', () => {
    const sessions = clientSessions();
    const cases: Array<[() => unknown, string, string, string | RegExp]> = [
      [
        () => clientSessions({ ticketsPerUpstream: 0 }),
        'RangeError',
        'ERR_OUT_OF_RANGE',
        '"ticketsPerUpstream" must be between 1 and 64 tickets, got 0.',
      ],
      [
        () => clientSessions({ pskKe: 'yes' as never }),
        'TypeError',
        'ERR_INVALID_ARG_TYPE',
        '"pskKe" must be a boolean, got the string "yes".',
      ],
      [() => clientSessions(7 as never), 'TypeError', 'ERR_INVALID_ARG_TYPE', '"options" must be an object, got the number 7.'],
      [() => clientSessions({ shared: { name: '' } }), 'RangeError', 'ERR_OUT_OF_RANGE', /"shared.name" must be/],
      [() => sessions.connect(null as never), 'TypeError', 'ERR_INVALID_ARG_TYPE', '"options" must be an object, got null.'],
      // A client key given where the options go: its bytes never reach the message.
      [
        () => sessions.connect(selfSignedCertificate('localhost').key as never),
        'TypeError',
        'ERR_INVALID_ARG_TYPE',
        /^"options" must be an object, got a PEM string of \d+ characters\.$/,
      ],
      [
        () => sessions.connect({ port: 1 }, 'cb' as never),
        'TypeError',
        'ERR_INVALID_ARG_TYPE',
        '"secureConnectListener" must be a function, got the string "cb".',
      ],
      [
        () => sessions.agent('keepAlive' as never),
        'TypeError',
        'ERR_INVALID_ARG_TYPE',
        '"options" must be an object, got the string "keepAlive".',
      ],
      [
        () => sessions.install({} as never),
        'TypeError',
        'ERR_INVALID_ARG_TYPE',
        '"agent" must be an instance of https.Agent, got an object.',
      ],
      [
        () => sessions.connector({ allowH2: 1 as never }),
        'TypeError',
        'ERR_INVALID_ARG_TYPE',
        '"allowH2" must be a boolean, got the number 1.',
      ],
      [
        () => sessions.connector({ timeout: -1 }),
        'RangeError',
        'ERR_OUT_OF_RANGE',
        '"timeout" must be between 0 and 2147483647 milliseconds, got -1.',
      ],
      [
        () => sessions.connector({ keepAliveInitialDelay: 1.5 }),
        'TypeError',
        'ERR_INVALID_ARG_TYPE',
        '"keepAliveInitialDelay" must be an integer, got the number 1.5.',
      ],
      [
        () => sessions.http2Connect(443 as never),
        'TypeError',
        'ERR_INVALID_ARG_TYPE',
        '"authority" must be a string or a URL, got the number 443.',
      ],
      [
        () => sessions.http2Connect('https://localhost', null as never),
        'TypeError',
        'ERR_INVALID_ARG_TYPE',
        '"options" must be an object, got null.',
      ],
    ];
    for (const [fn, name, code, message] of cases) {
      const e = thrown(fn);
      expect({ name: e.name, code: e.code }).toEqual({ name, code });
      expect(e.message).toMatch(message);
    }
    const another = clientSessions();
    const agent = sessions.agent();
    expect(thrown(() => another.install(agent))).toMatchObject({ code: 'ERR_TLS_RESUMPTION_AGENT_IN_USE' });
    expect(sessions.stats().connections).toBe(0);
  });
});

describe('bad options', () => {
  test('each names the field and the accepted range; nothing is built', () => {
    expectBadInput(
      'option',
      'clientSessions({ ticketsPerUpstream: 0 })',
      () => clientSessions({ ticketsPerUpstream: 0 }),
      RangeError,
      '"ticketsPerUpstream" must be between 1 and 64 tickets, got 0.',
    );
    expectBadInput(
      'option',
      "clientSessions({ maxSessions: '10' })",
      () => clientSessions({ maxSessions: '10' as never }),
      TypeError,
      '"maxSessions" must be an integer, got the string "10".',
    );
    expectBadInput(
      'option',
      'clientSessions({ maxBytes: 100 })',
      () => clientSessions({ maxBytes: 100 }),
      RangeError,
      /"maxBytes" must be between 4096 and 17179869184 bytes, got 100./,
    );
    expectBadInput(
      'option',
      'clientSessions({ maxLifetimeSeconds: 604801 })',
      () => clientSessions({ maxLifetimeSeconds: 604801 }),
      RangeError,
      /"maxLifetimeSeconds" must be between 1 and 604800 seconds/,
    );
    expectBadInput(
      'option',
      'clientSessions({ ticketsPerUpstrem: 4 })',
      () => clientSessions({ ticketsPerUpstrem: 4 } as never),
      TypeError,
      'Unknown option "options.ticketsPerUpstrem". Did you mean "options.ticketsPerUpstream"?',
    );
    expectBadInput(
      'option',
      'sessions.install({})',
      () => clientSessions().install({} as never),
      TypeError,
      '"agent" must be an instance of https.Agent, got an object.',
    );
  });
});
