import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as tls from 'node:tls';

import { Registry } from 'prom-client';
import { fallbackSpec, flattenStats, KNOWN_METRICS, SessionCacheMetrics } from '../../src/ops/metrics';
import { attach } from '../../src/server/attach';
import { TicketKeyRing } from '../../src/server/ticket-key-ring';
import { close, connect, listen, resumeChain, tlsServer } from '../support/tls';

/** Serves the registry like an app would, and scrapes it over real HTTP. */
async function scrape(registry: Registry): Promise<string> {
  const srv = http.createServer(async (_req, res) => {
    res.setHeader('Content-Type', registry.contentType);
    res.end(await registry.metrics());
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  try {
    return await new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
  } finally {
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}

/** Value of one series in Prometheus text format, undefined if absent. */
function sample(text: string, name: string, server: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{server="${server}"} `));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('metrics: prom-client collector scraped over HTTP', () => {
  const servers: tls.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => close(s)));
  });

  test('two attached servers, told apart by the server label; counters, gauges, ratio, HELP and TYPE', async () => {
    const api = tlsServer({ noTickets: true });
    const web = tlsServer();
    servers.push(api, web);
    const apiCache = attach(api, { cache: { size: 1000, timeoutSeconds: 600 } });
    const webCache = attach(web);
    const registry = new Registry();
    const metrics = new SessionCacheMetrics({ registry });
    metrics.add(apiCache, 'api').add(webCache, 'web');

    const apiPort = await listen(api);
    const webPort = await listen(web);
    expect(await resumeChain(apiPort, 6, { version: 'TLSv1.2' })).toBe(5);
    expect(await resumeChain(webPort, 4, { version: 'TLSv1.3' })).toBe(3);

    const text = await scrape(registry);
    expect(text).toContain('# HELP tls_resumption_hits_total Handshakes that resumed a session');
    expect(text).toContain('# TYPE tls_resumption_hits_total counter');
    expect(text).toContain('# TYPE tls_resumption_sessions gauge');
    expect(text).toContain('# TYPE tls_resumption_timeout_seconds gauge');
    expect(text).toContain('# TYPE tls_resumption_resumption_ratio gauge');

    const a = apiCache.stats();
    expect(sample(text, 'tls_resumption_hits_total', 'api')).toBe(5);
    expect(sample(text, 'tls_resumption_accepts_good_total', 'api')).toBe(6);
    expect(sample(text, 'tls_resumption_accepts_total', 'api')).toBe(a.accepts);
    expect(sample(text, 'tls_resumption_sessions', 'api')).toBe(1);
    expect(sample(text, 'tls_resumption_timeout_seconds', 'api')).toBe(600);
    expect(sample(text, 'tls_resumption_size_limit_sessions', 'api')).toBe(1000);
    expect(sample(text, 'tls_resumption_enabled', 'api')).toBe(1);
    expect(sample(text, 'tls_resumption_tickets_enabled', 'api')).toBe(0);
    expect(sample(text, 'tls_resumption_resumption_ratio', 'api')).toBeCloseTo(5 / 6, 10);

    // TLS 1.3 ticket resumptions count as hits too (ssl_get_prev_session counts every resumption).
    expect(sample(text, 'tls_resumption_hits_total', 'web')).toBe(3);
    expect(sample(text, 'tls_resumption_tickets_enabled', 'web')).toBe(1);
    expect(sample(text, 'tls_resumption_tickets_tls13_per_handshake', 'web')).toBe(2);
    expect(sample(text, 'tls_resumption_resumption_ratio', 'web')).toBeCloseTo(3 / 4, 10);

    // Later handshakes show in the next scrape.
    await resumeChain(apiPort, 2, { version: 'TLSv1.2' });
    const again = await scrape(registry);
    expect(sample(again, 'tls_resumption_accepts_good_total', 'api')).toBe(8);

    // A detached handle leaves the collector by itself.
    webCache.detach();
    const after = await scrape(registry);
    expect(sample(after, 'tls_resumption_hits_total', 'web')).toBeUndefined();
    expect(sample(after, 'tls_resumption_hits_total', 'api')).toBe(6);
    apiCache.detach();
    metrics.unregister();
    expect(await registry.getMetricsAsJSON()).toEqual([]);
  });

  test('resumption through a get-session callback: hits_total already includes callback_hits_total', async () => {
    const server = tlsServer({ noTickets: true });
    servers.push(server);
    const store = new Map<string, Buffer>();
    server.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
      store.set(id.toString('hex'), data);
      done();
    });
    server.on('resumeSession', (id: Buffer, done: (err: null, data: Buffer | null) => void) =>
      done(null, store.get(id.toString('hex')) ?? null),
    );
    const cache = attach(server, { cache: { enabled: false } });
    const registry = new Registry();
    new SessionCacheMetrics({ registry }).add(cache, 'cb');
    const port = await listen(server);
    expect(await resumeChain(port, 4, { version: 'TLSv1.2' })).toBe(3);
    const text = await scrape(registry);
    expect(sample(text, 'tls_resumption_callback_hits_total', 'cb')).toBe(3);
    expect(sample(text, 'tls_resumption_hits_total', 'cb')).toBe(3);
    expect(sample(text, 'tls_resumption_resumption_ratio', 'cb')).toBeCloseTo(3 / 4, 10);
    cache.detach();
  });

  test('the ticket ring group is exported with known names; per-key counters are not', async () => {
    const ring = TicketKeyRing.generate();
    const server = tlsServer();
    servers.push(server);
    const cache = attach(server, { tickets: { keyRing: ring } });
    const registry = new Registry();
    const metrics = new SessionCacheMetrics({ registry, labelName: 'server' });
    metrics.add(cache, 'ring');
    const port = await listen(server);
    await resumeChain(port, 3, { version: 'TLSv1.3' });
    const stats = cache.stats();
    const text = await scrape(registry);
    expect(text).toContain('# TYPE tls_resumption_tickets_issued_total counter');
    expect(text).toContain('# HELP tls_resumption_tickets_issued_total Session tickets encrypted and sent by the key ring.');
    expect(sample(text, 'tls_resumption_tickets_issued_total', 'ring')).toBe(stats.tickets!.issued);
    expect(sample(text, 'tls_resumption_tickets_resumed_total', 'ring')).toBe(2);
    expect(sample(text, 'tls_resumption_tickets_renewed_total', 'ring')).toBe(0); // one key: nothing to renew from
    expect(sample(text, 'tls_resumption_tickets_unknown_key_total', 'ring')).toBe(0);
    expect(text).not.toMatch(/tickets_keys_/);
    metrics.unregister();
    cache.detach();
  });

  test('the shared store group is exported with known names: every field KNOWN_METRICS describes is one stats() has', async () => {
    const server = tlsServer({ noTickets: true });
    servers.push(server);
    const cache = attach(server, { shared: { name: `metrics-${process.pid}`, sizeBytes: 1024 * 1024 } });
    const registry = new Registry();
    const metrics = new SessionCacheMetrics({ registry });
    metrics.add(cache, 'shared');
    const port = await listen(server);
    expect(await resumeChain(port, 3, { version: 'TLSv1.2' })).toBe(2);
    const stats = cache.stats();
    const text = await scrape(registry);
    expect(text).toContain('# HELP tls_resumption_shared_entries Sessions in the cluster-wide shared store.');
    expect(sample(text, 'tls_resumption_shared_entries', 'shared')).toBe(stats.shared!.entries);
    expect(text).toContain('# TYPE tls_resumption_shared_lock_timeouts_total counter');
    expect(text).not.toMatch(/no description known/);
    // Both ways: every stats() field here has a description, and every description names a field.
    const paths = new Set(flattenStats(stats).keys());
    const known = Object.keys(KNOWN_METRICS).filter((p) => !/^(tickets|fleet)\./.test(p));
    expect(known.filter((p) => !paths.has(p))).toEqual([]);
    expect([...paths].filter((p) => !(p in KNOWN_METRICS) && !p.startsWith('sessionIdContext.'))).toEqual([]);
    metrics.unregister();
    cache.flush({ all: true });
    cache.detach();
  });

  test('stats().resumption: offered, resumed and failed{reason} by protocol, and the session-age histogram', async () => {
    const ring = TicketKeyRing.generate();
    const web = tlsServer({ sessionIdContext: 'metrics' });
    const other = tlsServer({ sessionIdContext: 'metrics' });
    servers.push(web, other);
    const cache = attach(web, { tickets: { keyRing: ring } });
    attach(other);
    const registry = new Registry();
    const metrics = new SessionCacheMetrics({ registry });
    metrics.add(cache, 'web');
    const port = await listen(web);
    const otherPort = await listen(other);
    expect(await resumeChain(port, 4, { version: 'TLSv1.3' })).toBe(3);
    expect(await resumeChain(port, 3, { version: 'TLSv1.2' })).toBe(2);
    const foreign = await connect(otherPort, { version: 'TLSv1.2' });
    expect((await connect(port, { version: 'TLSv1.2', session: foreign.session })).reused).toBe(false);

    const text = await scrape(registry);
    const line = (l: string) =>
      Number(
        text
          .split('\n')
          .find((x) => x.startsWith(`${l} `))
          ?.split(' ')
          .pop(),
      );
    expect(text).toContain('# TYPE tls_resumption_resumption_offered_total counter');
    expect(text).toContain('# TYPE tls_resumption_session_age_seconds histogram');
    expect(line('tls_resumption_resumption_offered_total{server="web",protocol="TLSv1.3"}')).toBe(3);
    expect(line('tls_resumption_resumption_resumed_total{server="web",protocol="TLSv1.3"}')).toBe(3);
    expect(line('tls_resumption_resumption_offered_total{server="web",protocol="TLSv1.2"}')).toBe(3);
    expect(line('tls_resumption_resumption_resumed_total{server="web",protocol="TLSv1.2"}')).toBe(2);
    // psk_ke is off: every TLS 1.3 resumption ran a key exchange.
    expect(line('tls_resumption_resumption_resumed_psk_ke_total{server="web",protocol="TLSv1.3"}')).toBe(0);
    expect(line('tls_resumption_resumption_failed_total{server="web",protocol="TLSv1.2",reason="unknownKey"}')).toBe(1);
    expect(line('tls_resumption_resumption_failed_total{server="web",protocol="TLSv1.3",reason="unknownKey"}')).toBe(0);
    // Five resumptions, all within seconds of their full handshake: every one in the first bucket.
    expect(line('tls_resumption_session_age_seconds_bucket{server="web",protocol="TLSv1.3",le="1"}')).toBe(3);
    expect(line('tls_resumption_session_age_seconds_bucket{server="web",protocol="TLSv1.2",le="+Inf"}')).toBe(2);
    expect(line('tls_resumption_session_age_seconds_count{server="web",protocol="TLSv1.2"}')).toBe(2);
    // The stats group itself is not exported a second time without labels.
    expect(text).not.toMatch(/^tls_resumption_resumption_offered_total\{server="web"\} /m);
    expect(text).not.toContain('tls_resumption_resumption_failed_not_found');
    metrics.unregister();
    expect(await registry.getMetricsAsJSON()).toEqual([]);
    cache.detach();
    ring.close();
  });

  test('fallback names and flattening', () => {
    expect(fallbackSpec('tickets.issued')).toMatchObject({ name: 'tickets_issued_total', type: 'counter' });
    expect(fallbackSpec('shared.bytesUsed')).toMatchObject({ name: 'shared_bytes_used', type: 'gauge' });
    expect(fallbackSpec('fleet.writeErrors')).toMatchObject({ name: 'fleet_write_errors_total', type: 'counter' });
    expect(fallbackSpec('settings.shared.sizeBytes')).toMatchObject({ name: 'shared_size_bytes', type: 'gauge' });
    // A setting and a stat with the same key both survive: the later one is named by its full path.
    const registry = new Registry();
    const m = new SessionCacheMetrics({ registry });
    m.add({ stats: () => ({ shared: { sizeBytes: 5 }, settings: { shared: { sizeBytes: 9 } } }) }, 's');
    expect(m.metricNames()).toEqual(
      expect.arrayContaining(['tls_resumption_shared_size_bytes', 'tls_resumption_settings_shared_size_bytes']),
    );
    m.unregister();
    expect([...flattenStats({ a: 1, b: { c: true, d: 'x', e: [1] } })]).toEqual([
      ['a', 1],
      ['b.c', 1],
    ]);
  });

  test('bad input: label in use, bad label name, not a handle', () => {
    const registry = new Registry();
    const m = new SessionCacheMetrics({ registry });
    const src = { stats: () => ({ hits: 1 }) };
    m.add(src, 'x');
    expect(() => m.add(src, 'x')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: '"server" must be a name not already added, got "x".' }),
    );
    expect(() => m.add(src, '')).toThrow(TypeError);
    expect(() => m.add({} as never, 'y')).toThrow(/handle returned by attach/);
    expect(() => new SessionCacheMetrics({ registry: new Registry(), labelName: '1bad' })).toThrow(TypeError);
  });
});
