/**
 * What differs between the Node lines, as this package depends on it (docs/node-lines.md). Each
 * test asserts the running line's behaviour with real connections, so `npm run test:lines`
 * proves every row of that table on every line.
 */
import * as crypto from 'node:crypto';
import type * as tls from 'node:tls';
import { attach, TicketKeyRing } from '../src';
import { native } from '../src/common/native';
import { onceChain } from './support/once';
import { close, connect, listen, resumeChain, tlsServer } from './support/tls';

const major = Number(process.versions.node.split('.')[0]);
const V13 = { version: 'TLSv1.3' as const };
const V12 = { version: 'TLSv1.2' as const };

let server: tls.Server | undefined;
afterEach(async () => {
  await close(server);
  server = undefined;
});

/** The server-side session ('newSession' carries it) made for a client that sent `servername`. */
async function serverSession(sessionIdContext: string, servername: string | undefined): Promise<Buffer> {
  server = tlsServer({ sessionIdContext, noTickets: true, maxVersion: 'TLSv1.2' });
  let der: Buffer | undefined;
  server.on('newSession', (_id: Buffer, data: Buffer, done: () => void) => {
    der = data;
    done();
  });
  const port = await listen(server);
  await connect(port, { ...V12, servername });
  await close(server);
  server = undefined;
  return der!;
}

describe(`Node ${process.version} (OpenSSL ${process.versions.openssl})`, () => {
  test('stock Node: single-use TLS 1.3 clients resume every other connection, TLS 1.2 session IDs never', async () => {
    server = tlsServer();
    const port = await listen(server);
    expect(await onceChain(port, 6, V13)).toBe(3);
    await close(server);
    server = tlsServer({ noTickets: true });
    const port2 = await listen(server);
    expect(await resumeChain(port2, 4, V12)).toBe(0);
  });

  test('session-ID context of a server session: the string on 20 and 26, SHA-256(string, NUL, SNI name) on 22 and 24', async () => {
    for (const servername of ['localhost', 'other.example']) {
      const info = native.inspectSession(await serverSession('svc', servername))!;
      const hashed = crypto.createHash('sha256').update(`svc\0${servername}`).digest();
      const expected = major === 22 || major === 24 ? hashed : Buffer.from('svc');
      expect(info.sessionIdContext.toString('hex')).toBe(expected.toString('hex'));
    }
  });

  test("client sessions: bare DER on 20, wrapped with the server's name on 22, 24 and 26", async () => {
    server = tlsServer();
    const port = await listen(server);
    const { session } = await connect(port, { ...V12, servername: 'localhost' });
    const prefix = Buffer.from('\0nodejs:tls:session:1\0');
    const wrapped = session!.subarray(0, prefix.length).equals(prefix);
    expect(wrapped).toBe(major >= 22);
    // inspectSession reads both forms.
    expect(native.inspectSession(session!)).toMatchObject({ protocol: 'TLSv1.2', hasTicket: true });
  });

  test("the ring's evp ticket callback replaces Node's, and detach puts Node's back (an evp callback on 24 and 26)", async () => {
    server = tlsServer();
    const cache = attach(server, { tickets: { enabled: true, keyRing: TicketKeyRing.generate() } });
    const port = await listen(server);
    expect(await onceChain(port, 4, V13)).toBe(3); // the ring renews TLS 1.3 tickets
    cache.detach();
    expect(await onceChain(port, 6, V13)).toBe(3); // Node's callback again: no renewal
  });
});
