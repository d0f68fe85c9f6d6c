/**
 * Client session caches through OpenTelemetry's own SDK: real TLS connections through
 * `clientSessions()`, collected by a MetricReader; the same list of metrics as the Prometheus
 * collector (CLIENT_METRICS), so both exports agree point for point.
 */
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';

import { clientSessions } from '../../src/client';
import { ClientSessionInstruments } from '../../src/entries/otel';
import { CLIENT_METRICS, ClientSessionMetrics } from '../../src/ops/client-metrics';
import { collect, HandReader, point } from '../support/otel';
import { close, closedRoundTrip, listen, tlsServer } from '../support/tls';

test('per-upstream counters, refusals by reason and the store level, as the Prometheus collector exports them', async () => {
  const server = tlsServer({ maxVersion: 'TLSv1.2' });
  const port = await listen(server);
  const reader = new HandReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  try {
    const sessions = clientSessions();
    const instruments = new ClientSessionInstruments({ meterProvider }).add(sessions, 'outbound');
    for (let i = 0; i < 3; i++) {
      await closedRoundTrip(() => sessions.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }));
    }
    const upstream = `127.0.0.1:${port}/localhost`;
    const m = await collect(reader);
    expect(point(m, 'tls_resumption.client.connections', { cache: 'outbound', upstream })).toBe(3);
    expect(point(m, 'tls_resumption.client.resumed', { cache: 'outbound', upstream })).toBe(2);
    expect(point(m, 'tls_resumption.client.full', { cache: 'outbound', upstream })).toBe(1);
    expect(point(m, 'tls_resumption.client.refused', { cache: 'outbound', upstream, reason: 'declined' })).toBe(0);
    expect(point(m, 'tls_resumption.client.sessions', { cache: 'outbound' })).toBe(1);
    expect(m.get('tls_resumption.client.connections')?.descriptor.unit).toBe('{connection}');
    expect(m.get('tls_resumption.client.bytes')?.descriptor.unit).toBe('By');

    // Every metric of the one list is an instrument, and its points equal Prometheus's.
    const registry = new Registry();
    new ClientSessionMetrics({ registry }).add(sessions, 'outbound');
    const prom = await registry.getMetricsAsJSON();
    for (const spec of CLIENT_METRICS) {
      const otelName = `tls_resumption.client.${spec.name.replace(/_total$/, '')}`;
      expect(m.has(otelName)).toBe(true);
      const promMetric = prom.find((p) => p.name === `tls_resumption_client_${spec.name}`);
      for (const v of (promMetric as unknown as { values: { labels: Record<string, string>; value: number }[] }).values) {
        expect({ otelName, labels: v.labels, value: point(m, otelName, v.labels) }).toEqual({ otelName, labels: v.labels, value: v.value });
      }
    }

    // Removed: a further connection is no longer observed (the SDK keeps a cumulative counter's last point).
    instruments.remove(sessions);
    await closedRoundTrip(() => sessions.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }));
    expect(sessions.stats().connections).toBe(4);
    expect(point(await collect(reader), 'tls_resumption.client.connections', { cache: 'outbound', upstream })).not.toBe(4);
    instruments.close();
  } finally {
    await meterProvider.shutdown();
    await close(server);
  }
});

test('per cache only, and bad input refused with a code', async () => {
  const reader = new HandReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  try {
    const sessions = clientSessions();
    const instruments = new ClientSessionInstruments({ meterProvider, perUpstream: false, prefix: 'out.' }).add(sessions, 'a');
    const m = await collect(reader);
    expect(point(m, 'out.connections', { cache: 'a' })).toBe(0);
    expect(() => instruments.add(sessions, 'a')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('cache label "a" is already in use') }),
    );
    expect(() => instruments.add({} as never, 'b')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    instruments.close();
    expect(() => new ClientSessionInstruments({ meterProvider, perUpstream: 'yes' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"perUpstream" must be a boolean') }),
    );
    expect(() => new ClientSessionInstruments({ meterProvider, prefix: '1x' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => new ClientSessionInstruments({ meterProvider, perUpstrem: true } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_RESUMPTION_UNKNOWN_OPTION' }),
    );
    expect(() => new ClientSessionMetrics({ registry: new Registry(), prefix: 'a b' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
  } finally {
    await meterProvider.shutdown();
  }
});
