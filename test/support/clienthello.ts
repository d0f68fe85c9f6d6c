/**
 * A loopback TCP relay that reads each connection's ClientHello, records which extensions it
 * carries, and then relays bytes both ways to the real server unchanged. Lets a test see what a
 * client sent on the wire without touching either TLS stack.
 */
import * as net from 'node:net';

export const EXT_SESSION_TICKET = 0x0023;
export const EXT_PRE_SHARED_KEY = 0x0029;

export interface ClientHelloInfo {
  /** Length of the legacy session ID the client offered. */
  sessionIdLength: number;
  /** Extension types, in order. */
  extensions: number[];
  /** Bytes of the session_ticket extension (0: empty, asking for a ticket). */
  ticketLength: number;
}

/** Parses a ClientHello from the first TLS record(s); undefined until complete. */
export function parseClientHello(buf: Buffer): ClientHelloInfo | undefined {
  if (buf.length < 9 || buf[0] !== 0x16) return undefined;
  const recordLength = buf.readUInt16BE(3);
  if (buf.length < 5 + recordLength) return undefined;
  const hs = buf.subarray(5, 5 + recordLength);
  if (hs[0] !== 0x01) throw new Error('not a ClientHello');
  let o = 4 + 2 + 32; // handshake header, legacy_version, random
  const sessionIdLength = hs[o]!;
  o += 1 + sessionIdLength;
  o += 2 + hs.readUInt16BE(o); // cipher suites
  o += 1 + hs[o]!; // compression methods
  const end = o + 2 + hs.readUInt16BE(o);
  o += 2;
  const extensions: number[] = [];
  let ticketLength = -1;
  while (o + 4 <= end) {
    const type = hs.readUInt16BE(o);
    const len = hs.readUInt16BE(o + 2);
    extensions.push(type);
    if (type === EXT_SESSION_TICKET) ticketLength = len;
    o += 4 + len;
  }
  return { sessionIdLength, extensions, ticketLength };
}

/** Starts the relay in front of `targetPort`; `hellos` fills as clients connect. */
export async function helloRelay(targetPort: number): Promise<{ port: number; hellos: ClientHelloInfo[]; close(): Promise<void> }> {
  const hellos: ClientHelloInfo[] = [];
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    sockets.add(client);
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    let pending: Buffer | undefined = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      if (pending) {
        pending = Buffer.concat([pending, chunk]);
        const info = parseClientHello(pending);
        if (info) {
          hellos.push(info);
          pending = undefined;
        }
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('end', () => upstream.end());
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', () => client.end());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    port: (relay.address() as net.AddressInfo).port,
    hellos,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        relay.close(() => resolve());
      }),
  };
}
