/**
 * SecureContext reuse in the outbound cache, against real TLS servers on loopback: one context per
 * option set in every integration (tls.connect, https.Agent, undici/fetch, http2.connect), never
 * shared across option sets that differ, names createSecureContext does not read costing nothing,
 * a name it reads that the discovery missed keyed from its first read on, errors as stock.
 */
import * as https from 'node:https';
import * as tls from 'node:tls';

import * as undici from 'undici';
import { clientSessions } from '../../src/client';
import { contextOptionNames, SecureContextCache } from '../../src/client/secure-contexts';
import { selfSignedCertificate } from '../../src/ops/certificate';
import { expectBadInput } from '../support/bad-inputs';
import { cert, http2Server, httpsServer, servedPerTest, tlsServer } from '../support/tls';

const serve = servedPerTest();

interface Outcome {
  error: (Error & { code?: string }) | undefined;
  protocol: string | null;
  cipher: string | undefined;
  group: string | undefined;
}

/** One connection: handshake, a byte each way, close; reports the error (if any) as the user sees it. */
function attempt(connect: (options: tls.ConnectionOptions) => tls.TLSSocket, options: tls.ConnectionOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { error: undefined, protocol: null, cipher: undefined, group: undefined };
    let socket: tls.TLSSocket;
    try {
      socket = connect({ host: '127.0.0.1', servername: 'localhost', ...options });
    } catch (err) {
      resolve({ ...out, error: err as Error });
      return;
    }
    socket.on('secureConnect', () => {
      out.protocol = socket.getProtocol();
      out.cipher = socket.getCipher()?.name;
      out.group = (socket.getEphemeralKeyInfo() as { name?: string } | null)?.name;
      socket.write('x');
    });
    socket.on('data', () => undefined);
    socket.on('error', (err) => (out.error ??= err));
    socket.on('close', () => resolve(out));
  });
}

const trusted = { ca: cert.cert, rejectUnauthorized: true };

test('discovery: the option names this Node line reads when it builds a context', () => {
  const found = contextOptionNames();
  expect(found.enumerates).toBe(false);
  for (const name of [
    'ca',
    'cert',
    'key',
    'pfx',
    'passphrase',
    'ciphers',
    'minVersion',
    'maxVersion',
    'ecdhCurve',
    'sigalgs',
    'secureOptions',
    'crl',
  ]) {
    expect(found.names).toContain(name);
  }
  // None of the per-connection names: they reach the TLSSocket, not the context.
  for (const name of ['servername', 'session', 'ALPNProtocols', 'checkServerIdentity', 'rejectUnauthorized', 'host', 'port']) {
    expect(found.names).not.toContain(name);
  }
});

describe('one context per option set, in every integration', () => {
  test('tls.connect: the same options reuse one context; each differing set gets its own', async () => {
    const port = await serve(tlsServer());
    const sessions = clientSessions();
    const connect = (o: tls.ConnectionOptions) => sessions.connect(o);
    for (let i = 0; i < 3; i++) expect((await attempt(connect, { port, ...trusted })).error).toBeUndefined();
    expect(sessions.stats().contexts).toMatchObject({ created: 1, reused: 2, stock: 0, size: 1 });
    // Each of these differs from the set above in one context option: a context of its own each.
    const variants: tls.ConnectionOptions[] = [
      { ...trusted, ca: [cert.cert] },
      { ...trusted, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256', maxVersion: 'TLSv1.2' },
      { ...trusted, minVersion: 'TLSv1.3' },
      { ...trusted, ecdhCurve: 'P-256' },
      { ...trusted, sigalgs: 'ecdsa_secp256r1_sha256' },
    ];
    for (const v of variants) expect((await attempt(connect, { port, ...v })).error).toBeUndefined();
    expect(sessions.stats().contexts).toMatchObject({ created: 1 + variants.length, reused: 2 });
    // And each takes effect on the wire as it would without the cache.
    expect((await attempt(connect, { port, ...trusted, ecdhCurve: 'P-256', maxVersion: 'TLSv1.2' })).group).toBe('prime256v1');
    const tls12 = await attempt(connect, { port, ...trusted, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256', maxVersion: 'TLSv1.2' });
    expect(tls12).toMatchObject({ protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
    expect(sessions.stats().contexts.reused).toBe(3);
    sessions.close();
  });

  test('https.Agent, undici (fetch) and http2.connect each reuse one context with no option left unknown', async () => {
    const port = await serve(httpsServer());
    const h2port = await serve(http2Server());
    const viaAgent = clientSessions();
    const agent = viaAgent.agent({ keepAlive: false, ...trusted });
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) =>
        https
          .get({ host: '127.0.0.1', port, servername: 'localhost', path: `/?${i}`, agent, headers: { 'x-n': String(i) } }, (res) =>
            res.resume().on('end', resolve),
          )
          .on('error', reject),
      );
    }
    expect(viaAgent.stats().contexts).toMatchObject({ created: 1, reused: 2, stock: 0, learnedOptions: [] });

    const viaFetch = clientSessions();
    const dispatcher = new undici.Agent({ connect: viaFetch.connector({ ...trusted }), pipelining: 0 });
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`https://localhost:${port}/`, { dispatcher, headers: { connection: 'close' } } as unknown as RequestInit);
      await res.arrayBuffer();
    }
    await dispatcher.close();
    expect(viaFetch.stats().contexts).toMatchObject({ created: 1, stock: 0, learnedOptions: [] });
    expect(viaFetch.stats().contexts.reused).toBeGreaterThanOrEqual(1);

    const viaH2 = clientSessions();
    for (let i = 0; i < 3; i++) {
      const client = viaH2.http2Connect(`https://localhost:${h2port}`, { ...trusted, peerMaxConcurrentStreams: 10 });
      await new Promise<void>((resolve, reject) => {
        client.on('error', reject);
        const req = client.request({ ':path': '/' });
        req.on('data', () => undefined);
        req.on('end', () => client.close(() => resolve()));
        req.end();
      });
    }
    expect(viaH2.stats().contexts).toMatchObject({ created: 1, reused: 2, stock: 0, learnedOptions: [] });
    for (const s of [viaAgent, viaFetch, viaH2]) s.close();
  });
});

