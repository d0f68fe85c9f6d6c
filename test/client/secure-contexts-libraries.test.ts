/**
 * HTTP client libraries put fields of their own into the request options an https.Agent hands to
 * tls.connect (axios through follow-redirects: maxRedirects, beforeRedirect(s), agents, ...; got:
 * cacheHeuristic, h2session, ...). createSecureContext reads none of them, so they must not cost a
 * context per connection: against a real https server on loopback with a private CA, every
 * connection after the first resumes and reuses one context, and none is left to Node's own.
 */
import type * as https from 'node:https';
import type * as tls from 'node:tls';

import axios from 'axios';
import { clientSessions } from '../../src/client';
import { selfSignedCertificate } from '../../src/ops/certificate';
import { cert, httpsServer, servedPerTest } from '../support/tls';
import { runSupportChild } from '../support/ts-child';

const serve = servedPerTest();
/** A stock TLS 1.3 server gives two tickets per full handshake, each good for one resumption. */
const REQUESTS = 3;

/** An https server that records, per TLS connection, whether it resumed. */
async function recordingServer(): Promise<{ port: number; resumed: boolean[] }> {
  const resumed: boolean[] = [];
  const server: https.Server = httpsServer();
  server.on('secureConnection', (socket: tls.TLSSocket) => resumed.push(socket.isSessionReused()));
  return { port: await serve(server), resumed };
}

test('axios through sessions.agent(): a new connection per request, each after the first resumed, one context', async () => {
  const { port, resumed } = await recordingServer();
  const sessions = clientSessions();
  const httpsAgent = sessions.agent({ keepAlive: false, ca: cert.cert });
  for (let i = 0; i < REQUESTS; i++) {
    const res = await axios.get(`https://localhost:${port}/${i}`, { httpsAgent });
    expect(res.data).toBe('ok');
  }
  expect(resumed).toEqual([false, ...Array(REQUESTS - 1).fill(true)]);
  const s = sessions.stats();
  expect(s).toMatchObject({ connections: REQUESTS, resumed: REQUESTS - 1 });
  expect(s.contexts).toMatchObject({ created: 1, reused: REQUESTS - 1, unshared: 0, stock: 0, learnedOptions: [] });
  sessions.close();
});

test('axios: a wrong CA fails with Node’s error, on a new and on a reused context', async () => {
  const { port } = await recordingServer();
  const sessions = clientSessions();
  const httpsAgent = sessions.agent({ keepAlive: false, ca: selfSignedCertificate('localhost').cert });
  for (let i = 0; i < 2; i++) {
    await expect(axios.get(`https://localhost:${port}/`, { httpsAgent })).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  }
  expect(sessions.stats().contexts).toMatchObject({ created: 1, reused: 1, stock: 0 });
  sessions.close();
});

test('got (ESM, in a plain node process) through sessions.agent(): each connection after the first resumed, one context', async () => {
  const { port, resumed } = await recordingServer();
  const { code, out, err } = await runSupportChild('got-child.ts', [String(port), String(REQUESTS)], {
    ...process.env,
    TLS_RESUMPTION_TEST_CA: cert.cert,
  });
  expect({ code, err }).toEqual({ code: 0, err: '' });
  expect(resumed).toEqual([false, ...Array(REQUESTS - 1).fill(true)]);
  const s = JSON.parse(out);
  expect(s).toMatchObject({ connections: REQUESTS, resumed: REQUESTS - 1 });
  expect(s.contexts).toMatchObject({ created: 1, reused: REQUESTS - 1, unshared: 0, stock: 0, learnedOptions: [] });
});
