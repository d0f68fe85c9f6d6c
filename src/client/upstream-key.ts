/**
 * The key a client session is filed under: the peer (host, port or socket path, servername) and
 * every TLS option that changes whom the session may be used with or what it proves (trust
 * anchors, client identity, protocol versions, ciphers, ALPN, verification). Two connections
 * share sessions only when every one of these is equal, so a session never goes to another peer
 * or carries another client identity. Secret options (the client key, a passphrase) enter only
 * through SHA-256: the key and the label keep nothing that could be read back.
 */
import { createHash, type Hash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import * as tls from 'node:tls';

import { contextOptionNames } from './secure-contexts';

/**
 * The TLS options that take part in the key, besides the peer. Node's https.Agent names most of
 * them in its getName(); ALPNProtocols and checkServerIdentity are added (another ALPN list or
 * another identity check is another use of the session), and so is every option the running
 * Node's `tls.createSecureContext` reads (`keyedOptionNames()`: allowPartialTrustChain, ...). A
 * resumed connection is not verified again (Node skips checkServerIdentity, and a TLS 1.3
 * session filed without its certificate reports `authorized`), so whatever decides the verdict
 * must be here.
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
  'allowPartialTrustChain',
  'minDHSize',
  'pskCallback',
  'secureContext',
] as const;

let keyedNames: readonly string[] | undefined;

/** SESSION_KEY_OPTIONS and every option name `tls.createSecureContext` reads on this Node line, sorted, once per process. */
export function keyedOptionNames(): readonly string[] {
  keyedNames ??= [...new Set<string>([...SESSION_KEY_OPTIONS, ...contextOptionNames().names])]
    .filter((name) => name !== 'rejectUnauthorized')
    .sort();
  return keyedNames;
}

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

/**
 * Objects that cannot be hashed by value get a number for the life of the process, under a
 * random prefix of this process: another process's (or the previous run's) first SecureContext
 * or checkServerIdentity is another object, and must not meet ours in a shared store.
 */
const localIds = new WeakMap<object, number>();
let nextLocalId = 1;
const PROCESS_PREFIX = randomBytes(16).toString('hex');

function localId(value: object): string {
  let id = localIds.get(value);
  if (id === undefined) {
    id = nextLocalId++;
    localIds.set(value, id);
  }
  return `${PROCESS_PREFIX}.${id}`;
}

/**
 * An option as tls.connect sees it: it copies the own enumerable properties (`{ ...options }`),
 * so an inherited one is not given.
 */
function given(o: Record<string, unknown>, name: string): unknown {
  return Object.prototype.propertyIsEnumerable.call(o, name) ? o[name] : undefined;
}

/**
 * Whether Node verifies the server: tls.connect's default is `!(NODE_TLS_REJECT_UNAUTHORIZED === '0')`,
 * read from the environment at each call, and an own `rejectUnauthorized` (even undefined) replaces it.
 */
function verifies(o: Record<string, unknown>): boolean {
  if (Object.prototype.propertyIsEnumerable.call(o, 'rejectUnauthorized')) return o.rejectUnauthorized !== false;
  return process.env.NODE_TLS_REJECT_UNAUTHORIZED !== '0';
}

type CaApi = typeof tls & { getCACertificates?: (type: string) => readonly string[] };
const defaultCaDigests = new WeakMap<object, string>();
let processDefaultCa: string | undefined;

/**
 * What the default CA set (used when no `ca` is given) is, as a digest: Node 22 and later list it
 * (`tls.getCACertificates('default')`, one frozen array until `setDefaultCACertificates` replaces
 * it), with NODE_EXTRA_CA_CERTS and --use-system-ca in it. Node 20 cannot list it: what it is made
 * of, read once (the flags that choose the store, NODE_EXTRA_CA_CERTS and that file).
 */
function defaultCaDigest(): string {
  const list = (tls as CaApi).getCACertificates;
  if (typeof list === 'function') {
    const set = list('default');
    let digest = defaultCaDigests.get(set);
    if (digest === undefined) {
      const h = createHash('sha256');
      for (const pem of set) h.update(`${Buffer.byteLength(pem)}:`).update(pem);
      digest = h.digest('hex');
      defaultCaDigests.set(set, digest);
    }
    return digest;
  }
  if (processDefaultCa === undefined) {
    const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].filter((a) => /^--use-\w+-ca$/.test(a));
    const extra = process.env.NODE_EXTRA_CA_CERTS;
    let extraPem = '';
    try {
      if (extra) extraPem = fs.readFileSync(extra, 'latin1');
    } catch {
      // Node ignored it too (a warning at startup).
    }
    processDefaultCa = createHash('sha256')
      .update(
        JSON.stringify([process.versions.openssl, flags.sort(), process.env.SSL_CERT_FILE, process.env.SSL_CERT_DIR, extra, extraPem]),
      )
      .digest('hex');
  }
  return processDefaultCa;
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
  /** The name a given `socket` was connected to (net's `_host`), which Node checks the certificate against when neither `servername` nor `host` is given. */
  socketHost: string | undefined;
}

/** Where a connection goes, as tls.connect would go there (a given `socket` names its remote end). */
export function peerOf(options: tls.ConnectionOptions): Peer {
  const socket = options.socket as { remoteAddress?: string; remotePort?: number; _host?: unknown } | undefined;
  const host = options.host ?? socket?.remoteAddress ?? 'localhost';
  const port = Number(options.port ?? socket?.remotePort ?? 443);
  const path = typeof options.path === 'string' ? options.path : undefined;
  const socketHost = typeof socket?._host === 'string' ? socket._host : undefined;
  return { host, port, path, servername: typeof options.servername === 'string' ? options.servername : '', socketHost };
}

/** The key of the upstream `options` connect to. */
export function upstreamKey(options: tls.ConnectionOptions): UpstreamKey {
  const peer = peerOf(options);
  const sink: Sink = { hash: createHash('sha256'), text: '', portable: true };
  feed(sink, [peer.host, peer.port, peer.path ?? null, peer.servername, peer.socketHost ?? null]);
  const o = options as Record<string, unknown>;
  feed(sink, verifies(o));
  // The default CA set is what verifies when neither `ca` nor a SecureContext is given.
  feed(sink, given(o, 'ca') === undefined && given(o, 'secureContext') === undefined ? defaultCaDigest() : null);
  let identity = false;
  // Only the options given, by name: the key does not change with the names a Node line knows.
  for (const name of keyedOptionNames()) {
    const value = given(o, name);
    if (value === undefined) continue;
    feed(sink, name);
    feed(sink, value);
    if (!PLAIN.has(name)) identity = true;
  }
  const digest = sink.hash.update(sink.text).digest();
  const id = digest.toString('hex');
  const where = peer.path ?? `${isIP(peer.host) === 6 ? `[${peer.host}]` : peer.host}:${peer.port}`;
  const label = `${where}${peer.servername && peer.servername !== peer.host ? `/${peer.servername}` : ''}${identity ? `#${id.slice(0, 8)}` : ''}`;
  return { digest, id, label, portable: sink.portable };
}
