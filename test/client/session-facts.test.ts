/**
 * The cache reads a session's protocol, lifetime hint, timeout, ticket and session ID from its
 * bytes without decoding the server certificate inside (src/client/session-facts.ts): checked
 * against OpenSSL's own decoder (d2i_SSL_SESSION, the native inspectSession) on sessions from
 * real connections (TLS 1.3 tickets, TLS 1.2 tickets, TLS 1.2 session IDs, this Node's envelope),
 * and damaged bytes are refused.
 */
import type * as tls from 'node:tls';

import { clientSessions } from '../../src/client';
import { sessionFacts, withoutPeerCertificate } from '../../src/client/session-facts';
import { native } from '../../src/common/native';
import { cert, close, connect, listen, tlsServer, type Version } from '../support/tls';

let server: tls.Server;
let port: number;
beforeAll(async () => {
  server = tlsServer({ sessionTimeout: 1234 });
  port = await listen(server);
});
afterAll(() => close(server));

test.each([
  ['TLSv1.3', false],
  ['TLSv1.2', false],
  ['TLSv1.2', true],
] as Array<[Version, boolean]>)('%s (no ticket: %s): the same facts as d2i_SSL_SESSION', async (version, noTicket) => {
  const { session } = await connect(port, { version, noTicket });
  const facts = sessionFacts(session!);
  const openssl = native.inspectSession(session!)!;
  expect(facts).toEqual({
    protocol: openssl.protocol,
    lifetimeHintSeconds: openssl.lifetimeHintSeconds,
    timeoutSeconds: openssl.timeoutSeconds,
    hasTicket: openssl.hasTicket,
    sessionIdLength: openssl.sessionIdLength,
  });
  expect(facts).toMatchObject({ protocol: version, hasTicket: !noTicket, lifetimeHintSeconds: noTicket ? 0 : 1234 });
  if (version === 'TLSv1.2') expect(facts!.sessionIdLength).toBe(noTicket ? 32 : facts!.sessionIdLength);
});

test('damaged or foreign bytes are not a session', async () => {
  const { session } = await connect(port, { version: 'TLSv1.3' });
  const s = session!;
  expect(sessionFacts(Buffer.alloc(0))).toBeUndefined();
  expect(sessionFacts(Buffer.from('not a session'))).toBeUndefined();
  expect(sessionFacts(s.subarray(0, s.length - 1))).toBeUndefined();
  expect(sessionFacts(Buffer.concat([s, Buffer.from([0])]))).toBeUndefined();
  // Every single-byte truncation and a flipped length byte: refused, never a throw.
  for (let n = 0; n < s.length; n += 37) expect(sessionFacts(s.subarray(0, n))).toBeUndefined();
  const flipped = Buffer.from(s);
  const at = s.indexOf(0x30);
  flipped[at + 1] = flipped[at + 1]! ^ 0x01;
  expect(sessionFacts(flipped)).toBeUndefined();
});

test('a TLS 1.3 session without the server certificate: OpenSSL decodes it with the same facts; TLS 1.2 sessions and non-sessions are returned as they are', async () => {
  const { session } = await connect(port, { version: 'TLSv1.3' });
  const stripped = withoutPeerCertificate(session!);
  expect(stripped.length).toBeLessThan(session!.length - 100);
  expect(sessionFacts(stripped)).toEqual(sessionFacts(session!));
  expect(native.inspectSession(stripped)).toEqual(native.inspectSession(session!));
  expect(withoutPeerCertificate(stripped)).toBe(stripped);
  const junk = Buffer.from('not a session');
  expect(withoutPeerCertificate(junk)).toBe(junk);
});

test.each(['TLSv1.3', 'TLSv1.2'] as Version[])(
  '%s through the cache with the certificate verified: the returns resume and are authorized, as with the session Node gave',
  async (version) => {
    const sessions = clientSessions();
    const outcomes: Array<{ reused: boolean; authorized: boolean }> = [];
    // Stock Node sends two TLS 1.3 tickets after a full handshake and none after a resumption; the
    // cache uses each once.
    let afterFull: { sessions: number; bytes: number } | undefined;
    for (let i = 0; i < 3; i++) {
      if (i === 1) afterFull = sessions.stats().cache;
      outcomes.push(
        await new Promise((resolve, reject) => {
          const socket = sessions.connect({
            host: '127.0.0.1',
            port,
            servername: 'localhost',
            ca: cert.cert,
            minVersion: version,
            maxVersion: version,
          });
          let outcome = { reused: false, authorized: false };
          socket.on('secureConnect', () => {
            outcome = { reused: socket.isSessionReused(), authorized: socket.authorized };
            socket.end();
          });
          socket.on('data', () => undefined);
          socket.on('error', reject);
          socket.on('close', () => resolve(outcome));
        }),
      );
    }
    expect(outcomes).toEqual([
      { reused: false, authorized: true },
      { reused: true, authorized: true },
      { reused: true, authorized: true },
    ]);
    // What the cache held after the full handshake: TLS 1.3 sessions without the certificate, TLS 1.2 sessions whole.
    const cache = afterFull!;
    const fromNode = (await connect(port, { version })).session!.length;
    expect(cache.sessions).toBeGreaterThan(0);
    if (version === 'TLSv1.3') expect(cache.bytes / cache.sessions).toBeLessThan(fromNode - 100);
    else expect(cache.bytes / cache.sessions).toBeGreaterThanOrEqual(fromNode - 8);
  },
);
