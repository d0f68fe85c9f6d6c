/**
 * One TLS 1.3 client connection on loopback as the benchmarks count tickets: offers `session`,
 * sends one HTTP request (an https server answers and closes; a tls server that reads and ends
 * ignores it) and reports whether it resumed and the NewSessionTickets it got ('session' events).
 */
import * as tls from 'node:tls';

import { loopbackTls13Options } from './loopback-client';

/** One TLS 1.3 connection offering `session`: whether it resumed, the newest ticket and how many came ('session' events). */
export function connectOnce(
  port: number,
  session: Buffer | undefined,
): Promise<{ reused: boolean; session: Buffer | undefined; tickets: number }> {
  return new Promise((resolve, reject) => {
    let newest: Buffer | undefined;
    let tickets = 0;
    const socket = tls.connect({ ...loopbackTls13Options(port), session });
    let reused = false;
    socket.on('session', (s: Buffer) => {
      newest = s;
      tickets++;
    });
    socket.on('secureConnect', () => {
      reused = socket.isSessionReused();
      // An https server answers (and closes, with Connection: close); a tls test server ignores it.
      socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    socket.on('data', () => undefined);
    socket.on('error', reject);
    socket.on('close', () => resolve({ reused, session: newest, tickets }));
  });
}
