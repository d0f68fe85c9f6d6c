import * as tls from 'node:tls';

import { attach } from '../../src/server/attach';
import { close, http2Request, http2Server, httpsServer, listen, resumeChain, tlsServer } from '../support/tls';

describe('attach: OpenSSL server session cache on Node contexts', () => {
  let server: tls.Server | undefined;
  afterEach(async () => {
    await close(server);
    server = undefined;
  });

  test('TLS 1.2, tickets off: stock Node never resumes by session ID', async () => {
    server = tlsServer({ noTickets: true });
    const port = await listen(server);
    expect(await resumeChain(port, 5, { version: 'TLSv1.2' })).toBe(0);
  });

  test('TLS 1.2, tickets off: attached, every later connection resumes and counters are exact', async () => {
    server = tlsServer({ noTickets: true });
    const cache = attach(server, { cache: { enabled: true, size: 100, timeoutSeconds: 300 } });
    const port = await listen(server);
    expect(await resumeChain(port, 6, { version: 'TLSv1.2' })).toBe(5);
    const s = cache.stats();
    expect(s.hits).toBe(5);
    expect(s.accepts).toBe(6);
    expect(s.acceptsGood).toBe(6);
    expect(s.misses).toBe(0);
    expect(s.sessions).toBe(1);
    expect(s.settings.cache).toEqual({ enabled: true, mode: 0x2 | (s.settings.cache.mode & 1), size: 100, timeoutSeconds: 300 });
  });

  test('TLS 1.2: a client without the ticket extension resumes by session ID even with tickets on', async () => {
    server = tlsServer();
    const cache = attach(server);
    const port = await listen(server);
    expect(await resumeChain(port, 4, { version: 'TLSv1.2', noTicket: true })).toBe(3);
    expect(cache.stats().hits).toBe(3);
  });

  test('TLS 1.3, tickets off: stateful tickets from the cache resume', async () => {
    server = tlsServer({ noTickets: true });
    const stockPort = await listen(server);
    expect(await resumeChain(stockPort, 3, { version: 'TLSv1.3' })).toBe(0);
    const cache = attach(server, { tickets: { enabled: false } });
    expect(await resumeChain(stockPort, 5, { version: 'TLSv1.3' })).toBe(4);
    expect(cache.stats().hits).toBe(4);
  });

  test('TLS 1.3 and 1.2 with tickets on keep resuming as before', async () => {
    server = tlsServer();
    const cache = attach(server, { tickets: { enabled: true, tls13Count: 1 } });
    const port = await listen(server);
    expect(await resumeChain(port, 4, { version: 'TLSv1.3' })).toBe(3);
    expect(await resumeChain(port, 4, { version: 'TLSv1.2' })).toBe(3);
    expect(cache.stats().settings.tickets).toEqual({ enabled: true, tls13Count: 1, pskKe: false });
  });

  test('tickets.enabled false switches a stock server to no tickets (TLS 1.2 then resumes by ID)', async () => {
    server = tlsServer();
    const cache = attach(server, { tickets: { enabled: false } });
    const port = await listen(server);
    expect(await resumeChain(port, 3, { version: 'TLSv1.2' })).toBe(2);
    expect(cache.stats().hits).toBe(2);
    expect(cache.stats().settings.tickets.enabled).toBe(false);
  });

  test('https and http2 secure servers', async () => {
    const h = httpsServer({ noTickets: true });
    const cacheH = attach(h);
    const hp = await listen(h);
    expect(await resumeChain(hp, 3, { version: 'TLSv1.2' })).toBe(2);
    expect(cacheH.stats().hits).toBe(2);
    await close(h);

    const h2 = http2Server({ noTickets: true });
    const cache2 = attach(h2);
    const p2 = await listen(h2);
    let session: Buffer | undefined;
    let resumed = 0;
    for (let i = 0; i < 3; i++) {
      const r = await http2Request(p2, { session, version: 'TLSv1.3' });
      if (r.reused) resumed++;
      session = r.session ?? session;
    }
    expect(resumed).toBe(2);
    expect(cache2.stats().hits).toBe(2);
    await close(h2);
  });

  test('attaching twice returns the same handle and reconfigures it', async () => {
    server = tlsServer();
    const a = attach(server, { cache: { size: 10 } });
    const b = attach(server, { cache: { timeoutSeconds: 60 } });
    expect(b).toBe(a);
    expect(a.stats().settings.cache.size).toBe(10);
    expect(a.stats().settings.cache.timeoutSeconds).toBe(60);
    const sc = tls.createSecureContext({});
    expect(attach(sc)).toBe(attach(sc));
  });

  test('configure changes one field live and keeps the rest', async () => {
    server = tlsServer({ noTickets: true });
    const cache = attach(server, { cache: { size: 100, timeoutSeconds: 120 } });
    cache.configure({ cache: { size: 5000 } });
    expect(cache.stats().settings.cache).toMatchObject({ size: 5000, timeoutSeconds: 120, enabled: true });
    cache.configure({ cache: { enabled: false } });
    const port = await listen(server);
    expect(await resumeChain(port, 3, { version: 'TLSv1.2' })).toBe(0);
  });
});
