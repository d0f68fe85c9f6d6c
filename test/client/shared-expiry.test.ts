/**
 * The outbound cache's shared store wipes a session from its file when the session's lifetime
 * passes, whether or not a connection asks for it again: a store at a path is on disk, and a
 * resumption secret must not outlive its session there.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { clientSessions } from '../../src/client';
import { withoutPeerCertificate } from '../../src/client/session-facts';
import { cert, close, listen, tlsServer, type Version } from '../support/tls';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsc-client-expiry-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test.each(['TLSv1.2', 'TLSv1.3'] as Version[])('%s: an expired session leaves the file without another connection', async (version) => {
  // Lifetime 1 s: the session timeout, which Node's server also announces as the ticket lifetime.
  const server = tlsServer({ sessionTimeout: 1, minVersion: version, maxVersion: version });
  const port = await listen(server);
  const file = path.join(dir, version);
  const sessions = clientSessions({ shared: { path: file, sizeBytes: 1024 * 1024, slotBytes: 2048 } });
  try {
    const received: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const socket = sessions.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: cert.cert });
      socket.on('session', (s: Buffer) => received.push(s));
      socket.on('data', () => undefined);
      socket.on('error', reject);
      socket.on('close', () => resolve());
    });
    expect(received.length).toBeGreaterThan(0);
    const inFile = () => {
      const bytes = fs.readFileSync(file);
      return received.filter((r) => bytes.includes(r) || bytes.includes(withoutPeerCertificate(r))).length;
    };
    expect(inFile()).toBe(received.length);
    expect(sessions.stats().shared?.entries).toBe(received.length);
    // The file keeps whole seconds: gone within 3 s, with no connection in between.
    const until = Date.now() + 3500;
    while (inFile() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 250));
    expect(inFile()).toBe(0);
    expect(sessions.stats().shared).toMatchObject({ entries: 0, expiries: received.length });
  } finally {
    sessions.close();
    await close(server);
  }
});