describe('client certificates: a context never carries another identity', () => {
  test('a server that requires a client certificate sees the right client on every connection', async () => {
    const alice = selfSignedCertificate('alice');
    const bob = selfSignedCertificate('bob');
    const seen: string[] = [];
    const server = tls.createServer(
      { key: cert.key, cert: cert.cert, requestCert: true, rejectUnauthorized: true, ca: [alice.cert, bob.cert] },
      (socket) => {
        seen.push(String(socket.getPeerCertificate().subject?.CN));
        socket.resume().end('ok');
      },
    );
    const port = await serve(server);
    const sessions = clientSessions({ maxSecureContexts: 1 });
    const connect = (o: tls.ConnectionOptions) => sessions.connect(o);
    // TLS 1.2 with tickets off on neither side still presents the certificate on a full handshake;
    // a session given back under another identity would show the wrong CN (or none).
    const order = ['alice', 'bob', 'alice', 'alice', 'bob', 'bob'];
    for (const who of order) {
      const id = who === 'alice' ? alice : bob;
      expect((await attempt(connect, { port, ...trusted, key: id.key, cert: id.cert, maxVersion: 'TLSv1.2' })).error).toBeUndefined();
    }
    // Resumed connections report the certificate of the session's full handshake: the same client.
    expect(seen).toEqual(order);
    const c = sessions.stats().contexts;
    expect(c.created).toBe(4); // the bound of 1 drops each identity's context when the other comes
    expect(c.reused).toBe(2);
    expect(c.evicted).toBe(3);
    expect(JSON.stringify(sessions.stats())).not.toContain('PRIVATE');
    sessions.close();
  });
});

describe('errors are stock errors', () => {
  const stockConnect = (o: tls.ConnectionOptions) => tls.connect(o);

  test('self-signed, wrong CA and hostname mismatch fail as without the cache, also on a reused context', async () => {
    const port = await serve(tlsServer());
    const sessions = clientSessions();
    const connect = (o: tls.ConnectionOptions) => sessions.connect(o);
    const other = selfSignedCertificate('localhost');
    const cases: tls.ConnectionOptions[] = [
      { port, rejectUnauthorized: true },
      { port, ca: other.cert, rejectUnauthorized: true },
      { port, ...trusted, servername: 'other.test' },
    ];
    for (const options of cases) {
      const stock = await attempt(stockConnect, options);
      expect(stock.error).toBeDefined();
      for (let i = 0; i < 2; i++) {
        const mine = await attempt(connect, options);
        expect(mine.error?.code).toBe(stock.error?.code);
        expect(mine.error?.message).toBe(stock.error?.message);
      }
    }
    // The right CA right after the wrong one: another context, and it verifies.
    expect((await attempt(connect, { port, ...trusted })).error).toBeUndefined();
    expect(sessions.stats().contexts.reused).toBeGreaterThanOrEqual(3);
    sessions.close();
  });

  test('options Node refuses throw Node’s own error; the connection is counted as stock', async () => {
    const sessions = clientSessions();
    const options = { port: 1, host: '127.0.0.1', ca: 42 } as unknown as tls.ConnectionOptions;
    let stockError: (Error & { code?: string }) | undefined;
    try {
      tls.connect(options).destroy();
    } catch (err) {
      stockError = err as Error;
    }
    expect(stockError?.code).toBe('ERR_INVALID_ARG_TYPE');
    expect(() => sessions.connect(options).destroy()).toThrow(
      expect.objectContaining({ code: stockError?.code, message: stockError?.message }),
    );
    expect(sessions.stats().contexts).toMatchObject({ created: 0, stock: 1 });
    sessions.close();
  });
});

