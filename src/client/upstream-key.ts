/**
 * The key a client session is filed under: the peer (host, port or socket path, servername) and
 * every TLS option that changes whom the session may be used with or what it proves (trust
 * anchors, client identity, protocol versions, ciphers, ALPN, verification). Two connections
 * share sessions only when every one of these is equal, so a session never goes to another peer
 * or carries another client identity. Secret options (the client key, a passphrase) enter only
 * through SHA-256: the key and the label keep nothing that could be read back.
 */
import { createHash, type Hash } from 'node:crypto';
import { isIP } from 'node:net';
import type * as tls from 'node:tls';

/**
 * The TLS options that take part in the key, besides the peer. Node's https.Agent names most of
 * them in its getName(); ALPNProtocols and checkServerIdentity are added (another ALPN list or
 * another identity check is another use of the session).
 */
export const SESSION_KEY_OPTIONS = [
  'ca',
  'cert',
  'key',
  'pfx',
  'passphrase',
  'crl',
  'ciphers',
  'sigalgs',
  'ecdhCurve',
  'minVersion',
  'maxVersion',
  'secureProtocol',
  'secureOptions',
  'ALPNProtocols',
  'rejectUnauthorized',
  'checkServerIdentity',
  'clientCertEngine',
  'privateKeyEngine',
  'privateKeyIdentifier',
  'secureContext',
] as const;

/** Options that do not make a label carry the key's hash (the common ones, readable in stats). */
const PLAIN = new Set<string>(['ALPNProtocols', 'rejectUnauthorized', 'minVersion', 'maxVersion']);

/** One upstream as the cache files it. */
export interface UpstreamKey {
  /** SHA-256 over the peer and the options: what the sessions are filed under. */
  digest: Buffer;
  /** `digest` in hex, the map key. */
  id: string;
  /** What stats show: `host:port`, `/servername` when it differs from host, `#<8 hex>` when identity options are set. */
  label: string;
  /** False when an option is a live object (a function, a SecureContext): the key is then only valid in this process. */
  portable: boolean;
}

/** Objects that cannot be hashed by value get a number for the life of the process. */
const localIds = new WeakMap<object, number>();
let nextLocalId = 1;

function localId(value: object): number {
  let id = localIds.get(value);
  if (id === undefined) {
    id = nextLocalId++;
    localIds.set(value, id);
  }
  return id;
}

/**
 * The hash input, built as one string with byte values handed to the hash between its pieces:
 * one `update` for the usual options instead of one per option (this runs on every connection).
 */
interface Sink {
  hash: Hash;
  text: string;
  portable: boolean;
}

/** Feeds one option value into the sink, tagged by type and length so no two values collide. */
function feed(sink: Sink, value: unknown): void {
  if (value === undefined || value === null) {
    sink.text += 'u;';
  } else if (typeof value === 'string') {
    sink.text += `s${Buffer.byteLength(value)}:${value}`;
  } else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    sink.text += `n${String(value)};`;
  } else if (value instanceof Uint8Array) {
    sink.hash.update(`${sink.text}b${value.byteLength}:`).update(value);
    sink.text = '';
  } else if (Array.isArray(value)) {
    sink.text += `a${value.length}[`;
    for (const v of value) feed(sink, v);
    sink.text += ']';
  } else if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const keys = Object.keys(value).sort();
    sink.text += `o${keys.length}{`;
    for (const k of keys) {
      feed(sink, k);
      feed(sink, (value as Record<string, unknown>)[k]);
    }
    sink.text += '}';
  } else if (typeof value === 'object' || typeof value === 'function') {
    // A SecureContext or a verification function: equal only to itself.
    sink.portable = false;
    sink.text += `l${localId(value)};`;
  } else {
    sink.text += `?${typeof value};`;
  }
}

/** The peer a set of connect options reaches: host, port (or socket path), servername. */
export interface Peer {
  host: string;
  port: number;
  path: string | undefined;
  servername: string;
}

/** Where a connection goes, as tls.connect would go there (a given `socket` names its remote end). */
export function peerOf(options: tls.ConnectionOptions): Peer {
  const socket = options.socket as { remoteAddress?: string; remotePort?: number } | undefined;
  const host = options.host ?? socket?.remoteAddress ?? 'localhost';
  const port = Number(options.port ?? socket?.remotePort ?? 443);
  const path = typeof options.path === 'string' ? options.path : undefined;
  return { host, port, path, servername: typeof options.servername === 'string' ? options.servername : '' };
}

/** The key of the upstream `options` connect to. */
export function upstreamKey(options: tls.ConnectionOptions): UpstreamKey {
  const peer = peerOf(options);
  const sink: Sink = { hash: createHash('sha256'), text: '', portable: true };
  feed(sink, [peer.host, peer.port, peer.path ?? null, peer.servername]);
  let identity = false;
  const o = options as Record<string, unknown>;
  for (const name of SESSION_KEY_OPTIONS) {
    // Node rejects unauthorized peers unless told otherwise: undefined and true are one setting.
    const value = name === 'rejectUnauthorized' ? o[name] !== false : o[name];
    feed(sink, value);
    if (o[name] !== undefined && !PLAIN.has(name)) identity = true;
  }
  const digest = sink.hash.update(sink.text).digest();
  const id = digest.toString('hex');
  const where = peer.path ?? `${isIP(peer.host) === 6 ? `[${peer.host}]` : peer.host}:${peer.port}`;
  const label = `${where}${peer.servername && peer.servername !== peer.host ? `/${peer.servername}` : ''}${identity ? `#${id.slice(0, 8)}` : ''}`;
  return { digest, id, label, portable: sink.portable };
}
