/**
 * The SecureContext reuse of the outbound cache (secure-contexts.ts) must build a new context
 * whenever a connection's context options differ from the ones a cached context was built from,
 * as Node's own tls.connect (a new context per connection) would see them.
 */
import * as tls from 'node:tls';

import { clientSessions } from '../../src/client';
import { selfSignedCertificate } from '../../src/ops/certificate';
import { close, listen } from '../support/tls';

test('a `ca` Buffer changed in place after a connection used it: the next connection trusts the new bytes', async () => {
  const served = selfSignedCertificate('localhost');
  const other = selfSignedCertificate('localhost');
  const server = tls.createServer({ key: served.key, cert: served.cert, maxVersion: 'TLSv1.2' }, (s) => s.end('x'));
  const port = await listen(server);
  const sessions = clientSessions();
  const ca = Buffer.alloc(Math.max(served.cert.length, other.cert.length), ' ');
  const attempt = () =>
    new Promise<string>((resolve) => {
      // The session key hashes the bytes: the second connection has no session and verifies in full.
      const socket = sessions.connect({ host: '127.0.0.1', port, servername: 'localhost', ca });
      socket.on('secureConnect', () => resolve('authorized'));
      socket.on('data', () => undefined);
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(String(err.code)));
    });
  try {
    ca.write(served.cert);
    expect(await attempt()).toBe('authorized');
    ca.fill(' ');
    ca.write(other.cert);
    // Stock tls.connect with this Buffer now refuses the server; a context built from the old bytes accepts it.
    expect(await attempt()).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  } finally {
    sessions.close();
    await close(server);
  }
});
