import { execFile } from 'node:child_process';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';

import { attach } from '../../src/server/attach';
import { cert, close, connect, listen, resumeChain, tlsServer } from '../support/tls';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cache size, timeout, flush, detach', () => {
  let server: tls.Server | undefined;
  afterEach(async () => {
    await close(server);
    server = undefined;
  });

  test('size is enforced: sessions never exceed it and cacheFull counts', async () => {
    server = tlsServer({ noTickets: true });
    const cache = attach(server, { cache: { size: 3 } });
    const port = await listen(server);
    for (let i = 0; i < 8; i++) {
      await connect(port, { version: 'TLSv1.2' });
      expect(cache.stats().sessions).toBeLessThanOrEqual(3);
    }
    // OpenSSL 3.0 evicts while sessions >= size after inserting, so it holds size-1 at rest.
    const { sessions, cacheFull } = cache.stats();
    expect(sessions).toBeGreaterThanOrEqual(2);
    expect(cacheFull).toBe(8 - sessions);
  });

  test('timeoutSeconds expires sessions: the next offer is a miss and timeouts grows', async () => {
    server = tlsServer({ noTickets: true });
    const cache = attach(server, { cache: { timeoutSeconds: 1 } });
    const port = await listen(server);
    const first = await connect(port, { version: 'TLSv1.2' });
    await sleep(2200);
    const second = await connect(port, { version: 'TLSv1.2', session: first.session });
    expect(second.reused).toBe(false);
    expect(cache.stats().timeouts).toBe(1);
    expect(cache.stats().hits).toBe(0);
  });

  test('flush drops expired sessions; flush({ all: true }) drops every session', async () => {
    server = tlsServer({ noTickets: true });
    const cache = attach(server, { cache: { timeoutSeconds: 300 } });
    const port = await listen(server);
    const sessions: Buffer[] = [];
    for (let i = 0; i < 4; i++) sessions.push((await connect(port, { version: 'TLSv1.2' })).session!);
    expect(cache.flush()).toBe(0);
    expect(cache.stats().sessions).toBe(4);
    expect(cache.flush({ all: true })).toBe(4);
    expect(cache.stats().sessions).toBe(0);
    expect((await connect(port, { version: 'TLSv1.2', session: sessions[0] })).reused).toBe(false);
  });

  test('flush removes sessions that expired', async () => {
    server = tlsServer({ noTickets: true });
    const cache = attach(server, { cache: { timeoutSeconds: 1, mode: 0x80 } });
    const port = await listen(server);
    await connect(port, { version: 'TLSv1.2' });
    await connect(port, { version: 'TLSv1.2' });
    await sleep(2200);
    expect(cache.flush()).toBe(2);
  });

  test('detach restores exactly what Node had, and session-ID resumption stops', async () => {
    server = tlsServer({ noTickets: true });
    const before = attach(server);
    const nodeSettings = before.nodeSettings;
    expect(nodeSettings.cache.enabled).toBe(false);
    const port = await listen(server);
    expect(await resumeChain(port, 3, { version: 'TLSv1.2' })).toBe(2);
    before.detach();
    expect(() => before.stats()).toThrow('detached');
    expect(await resumeChain(port, 3, { version: 'TLSv1.2' })).toBe(0);
    const again = attach(server, { cache: { enabled: false } });
    expect(again).not.toBe(before);
    expect(again.stats().settings).toEqual(nodeSettings);
    again.detach();
    before.detach(); // idempotent
  });

  test("Node's own 'newSession'/'resumeSession' events keep working beside the internal cache", async () => {
    server = tlsServer({ noTickets: true });
    const store = new Map<string, Buffer>();
    server.on('newSession', (id: Buffer, data: Buffer, cb: () => void) => {
      store.set(id.toString('hex'), data);
      cb();
    });
    server.on('resumeSession', (id: Buffer, cb: (err: Error | null, data?: Buffer | null) => void) =>
      cb(null, store.get(id.toString('hex')) ?? null),
    );
    const cache = attach(server);
    const port = await listen(server);
    const first = await connect(port, { version: 'TLSv1.2' });
    expect(store.size).toBe(1);
    cache.flush({ all: true });
    const second = await connect(port, { version: 'TLSv1.2', session: first.session });
    expect(second.reused).toBe(true);
    expect(cache.stats().callbackHits).toBe(1);
  });
});

describe('contexts that change or go away', () => {
  test('setSecureContext: the attachment follows the new context', async () => {
    const server = tlsServer({ noTickets: true });
    const cache = attach(server, { cache: { size: 50 } });
    const port = await listen(server);
    expect(await resumeChain(port, 2, { version: 'TLSv1.2' })).toBe(1);
    server.setSecureContext({ key: cert.key, cert: cert.cert, secureOptions: require('node:constants').SSL_OP_NO_TICKET });
    const s = cache.stats();
    expect(s.accepts).toBe(0); // counters are the new context's
    expect(s.settings.cache).toMatchObject({ enabled: true, size: 50 });
    expect(await resumeChain(port, 3, { version: 'TLSv1.2' })).toBe(2);
    cache.detach();
    expect(await resumeChain(port, 2, { version: 'TLSv1.2' })).toBe(0);
    await close(server);
  });

  test('SNI: sessions live on the default context while SNICallback switches contexts', async () => {
    const other = tls.createSecureContext({ key: cert.key, cert: cert.cert });
    const server = tlsServer({
      noTickets: true,
      SNICallback: (name, cb) => cb(null, name === 'other.test' ? other : undefined),
    });
    const cache = attach(server);
    const port = await listen(server);
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      expect(await resumeChain(port, 3, { version, servername: 'other.test' })).toBe(2);
    }
    expect(cache.stats().hits).toBe(4);
    await close(server);
  });

  test('dropping every reference and forcing GC never crashes; other servers keep handshaking', async () => {
    const child = path.join(__dirname, '..', 'support', 'gc-child.js');
    const { stdout } = await run(process.execPath, ['--expose-gc', child], { timeout: 60000 });
    expect(JSON.parse(stdout)).toEqual({ resumed: 4, rounds: 20 });
  });

  test('the addon loads and works in worker_threads', async () => {
    const dist = path.join(__dirname, '..', '..', 'dist');
    const worker = new Worker(
      `
      const { parentPort } = require('node:worker_threads');
      const tls = require('node:tls');
      const { attach } = require(${JSON.stringify(dist)});
      // The test certificate is not on the public entry.
      const { selfSignedCertificate } = require(${JSON.stringify(path.join(dist, 'ops', 'certificate'))});
      const c = selfSignedCertificate();
      const server = tls.createServer({ ...c, secureOptions: require('node:constants').SSL_OP_NO_TICKET }, (s) => s.resume().end('ok'));
      const cache = attach(server);
      server.listen(0, '127.0.0.1', () => {
        const port = server.address().port;
        let session; let n = 0;
        const go = () => {
          const s = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, session, maxVersion: 'TLSv1.2' });
          s.on('session', (x) => (session = x));
          s.on('data', () => {});
          s.on('close', () => { if (++n < 3) go(); else { const hits = cache.stats().hits; server.close(() => parentPort.postMessage(hits)); } });
        };
        go();
      });
      `,
      { eval: true },
    );
    const hits = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(hits).toBe(2);
    await worker.terminate();
  });
});
