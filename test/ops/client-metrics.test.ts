/** Prometheus export of a client session cache: real connections, a real prom-client registry scrape. */
import { Registry } from 'prom-client';

import { clientSessions } from '../../src/client';
import { ClientSessionMetrics } from '../../src/ops/client-metrics';
import { close, closedRoundTrip, listen, tlsServer } from '../support/tls';

test('per-upstream counters, refusals by reason and the store level, read at scrape time', async () => {
  const server = tlsServer({ maxVersion: 'TLSv1.2' });
  const port = await listen(server);
  try {
    const sessions = clientSessions();
    const registry = new Registry();
    const metrics = new ClientSessionMetrics({ registry }).add(sessions, 'outbound');
    for (let i = 0; i < 3; i++) {
      await closedRoundTrip(() => sessions.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }));
    }
    const text = await registry.metrics();
    const upstream = `127.0.0.1:${port}/localhost`;
    expect(text).toContain(`tls_resumption_client_connections_total{cache="outbound",upstream="${upstream}"} 3`);
    expect(text).toContain(`tls_resumption_client_resumed_total{cache="outbound",upstream="${upstream}"} 2`);
    expect(text).toContain(`tls_resumption_client_full_total{cache="outbound",upstream="${upstream}"} 1`);
    expect(text).toContain(`tls_resumption_client_refused_total{cache="outbound",upstream="${upstream}",reason="declined"} 0`);
    expect(text).toContain('tls_resumption_client_sessions{cache="outbound"} 1');
    // One SecureContext for the three connections.
    expect(text).toContain('tls_resumption_client_secure_contexts_created_total{cache="outbound"} 1');
    expect(text).toContain('tls_resumption_client_secure_contexts_reused_total{cache="outbound"} 2');
    expect(text).toContain('tls_resumption_client_secure_contexts_unshared_total{cache="outbound"} 0');
    expect(text).toContain('tls_resumption_client_secure_contexts_stock_total{cache="outbound"} 0');
    expect(text).toMatch(/# TYPE tls_resumption_client_offered_total counter/);
    metrics.unregister();
    expect((await registry.metrics()).trim()).toBe('');

    const totals = new ClientSessionMetrics({ registry, perUpstream: false }).add(sessions, 'outbound');
    expect(await registry.metrics()).toContain('tls_resumption_client_connections_total{cache="outbound"} 3');
    expect(() => totals.add(sessions, 'outbound')).toThrow('cache label "outbound" is already in use');
    totals.unregister();
  } finally {
    await close(server);
  }
});
