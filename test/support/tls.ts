/**
 * Real TLS on loopback for the tests: servers that answer one byte and close, and a client that
 * reports whether it resumed and hands back the newest session it was given.
 */

import * as http2 from 'node:http2';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';

import { selfSignedCertificate } from '../../src/ops/certificate';

/**
 * The test certificate. Child processes and cluster workers inherit it through the environment:
 * every member of a real fleet serves one certificate, and the derived session-ID context covers it.
 */
export const cert: { key: string; cert: string } = process.env.TLS_RESUMPTION_TEST_CERT
  ? JSON.parse(process.env.TLS_RESUMPTION_TEST_CERT)
  : selfSignedCertificate('localhost');
process.env.TLS_RESUMPTION_TEST_CERT ??= JSON.stringify(cert);

export type Version = 'TLSv1.2' | 'TLSv1.3';

export interface ServerOptions extends tls.TlsOptions {
  /** Shorthand for SSL_OP_NO_TICKET in secureOptions. */
  noTickets?: boolean;
}

function secureOptions(o: ServerOptions): tls.TlsOptions {
  const { noTickets, ...rest } = o;
  const base: tls.TlsOptions = { key: cert.key, cert: cert.cert, ...rest };
  if (noTickets) base.secureOptions = (rest.secureOptions ?? 0) | require('node:constants').SSL_OP_NO_TICKET;
  return base;
}

export async function listen<T extends tls.Server>(server: T): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

export function close(server: tls.Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A `serve(server)` that listens on loopback and returns the port; every server it started is closed after each test of the file. */
export function servedPerTest(): <T extends tls.Server>(server: T) => Promise<number> {
  const servers: tls.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => close(s)));
  });
  return (server) => {
    servers.push(server);
    return listen(server);
  };
}

/** A tls.Server that writes "ok" and ends each connection. */
export function tlsServer(o: ServerOptions = {}): tls.Server {
  return tls.createServer(secureOptions(o), (socket) => socket.resume().end('ok'));
}

export function httpsServer(o: ServerOptions = {}): https.Server {
  return https.createServer(secureOptions(o), (_req, res) => res.end('ok'));
}

export function http2Server(o: ServerOptions = {}): http2.Http2SecureServer {
  const server = http2.createSecureServer({ ...(secureOptions(o) as http2.SecureServerOptions), allowHTTP1: true });
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  return server;
}

export interface ConnectResult {
  reused: boolean;
  /** The newest session the client's 'session' event gave. */
  session: Buffer | undefined;
  protocol: string | null;
  /**
   * `getSession()` when the handshake completed: the only way a Node client sees a TLS 1.2
   * ticket the server renewed on resumption (OpenSSL skips the client new-session callback on a
   * resumed TLS 1.2 handshake, so no 'session' event comes).
   */
  sessionAtHandshake: Buffer | undefined;
  /** 'session' events: on TLS 1.3, the NewSessionTicket messages the server sent. */
  tickets: number;
}

export interface ConnectOptions {
  version?: Version;
  /** Accept any version from the first to the second (instead of `version`). */
  range?: [Version, Version];
  session?: Buffer;
  servername?: string;
  /** Client refuses tickets (no ticket extension): TLS 1.2 session IDs only. */
  noTicket?: boolean;
  /** A client certificate to present when the server asks for one. */
  clientCert?: { key: string; cert: string };
  /** Told each NSS key log line of the connection (the client's 'keylog' event). */
  keylog?: (line: Buffer) => void;
}

/** One TLS connection: handshake, read to the end, report reuse and the newest session. */
export function connect(port: number, o: ConnectOptions = {}): Promise<ConnectResult> {
  return new Promise((resolve, reject) => {
    let session: Buffer | undefined;
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: o.servername ?? 'localhost',
      rejectUnauthorized: false,
      session: o.session,
      minVersion: o.range?.[0] ?? o.version,
      maxVersion: o.range?.[1] ?? o.version,
      secureOptions: o.noTicket ? require('node:constants').SSL_OP_NO_TICKET : 0,
      ...o.clientCert,
    });
    let reused = false;
    let protocol: string | null = null;
    let sessionAtHandshake: Buffer | undefined;
    let tickets = 0;
    socket.on('session', (s: Buffer) => {
      session = s;
      tickets++;
    });
    if (o.keylog) socket.on('keylog', o.keylog);
    socket.on('secureConnect', () => {
      reused = socket.isSessionReused();
      protocol = socket.getProtocol();
      sessionAtHandshake = socket.getSession();
      // https servers wait for a request; plain tls test servers ignore it and close.
      socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    socket.on('data', () => undefined);
    socket.on('error', reject);
    socket.on('close', () => resolve({ reused, session, protocol, sessionAtHandshake, tickets }));
  });
}

/**
 * `count` connections in a row, each offering the session the previous one got. Returns how
 * many resumed (the first never can).
 */
export async function resumeChain(port: number, count: number, o: ConnectOptions = {}): Promise<number> {
  let session: Buffer | undefined;
  let resumed = 0;
  for (let i = 0; i < count; i++) {
    const r = await connect(port, { ...o, session });
    if (r.reused) resumed++;
    session = r.session ?? session;
  }
  return resumed;
}

/** An HTTP/2 request over a fresh connection; reports whether TLS resumed. */
export function http2Request(port: number, o: ConnectOptions = {}): Promise<ConnectResult> {
  return new Promise((resolve, reject) => {
    let newest: Buffer | undefined;
    let tickets = 0;
    let socket: tls.TLSSocket | undefined;
    const client = http2.connect(`https://localhost:${port}`, {
      createConnection: () => {
        socket = tls.connect({
          host: '127.0.0.1',
          port,
          servername: 'localhost',
          rejectUnauthorized: false,
          ALPNProtocols: ['h2'],
          session: o.session,
          minVersion: o.version,
          maxVersion: o.version,
        });
        socket.on('session', (s: Buffer) => {
          newest = s;
          tickets++;
        });
        return socket;
      },
    });
    client.on('error', reject);
    const req = client.request({ ':path': '/' });
    req.on('data', () => undefined);
    req.on('end', () => {
      const reused = socket!.isSessionReused();
      const protocol = socket!.getProtocol();
      const sessionAtHandshake = socket!.getSession();
      client.close(() => resolve({ reused, session: newest, protocol, sessionAtHandshake, tickets }));
    });
    req.end();
  });
}

/** One connection made by `connect` (e.g. through a client session cache): writes a byte, resolves when it closes. */
export function closedRoundTrip(connect: () => tls.TLSSocket): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect();
    socket.on('secureConnect', () => socket.write('x'));
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}