describe('option names: read or not, known or not', () => {
  test('names createSecureContext does not read (a library’s own fields) cost nothing: one context, reused', async () => {
    const port = await serve(tlsServer());
    const sessions = clientSessions();
    const connect = (o: tls.ConnectionOptions) => sessions.connect(o);
    // What axios (through follow-redirects) and got put into the options an https.Agent hands to tls.connect.
    const library = {
      notAnOption: 1,
      maxRedirects: 21,
      maxBodyLength: 1e6,
      beforeRedirect: () => undefined,
      agents: {},
      cacheHeuristic: 0.1,
    };
    for (let i = 0; i < 3; i++)
      expect((await attempt(connect, { port, ...trusted, ...library } as tls.ConnectionOptions)).error).toBeUndefined();
    expect(sessions.stats().contexts).toMatchObject({ created: 1, reused: 2, unshared: 0, stock: 0, learnedOptions: [] });
    sessions.close();
  });

  test('a name the discovery missed (`ca` here) is keyed from its first read: two CAs never share, a wrong one fails as stock', async () => {
    const port = await serve(tlsServer());
    const found = contextOptionNames();
    // Stands for a Node line whose createSecureContext reads `ca` only in a branch the probes miss.
    const contexts = new SecureContextCache(8, { names: found.names.filter((n) => n !== 'ca'), enumerates: false });
    const kinds: string[] = [];
    const used: (tls.SecureContext | undefined)[] = [];
    const connect = (o: tls.ConnectionOptions) => {
      const choice = contexts.contextFor(o);
      kinds.push(choice.kind);
      used.push(choice.context);
      return tls.connect(choice.context ? { ...o, secureContext: choice.context } : o);
    };
    const wrong = { port, ca: selfSignedCertificate('localhost').cert, rejectUnauthorized: true };
    const stockWrong = await attempt((o) => tls.connect(o), wrong);
    expect(stockWrong.error?.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    const outcomes: Outcome[] = [];
    for (const options of [{ port, ...trusted }, wrong, { port, ...trusted }, wrong, { port, ...trusted }])
      outcomes.push(await attempt(connect, options));
    // The first build reads `ca`: from then on it is in the key, and that context serves its own connection only.
    expect(kinds).toEqual(['unshared', 'created', 'created', 'reuse', 'reuse']);
    expect(outcomes.map((o) => o.error?.code)).toEqual([undefined, stockWrong.error?.code, undefined, stockWrong.error?.code, undefined]);
    expect(outcomes[1]?.error?.message).toBe(stockWrong.error?.message);
    expect(outcomes[3]?.error?.message).toBe(stockWrong.error?.message);
    expect(used[3]).toBe(used[1]);
    expect(used[4]).toBe(used[2]);
    expect(used[1]).not.toBe(used[2]);
    expect(contexts.stats()).toMatchObject({ created: 2, reused: 2, unshared: 1, stock: 0, size: 2, learnedOptions: ['ca'] });
    contexts.close();
  });

  test('a name read only in a branch: keyed once a build takes the branch; contexts cached before are dropped, not wrongly shared', async () => {
    const port = await serve(tlsServer());
    const nodeTls = require('node:tls') as { createSecureContext: typeof tls.createSecureContext };
    const original = nodeTls.createSecureContext;
    // What a future Node line could do: read a name only on one path (here a wrapper the cache and Node both call).
    nodeTls.createSecureContext = (o) => {
      const options = o as tls.SecureContextOptions & { branchOnly?: string };
      if (options?.minVersion === 'TLSv1.3' && options.branchOnly === 'refuse') throw new Error('branchOnly refused');
      return original(o);
    };
    const sessions = clientSessions();
    const connect = (o: tls.ConnectionOptions) => sessions.connect(o);
    const branch = (branchOnly: string) => ({ port, ...trusted, minVersion: 'TLSv1.3', branchOnly }) as tls.ConnectionOptions;
    try {
      expect((await attempt(connect, { port, ...trusted })).error).toBeUndefined();
      expect(sessions.stats().contexts).toMatchObject({ created: 1, learnedOptions: [] });
      // The first build down the branch reads the name: keyed from now on, the context cached before dropped.
      expect((await attempt(connect, branch('ok'))).error).toBeUndefined();
      expect(sessions.stats().contexts).toMatchObject({ created: 1, unshared: 1, evicted: 1, size: 0, learnedOptions: ['branchOnly'] });
      for (let i = 0; i < 2; i++) expect((await attempt(connect, branch('ok'))).error).toBeUndefined();
      // Differing only in that name: never the context of 'ok', and Node's own path throws its error.
      expect(() => connect(branch('refuse'))).toThrow('branchOnly refused');
      expect((await attempt(connect, { port, ...trusted })).error).toBeUndefined();
    } finally {
      nodeTls.createSecureContext = original;
    }
    expect(sessions.stats().contexts).toMatchObject({
      created: 3,
      reused: 1,
      unshared: 1,
      stock: 1,
      evicted: 1,
      size: 2,
      learnedOptions: ['branchOnly'],
    });
    sessions.close();
  });

  test('a build that looks at the options’ shape (a createSecureContext wrapper spreading them): that option set is never reused', async () => {
    const port = await serve(tlsServer());
    const nodeTls = require('node:tls') as { createSecureContext: typeof tls.createSecureContext };
    const original = nodeTls.createSecureContext;
    // As instrumentation wrappers do: every key of the options object reaches the real function.
    let wrapped = 0;
    nodeTls.createSecureContext = (o) => {
      wrapped++;
      return original({ ...o });
    };
    const sessions = clientSessions();
    const connect = (o: tls.ConnectionOptions) => sessions.connect(o);
    try {
      for (let i = 0; i < 2; i++) expect((await attempt(connect, { port, ...trusted })).error).toBeUndefined();
      const wrongCa = await attempt(connect, { port, ca: selfSignedCertificate('localhost').cert, rejectUnauthorized: true });
      expect(wrongCa.error?.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    } finally {
      nodeTls.createSecureContext = original;
    }
    // Each set: one build by the cache (it saw the spread), then Node's own per connection.
    expect(sessions.stats().contexts).toMatchObject({ created: 0, reused: 0, unshared: 0, stock: 3, size: 0, learnedOptions: [] });
    expect(wrapped).toBe(2 + 3);
    // Without the wrapper, another option set is cached as usual; the set seen spread stays with Node.
    for (let i = 0; i < 2; i++) expect((await attempt(connect, { port, ...trusted, minVersion: 'TLSv1.3' })).error).toBeUndefined();
    expect((await attempt(connect, { port, ...trusted })).error).toBeUndefined();
    expect(sessions.stats().contexts).toMatchObject({ created: 1, reused: 1, stock: 4 });
    sessions.close();
  });

  test('a secureContext of the user’s is used as given; maxSecureContexts: 0 leaves every connection to Node', async () => {
    const port = await serve(tlsServer());
    const sessions = clientSessions();
    const own = tls.createSecureContext({ ca: cert.cert });
    expect((await attempt((o) => sessions.connect(o), { port, ...trusted, secureContext: own })).error).toBeUndefined();
    expect(sessions.stats().contexts).toMatchObject({ created: 0, reused: 0, stock: 0, userProvided: 1 });
    sessions.close();

    const off = clientSessions({ maxSecureContexts: 0 });
    for (let i = 0; i < 2; i++) expect((await attempt((o) => off.connect(o), { port, ...trusted })).error).toBeUndefined();
    expect(off.stats().contexts).toMatchObject({ created: 0, stock: 2, size: 0, max: 0 });
    off.close();
  });

  test('process-wide defaults are part of the key: tls.DEFAULT_MAX_VERSION changed takes effect', async () => {
    const port = await serve(tlsServer());
    const sessions = clientSessions();
    const connect = (o: tls.ConnectionOptions) => sessions.connect(o);
    expect((await attempt(connect, { port, ...trusted })).protocol).toBe('TLSv1.3');
    // Node's module object itself (an import namespace is read-only).
    const nodeTls = require('node:tls') as { DEFAULT_MAX_VERSION: tls.SecureVersion };
    const saved = nodeTls.DEFAULT_MAX_VERSION;
    nodeTls.DEFAULT_MAX_VERSION = 'TLSv1.2';
    try {
      expect((await attempt(connect, { port, ...trusted })).protocol).toBe('TLSv1.2');
    } finally {
      nodeTls.DEFAULT_MAX_VERSION = saved;
    }
    expect((await attempt(connect, { port, ...trusted })).protocol).toBe('TLSv1.3');
    expect(sessions.stats().contexts).toMatchObject({ created: 2, reused: 1 });
    sessions.close();
  });
});

test('maxSecureContexts: bad values name the field and the range', () => {
  expectBadInput(
    'option',
    'clientSessions({ maxSecureContexts: -1 })',
    () => clientSessions({ maxSecureContexts: -1 }),
    RangeError,
    /maxSecureContexts.*0.*65536/,
  );
  expectBadInput(
    'option',
    "clientSessions({ maxSecureContexts: '8' })",
    () => clientSessions({ maxSecureContexts: '8' as unknown as number }),
    TypeError,
    /maxSecureContexts/,
  );
});
