/**
 * tls-resumption/otel against OpenTelemetry's own SDK: a MeterProvider with a MetricReader
 * (collected on demand, as an exporter's reader is), real TLS connections to attached servers,
 * and the same metrics the Prometheus collector exports (one list, src/ops/metrics.ts).
 */
import type * as tls from 'node:tls';

import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';

import { instrumentSpec, SessionCacheInstruments } from '../../src/entries/otel';
import { KNOWN_METRICS, RESUMPTION_METRICS, SessionCacheMetrics } from '../../src/ops/metrics';
import { attach } from '../../src/server/attach';
import { TicketKeyRing } from '../../src/server/ticket-key-ring';
import { collect, HandReader, point } from '../support/otel';
import { close, listen, resumeChain, tlsServer } from '../support/tls';

describe('tls-resumption/otel: observable instruments read at collection', () => {
  const servers: tls.Server[] = [];
  const providers: MeterProvider[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => close(s)));
    await Promise.all(providers.splice(0).map((p) => p.shutdown()));
  });

  function provider(): { reader: HandReader; provider: MeterProvider } {
    const reader = new HandReader();
    const p = new MeterProvider({ readers: [reader] });
    providers.push(p);
    return { reader, provider: p };
  }

  test('two servers over real TLS 1.2 and 1.3: counters, gauges, units, resumption by protocol and reason', async () => {
    const api = tlsServer({ noTickets: true });
    const web = tlsServer();
    servers.push(api, web);
    const apiCache = attach(api, { cache: { size: 1000, timeoutSeconds: 600 } });
    const webCache = attach(web, { tickets: { keyRing: TicketKeyRing.generate() } });
    const { reader, provider: meterProvider } = provider();
    const instruments = new SessionCacheInstruments({ meterProvider });
    instruments.add(apiCache, 'api').add(webCache, 'web');

    expect(await resumeChain(await listen(api), 4, { version: 'TLSv1.2' })).toBe(3);
    expect(await resumeChain(await listen(web), 3, { version: 'TLSv1.3' })).toBe(2);

    const m = await collect(reader);
    expect(point(m, 'tls_resumption.hits', { server: 'api' })).toBe(3);
    expect(point(m, 'tls_resumption.accepts_good', { server: 'api' })).toBe(4);
    expect(point(m, 'tls_resumption.hits', { server: 'web' })).toBe(2);
    expect(point(m, 'tls_resumption.resumption', { server: 'api' })).toBeCloseTo(3 / 4, 10);
    expect(point(m, 'tls_resumption.timeout', { server: 'api' })).toBe(600);
    expect(point(m, 'tls_resumption.sessions', { server: 'api' })).toBe(1);
    expect(point(m, 'tls_resumption.resumption.resumed', { server: 'api', 'tls.protocol.version': '1.2' })).toBe(3);
    expect(point(m, 'tls_resumption.resumption.resumed', { server: 'web', 'tls.protocol.version': '1.3' })).toBe(2);
    expect(point(m, 'tls_resumption.resumption.offered', { server: 'web', 'tls.protocol.version': '1.3' })).toBe(2);
    expect(point(m, 'tls_resumption.resumption.failed', { server: 'web', 'tls.protocol.version': '1.3', reason: 'unknownKey' })).toBe(0);
    expect(point(m, 'tls_resumption.session_age.count', { server: 'web', 'tls.protocol.version': '1.3' })).toBe(2);
    expect(point(m, 'tls_resumption.tickets.issued', { server: 'web' })).toBe(webCache.stats().tickets!.issued);

    // OpenTelemetry's conventions: units out of names, counters monotonic sums without _total.
    const d = (name: string) => m.get(name)!.descriptor;
    expect(d('tls_resumption.hits')).toMatchObject({ unit: '{handshake}', description: KNOWN_METRICS.hits!.help });
    expect(d('tls_resumption.timeout').unit).toBe('s');
    expect(d('tls_resumption.resumption').unit).toBe('1');
    expect(d('tls_resumption.tickets.issued').unit).toBe('{ticket}');
    expect(d('tls_resumption.session_age.sum').unit).toBe('s');
    expect(d('tls_resumption.resumption.failed').description).toBe(RESUMPTION_METRICS.failed.help);
    for (const [name, metric] of m) {
      expect(name).toMatch(/^tls_resumption\.[a-z0-9_.]+$/);
      expect(name).not.toMatch(/_total$|_seconds$|_milliseconds$|_bytes$/);
      if (metric.dataPointType === 1 /* SUM */) expect((metric as { isMonotonic?: boolean }).isMonotonic).toBe(true);
    }
  });

  test('the same metrics as the Prometheus collector, from the one list: every prom series has its instrument with the same value', async () => {
    const srv = tlsServer();
    servers.push(srv);
    const cache = attach(srv, { tickets: { keyRing: TicketKeyRing.generate() } });
    const registry = new Registry();
    const prom = new SessionCacheMetrics({ registry, prefix: 'tls_resumption_' });
    prom.add(cache, 'api');
    const { reader, provider: meterProvider } = provider();
    new SessionCacheInstruments({ meterProvider }).add(cache, 'api');
    expect(await resumeChain(await listen(srv), 3, { version: 'TLSv1.2' })).toBe(2);

    const m = await collect(reader);
    const promMetrics = await registry.getMetricsAsJSON();
    let compared = 0;
    for (const pm of promMetrics) {
      if (pm.type === ('histogram' as never)) continue;
      for (const v of pm.values as Array<{ labels: Record<string, string | number>; value: number }>) {
        if (v.labels.server !== 'api' || v.labels.protocol !== undefined) continue;
        const path = Object.entries(KNOWN_METRICS).find(([, s]) => `tls_resumption_${s.name}` === pm.name)?.[0];
        const spec = path
          ? instrumentSpec(KNOWN_METRICS[path]!, path)
          : pm.name === 'tls_resumption_resumption_ratio'
            ? instrumentSpec(RESUMPTION_METRICS.ratio, '')
            : undefined;
        if (!spec) continue;
        expect({ name: spec.name, value: point(m, spec.name, { server: 'api' }) }).toEqual({ name: spec.name, value: v.value });
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(20);
    prom.unregister();
  });

  test('stats() is read once per server per collection, never between; a detached server leaves; close() stops observing', async () => {
    const srv = tlsServer();
    servers.push(srv);
    const cache = attach(srv);
    let reads = 0;
    const source = {
      stats: () => {
        reads++;
        return cache.stats();
      },
      _resumptionDetail: () => cache._resumptionDetail(),
      get attached() {
        return cache.attached;
      },
      once: cache.once.bind(cache),
      off: cache.off.bind(cache),
    };
    const { reader, provider: meterProvider } = provider();
    const instruments = new SessionCacheInstruments({ meterProvider });
    instruments.add(source, 'api');
    const afterAdd = reads;
    expect(await resumeChain(await listen(srv), 3, { version: 'TLSv1.3' })).toBe(2);
    expect(reads).toBe(afterAdd); // handshakes read nothing
    await collect(reader);
    expect(reads).toBe(afterAdd + 1);
    await collect(reader);
    expect(reads).toBe(afterAdd + 2);

    // Detached: no longer observed (the SDK keeps a cumulative series' last point; nothing new is read).
    cache.detach();
    const before = reads;
    await collect(reader);
    expect(reads).toBe(before);

    const other = tlsServer();
    servers.push(other);
    const otherCache = attach(other);
    instruments.add(otherCache, 'other');
    const m = await collect(reader);
    expect(point(m, 'tls_resumption.accepts_good', { server: 'other' })).toBe(0);
    instruments.close();
    expect(await resumeChain(await listen(other), 2, { version: 'TLSv1.3' })).toBe(1);
    const after = await collect(reader);
    expect([undefined, 0]).toContain(point(after, 'tls_resumption.accepts_good', { server: 'other' })); // closed: not read again
    expect(() => instruments.add(cache, 'x')).toThrow('SessionCacheInstruments.add: closed.');
  });

  test('bad input: clear errors with a stable code, naming the field and what it accepts; nothing half-made', () => {
    const { provider: meterProvider } = provider();
    const bad = (fn: () => unknown, code: string, message: string) => {
      let err: (Error & { code?: string }) | undefined;
      try {
        fn();
      } catch (e) {
        err = e as Error & { code?: string };
      }
      expect({ code: err?.code, message: err?.message }).toEqual({ code, message });
    };
    bad(() => new SessionCacheInstruments(null as never), 'ERR_INVALID_ARG_TYPE', '"options" must be an object, got null.');
    bad(
      () => new SessionCacheInstruments({ meterProvider, prefix: '9bad' }),
      'ERR_INVALID_ARG_VALUE',
      '"prefix" must be empty or a string matching [a-zA-Z][a-zA-Z0-9_.-]*, got "9bad".',
    );
    bad(
      () => new SessionCacheInstruments({ meterProvider, attributeName: '' }),
      'ERR_INVALID_ARG_TYPE',
      '"attributeName" must be a non-empty string, got the string "".',
    );
    bad(
      () => new SessionCacheInstruments({ meterProvider, meter: 5 as never }),
      'ERR_INVALID_ARG_TYPE',
      '"meter" must be an object, got the number 5.',
    );
    expect(() => new SessionCacheInstruments({ meterProvider, prefx: 'a' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_RESUMPTION_UNKNOWN_OPTION' }),
    );
    const instruments = new SessionCacheInstruments({ meterProvider });
    bad(() => instruments.add({} as never, 'a'), 'ERR_INVALID_ARG_TYPE', '"cache" must be a handle returned by attach(), got an object.');
    bad(
      () => instruments.add({ stats: () => ({}) }, ''),
      'ERR_INVALID_ARG_TYPE',
      '"server" must be a non-empty string, got the string "".',
    );
    instruments.add({ stats: () => ({}) }, 'a');
    bad(() => instruments.add({ stats: () => ({}) }, 'a'), 'ERR_INVALID_ARG_VALUE', '"server" must be a name not already added, got "a".');
  });
});
