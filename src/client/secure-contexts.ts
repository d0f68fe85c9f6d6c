/**
 * One `tls.SecureContext` per set of context options, reused by every connection through the
 * client session cache. Without it, each `tls.connect` that gets no `secureContext` (https.Agent
 * and undici make every connection that way) builds a new one: a new SSL_CTX, the root store or
 * `ca` parsed again, `key`/`cert` loaded again. That is most of a client's CPU per connection.
 *
 * Which options feed a context is not written down here: it is read off `tls.createSecureContext`
 * of the running Node, once per process (`contextOptionNames`), so it cannot drift across Node
 * lines. An option name that is neither one of those nor a known per-connection option
 * (`CONNECTION_OPTIONS`) means "not understood": the connection gets Node's own new context, as
 * without this package. docs/client-secure-contexts.md gives the argument why this is safe.
 */
import { createHash } from 'node:crypto';
import * as tls from 'node:tls';

/**
 * Option names Node's clients read per connection, never when building a context: tls.connect's
 * own (lib/_tls_wrap.js, TLSSocket's options), net.connect's, http(s).request's and the Agents'
 * (an https.Agent hands the whole request options to tls.connect), undici's connector and
 * http2.connect's session options (http2 hands them to tls.connect as well). A name on this list
 * that some Node line's createSecureContext also reads is keyed anyway: the discovered names win.
 */
export const CONNECTION_OPTIONS = [
  // tls.connect
  'host',
  'port',
  'path',
  'socket',
  'servername',
  'session',
  'ALPNProtocols',
  'checkServerIdentity',
  'rejectUnauthorized',
  'minDHSize',
  'requestOCSP',
  'enableTrace',
  'pskCallback',
  'highWaterMark',
  'onread',
  'noDelay',
  'keepAlive',
  'keepAliveInitialDelay',
  'allowHalfOpen',
  'timeout',
  'signal',
  'secureContext',
  'singleUse',
  // net.connect
  'localAddress',
  'localPort',
  'family',
  'hints',
  'lookup',
  'autoSelectFamily',
  'autoSelectFamilyAttemptTimeout',
  'blockList',
  'fd',
  'readable',
  'writable',
  // http(s).request, URL fields (urlToHttpOptions), https.Agent and http.Agent
  'agent',
  'auth',
  'createConnection',
  'defaultPort',
  'headers',
  'hostname',
  'insecureHTTPParser',
  'joinDuplicateHeaders',
  'maxHeaderSize',
  'method',
  'protocol',
  'setHost',
  'setDefaultHeaders',
  'socketPath',
  'uniqueHeaders',
  'href',
  'hash',
  'search',
  'pathname',
  'origin',
  'encoding',
  'keepAliveMsecs',
  'maxSockets',
  'maxTotalSockets',
  'maxFreeSockets',
  'maxCachedSessions',
  'scheduling',
  'proxyEnv',
  'agentKeepAliveTimeoutBuffer',
  '_agentKey',
  '_defaultAgent',
  // undici's connector options
  'allowH2',
  // http2.connect session options
  'maxDeflateDynamicTableSize',
  'maxSettings',
  'maxSessionMemory',
  'maxHeaderListPairs',
  'maxOutstandingPings',
  'maxReservedRemoteStreams',
  'maxSendHeaderBlockLength',
  'maxSessionInvalidFrames',
  'maxSessionRejectedStreams',
  'paddingStrategy',
  'peerMaxConcurrentStreams',
  'settings',
  'remoteCustomSettings',
  'unknownProtocolTimeout',
  'strictFieldWhitespaceValidation',
  'strictSingleValueFields',
] as const;

/** What the probes of `tls.createSecureContext` found on this Node line. */
export interface ContextOptionDiscovery {
  /** Every option name createSecureContext read, sorted. */
  names: readonly string[];
  /** True when it enumerated or tested the options object (`in`, spread, `Object.keys`): then no list is complete and no context is reused. */
  enumerates: boolean;
}

/**
 * Options that walk createSecureContext's branches (every line destructures all names up front,
 * but a later line may read one only inside a branch): a key with a passphrase, key objects, a
 * pfx, engines, a CA, curves, a CRL, DH parameters. Each probe may throw; the names read before
 * the throw are what counts.
 */
