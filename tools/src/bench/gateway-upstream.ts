/**
 * The Node upstream of the gateway and psk_ke benchmarks (gateway.ts, psk-ke.ts), in a process of
 * its own so its CPU is read from /proc apart from the clients': this package attached with
 * OpenSSL's cache and a ticket key ring (a new TLS 1.3 ticket on every resumption, as nginx).
 * Environment: UPSTREAM_HANDSHAKE_ONLY=1 makes it a tls.Server that writes one byte and closes
 * each connection once its handshake is done (else an https server answering "ok" with `connection: close`);
 * UPSTREAM_PSK_KE=1 sets `tickets.pskKe`; UPSTREAM_KEY and UPSTREAM_CERT (PEM, the leaf and its
 * chain) replace the self-signed certificate. Reports `{ port }` over IPC.
 */
import * as https from 'node:https';
import * as tls from 'node:tls';

import { attach, selfSignedCertificate, TicketKeyRing } from '../library';

const cert =
  process.env.UPSTREAM_KEY && process.env.UPSTREAM_CERT
    ? { key: process.env.UPSTREAM_KEY, cert: process.env.UPSTREAM_CERT }
    : selfSignedCertificate('localhost');
const server =
  process.env.UPSTREAM_HANDSHAKE_ONLY === '1'
    ? // One byte before the end: a Node 22 server that ends a TLS 1.3 connection without writing
      // never delivers its session tickets (the client gets none; Node 26 does deliver them).
      tls.createServer(cert, (socket) => socket.end('x'))
    : https.createServer(cert, (_req, res) => {
        res.setHeader('connection', 'close');
        res.end('ok');
      });
const cache = attach(server, { tickets: { keyRing: TicketKeyRing.generate(), pskKe: process.env.UPSTREAM_PSK_KE === '1' } });
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
process.on('disconnect', () => {
  cache.detach();
  server.close();
  process.exit(0);
});
