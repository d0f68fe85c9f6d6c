/**
 * The client side of a TLS 1.3 connection to a loopback test server (its self-signed certificate
 * names `localhost`): one literal for the benchmarks (psk_ke, tickets, browser bursts) and their tests.
 */
import type * as tls from 'node:tls';

/** Options of a TLS 1.3 connection to `127.0.0.1:port`; `ecdhCurve` unset keeps Node's default groups. */
export function loopbackTls13Options(port: number, ecdhCurve?: string): tls.ConnectionOptions {
  return {
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    rejectUnauthorized: false,
    minVersion: 'TLSv1.3',
    ...(ecdhCurve ? { ecdhCurve } : {}),
  };
}