const PROBES: readonly Record<string, unknown>[] = [
  {},
  { honorCipherOrder: true, secureOptions: 0, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' },
  { secureProtocol: 'TLS_method' },
  { ca: '-', allowPartialTrustChain: true },
  { cert: '-', key: '-', passphrase: '-' },
  { key: [{ pem: '-', passphrase: '-' }], passphrase: '-' },
  { pfx: [{ buf: '-', passphrase: '-' }], passphrase: '-' },
  { pfx: '-', passphrase: '-' },
  { privateKeyIdentifier: '-', privateKeyEngine: '-' },
  { clientCertEngine: '-' },
  { sigalgs: 'ECDSA+SHA256', ecdhCurve: 'X25519', ciphers: 'TLS_AES_128_GCM_SHA256' },
  { crl: '-' },
  { dhparam: '-' },
  { sessionIdContext: '-', sessionTimeout: 1, ticketKeys: Buffer.alloc(1) },
];

let discovery: ContextOptionDiscovery | undefined;

/** The option names `tls.createSecureContext` reads on this Node line, found once per process with a Proxy that records every read. */
export function contextOptionNames(): ContextOptionDiscovery {
  if (discovery) return discovery;
  const names = new Set<string>();
  let enumerates = false;
  const traps: ProxyHandler<Record<string, unknown>> = {
    get(target, name, receiver) {
      if (typeof name === 'string') names.add(name);
      return Reflect.get(target, name, receiver);
    },
    has(target, name) {
      enumerates = true;
      return Reflect.has(target, name);
    },
    ownKeys(target) {
      enumerates = true;
      return Reflect.ownKeys(target);
    },
    getOwnPropertyDescriptor(target, name) {
      enumerates = true;
      return Reflect.getOwnPropertyDescriptor(target, name);
    },
  };
  for (const probe of PROBES) {
    try {
      tls.createSecureContext(new Proxy({ ...probe }, traps) as tls.SecureContextOptions);
    } catch {
      // Most probes are refused (no such key, engine or file): the names were read before.
    }
  }
  discovery = { names: [...names].sort(), enumerates };
  return discovery;
}

/** Counters of the context cache, in `stats().contexts`. */
export interface SecureContextStats {
  /** Contexts built (each one a `tls.createSecureContext`). */
  created: number;
  /** Connections that used a context built for an earlier one. */
  reused: number;
  /** Connections that passed their own `secureContext` (used as given). */
  userProvided: number;
  /** Connections left to Node's own new context: an option name not understood, reuse off (`maxSecureContexts: 0`), or options createSecureContext refused (Node then throws its own error). */
  stock: number;
  /** Contexts dropped to keep within `maxSecureContexts` (least recently used first). */
  evicted: number;
  /** Contexts held now. */
  size: number;
  /** The bound (`maxSecureContexts`). */
  max: number;
  /** The last option names (up to 16) that made a connection fall back to Node's own context. Names only, never values. */
  unknownOptions: string[];
}

const MAX_UNKNOWN_NAMES = 16;
/** Strings longer than this (PEM bundles) are keyed by a digest, memoized per string. */
const LONG_STRING = 256;
const MAX_STRING_DIGESTS = 1024;
/** Options whose values are secret: keyed by a digest, never by the value itself. */
const SECRET_OPTIONS = new Set(['key', 'passphrase', 'pfx', 'privateKeyIdentifier']);

/**
 * Builds the key of a context from option values: identity first, a digest only when needed.
 * Buffers: a SHA-256 computed once per Buffer object (WeakMap); short strings by value; long or
 * secret strings through a memo of their SHA-256; arrays and plain objects element by element;
 * anything else (functions, class instances) by identity for the life of the process.
 */
class ValueKeys {
  readonly #bytes = new WeakMap<object, string>();
  readonly #objects = new WeakMap<object, number>();
  #nextObject = 1;
  readonly #strings = new Map<string, string>();

  #digestOfString(value: string): string {
    let d = this.#strings.get(value);
    if (d === undefined) {
      if (this.#strings.size >= MAX_STRING_DIGESTS) this.#strings.clear();
      d = createHash('sha256').update(value).digest('base64');
      this.#strings.set(value, d);
    }
    return d;
  }

  token(value: unknown, secret: boolean): string {
    switch (typeof value) {
      case 'undefined':
        return 'u';
      case 'string':
        return secret || value.length > LONG_STRING ? `h${this.#digestOfString(value)}` : `s${value.length}:${value}`;
      case 'number':
      case 'boolean':
      case 'bigint':
        return `${typeof value}:${String(value)}`;
      case 'object':
        break;
      default:
        return `l${this.objectId(value as object)}`;
    }
    if (value === null) return 'n';
    if (ArrayBuffer.isView(value)) {
      let d = this.#bytes.get(value);
      if (d === undefined) {
        d = createHash('sha256')
          .update(new Uint8Array(value.buffer, value.byteOffset, value.byteLength))
          .digest('base64');
        this.#bytes.set(value, d);
      }
      return `b${d}`;
    }
    if (Array.isArray(value)) {
      let out = `a${value.length}[`;
      for (const v of value) out += `${this.token(v, secret)},`;
      return `${out}]`;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      const keys = Object.keys(value).sort();
      let out = `o${keys.length}{`;
      for (const k of keys)
        out += `${k.length}:${k}=${this.token((value as Record<string, unknown>)[k], secret || SECRET_OPTIONS.has(k))},`;
      return `${out}}`;
    }
    return `l${this.objectId(value)}`;
  }

  /** A number for `value` for the life of the process (equal only to itself). */
  objectId(value: object): number {
    let id = this.#objects.get(value);
    if (id === undefined) {
      id = this.#nextObject++;
      this.#objects.set(value, id);
    }
    return id;
  }
}

/** What `contextFor` decided for one connection. */
export type ContextChoice =
  | { kind: 'reuse' | 'created'; context: tls.SecureContext }
  | { kind: 'userProvided' | 'stock'; context: undefined };

/**
 * A bounded LRU of SecureContexts keyed by the values of every context option (as `tls.connect`
 * would pass them to createSecureContext, with its `ciphers` default) and by the process-wide
 * defaults createSecureContext falls back to (`tls.DEFAULT_CIPHERS`, `DEFAULT_ECDH_CURVE`,
 * `DEFAULT_MIN_VERSION`, `DEFAULT_MAX_VERSION`, and the default CA set, which
 * `tls.setDefaultCACertificates` can replace on Node 22 and later).
 */
export class SecureContextCache {
  readonly #max: number;
  readonly #contexts = new Map<string, tls.SecureContext>();
  readonly #keys = new ValueKeys();
  readonly #known: ReadonlySet<string>;
  readonly #contextNames: ReadonlySet<string>;
  #enabled: boolean;
  readonly #stats = { created: 0, reused: 0, userProvided: 0, stock: 0, evicted: 0 };
  readonly #unknown: string[] = [];

  constructor(max: number) {
    this.#max = max;
    const found = max > 0 ? contextOptionNames() : { names: [], enumerates: true };
    this.#enabled = max > 0 && !found.enumerates;
    this.#contextNames = new Set(found.names.filter((n) => n !== 'singleUse'));
    this.#known = new Set<string>([...CONNECTION_OPTIONS, ...found.names]);
  }

  #fallBack(name: string | undefined): ContextChoice {
    this.#stats.stock++;
    if (name !== undefined && !this.#unknown.includes(name)) {
      if (this.#unknown.length >= MAX_UNKNOWN_NAMES) this.#unknown.shift();
      this.#unknown.push(name);
    }
    return { kind: 'stock', context: undefined };
  }

  /** The context for a connection with these tls.connect options; never throws (a refusal means Node's own path, which then throws Node's error). */
  contextFor(options: tls.ConnectionOptions): ContextChoice {
    const o = options as Record<string, unknown>;
    if (o.secureContext) {
      this.#stats.userProvided++;
      return { kind: 'userProvided', context: undefined };
    }
    if (!this.#enabled) return this.#fallBack(undefined);
    try {
      // tls.connect's own copy: `{ ciphers: tls.DEFAULT_CIPHERS, ...options }`, own enumerable keys.
      const given: Record<string, unknown> = { ciphers: tls.DEFAULT_CIPHERS };
      for (const name of Object.keys(o)) {
        if (this.#contextNames.has(name)) given[name] = o[name];
        else if (!this.#known.has(name)) return this.#fallBack(name);
      }
      let key = `${this.#keys.token(tls.DEFAULT_CIPHERS, false)}|${this.#keys.token(tls.DEFAULT_ECDH_CURVE, false)}|${tls.DEFAULT_MIN_VERSION}|${tls.DEFAULT_MAX_VERSION}|${this.#defaultCa(given)}`;
      for (const name of this.#contextNames) key += `|${this.#keys.token(given[name], SECRET_OPTIONS.has(name))}`;
      let context = this.#contexts.get(key);
      if (context) {
        this.#contexts.delete(key);
        this.#contexts.set(key, context);
        this.#stats.reused++;
        return { kind: 'reuse', context };
      }
      context = tls.createSecureContext(given as tls.SecureContextOptions);
      if (this.#contexts.size >= this.#max) {
        this.#contexts.delete(this.#contexts.keys().next().value as string);
        this.#stats.evicted++;
      }
      this.#contexts.set(key, context);
      this.#stats.created++;
      return { kind: 'created', context };
    } catch {
      return this.#fallBack(undefined);
    }
  }

  /** The identity of the default CA set when no `ca` is given and the set can be replaced at run time. */
  #defaultCa(given: Record<string, unknown>): string {
    if (given.ca) return '';
    const t = tls as typeof tls & { setDefaultCACertificates?: unknown; getCACertificates?: (type: string) => readonly unknown[] };
    if (typeof t.setDefaultCACertificates !== 'function' || typeof t.getCACertificates !== 'function') return '';
    // Node keeps the default set in one frozen array until setDefaultCACertificates replaces it.
    return String(this.#keys.objectId(t.getCACertificates('default')));
  }

  stats(): SecureContextStats {
    return { ...this.#stats, size: this.#contexts.size, max: this.#max, unknownOptions: [...this.#unknown] };
  }

  /** Drops every context (connections using one keep it) and builds no more: later connections get Node's own. */
  close(): void {
    this.#enabled = false;
    this.#contexts.clear();
  }
}
