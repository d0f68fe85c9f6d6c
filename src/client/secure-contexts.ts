/**
 * One `tls.SecureContext` per set of context options, reused by every connection through the
 * client session cache. Without it, each `tls.connect` that gets no `secureContext` (https.Agent
 * and undici make every connection that way) builds a new one: a new SSL_CTX, the root store or
 * `ca` parsed again, `key`/`cert` loaded again. That is most of a client's CPU per connection.
 *
 * The key holds the value of every option name `tls.createSecureContext` was seen reading. A
 * context is cached only when its own build read no name outside the key and never enumerated the
 * options: createSecureContext is a deterministic function of what it reads, so every options
 * object with the same key walks the same path, reads the same names and builds the same context.
 * Any other name (a library's own request fields) costs nothing and needs no list.
 * docs/client-secure-contexts.md gives the argument in full.
 */
import { createHash } from 'node:crypto';
import * as tls from 'node:tls';

/** What the probes of `tls.createSecureContext` found on this Node line. */
export interface ContextOptionDiscovery {
  /** Every option name createSecureContext read, sorted. */
  names: readonly string[];
  /** True when it enumerated or tested the options object (`in`, spread, `Object.keys`). */
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

/**
 * `target` behind a Proxy that reports each property read (`get`) and each look at the object's
 * shape (`in`, `Object.keys`, a spread, a descriptor): what the shape reveals is not in any key.
 */
function recordingReads(
  target: Record<string, unknown>,
  read: (name: string | symbol) => void,
  enumerated: () => void,
): Record<string, unknown> {
  return new Proxy(target, {
    get(t, name, receiver) {
      read(name);
      return Reflect.get(t, name, receiver);
    },
    has(t, name) {
      enumerated();
      return Reflect.has(t, name);
    },
    ownKeys(t) {
      enumerated();
      return Reflect.ownKeys(t);
    },
    getOwnPropertyDescriptor(t, name) {
      enumerated();
      return Reflect.getOwnPropertyDescriptor(t, name);
    },
  });
}

let discovery: ContextOptionDiscovery | undefined;

/**
 * The option names `tls.createSecureContext` reads on this Node line, found once per process by
 * probing it behind a Proxy that records every read. They are keyed from the first connection on;
 * a name the probes miss is learned by the first build that reads it (SecureContextCache).
 */
export function contextOptionNames(): ContextOptionDiscovery {
  if (discovery) return discovery;
  const names = new Set<string>();
  let enumerates = false;
  for (const probe of PROBES) {
    try {
      tls.createSecureContext(
        recordingReads(
          { ...probe },
          (name) => typeof name === 'string' && names.add(name),
          () => (enumerates = true),
        ) as tls.SecureContextOptions,
      );
    } catch {
      // Most probes are refused (no such key, engine or file): the names were read before.
    }
  }
  discovery = { names: [...names].sort(), enumerates };
  return discovery;
}

/** Counters of the context cache, in `stats().contexts`. Names only, never option values. */
export interface SecureContextStats {
  /** Contexts built and kept for reuse (each one a `tls.createSecureContext`). */
  created: number;
  /** Connections that used a context built for an earlier one. */
  reused: number;
  /** Connections given a context built for them alone: its build read an option name the key did not hold yet (see `learnedOptions`). */
  unshared: number;
  /** Connections that passed their own `secureContext` (used as given). */
  userProvided: number;
  /** Connections left to Node's own new context: reuse off (`maxSecureContexts: 0`, `close()`), options createSecureContext refused (Node then throws its own error), or options whose build looked at the options object's shape (enumerated it). */
  stock: number;
  /** Contexts dropped: least recently used past `maxSecureContexts`, or all at once when the key gained a name. */
  evicted: number;
  /** Contexts held now. */
  size: number;
  /** The bound (`maxSecureContexts`). */
  max: number;
  /** Option names createSecureContext was seen reading that the discovery at start had not found, in the order found; keyed from then on. Empty on Node 20, 22, 24 and 26. */
  learnedOptions: string[];
}

/** More keyed names than this means something reads names without end: such option sets go stock. */
const MAX_KEYED_NAMES = 256;
/** Strings longer than this (PEM bundles) are keyed by a digest, memoized per string. */
const LONG_STRING = 256;
const MAX_STRING_DIGESTS = 1024;
/** The names tls.connect gives a default before spreading the caller's options over them. */
const CONNECT_DEFAULTS = new Set(['rejectUnauthorized', 'ciphers', 'checkServerIdentity', 'minDHSize']);
/** Options whose values are secret: keyed by a digest, never by the value itself. Learned names are treated as secret too. */
const SECRET_OPTIONS = new Set(['key', 'passphrase', 'pfx', 'privateKeyIdentifier']);

/**
 * Builds the key of a context from option values: identity first, a digest only when needed.
 * Buffers: a SHA-256 computed once per Buffer object and its bytes (a Buffer can be written in
 * place: each use compares it with a copy taken with the digest, a memcmp; a secret one, a client
 * key, is hashed again instead of copied); short strings by value; long or
 * secret strings through a memo of their SHA-256; arrays and plain objects element by element;
 * anything else (functions, class instances) by identity for the life of the process.
 */
class ValueKeys {
  readonly #bytes = new WeakMap<object, { digest: string; copy: Buffer }>();
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
      const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      const seen = secret ? undefined : this.#bytes.get(value);
      if (seen?.copy.equals(bytes)) return `b${seen.digest}`;
      const digest = createHash('sha256').update(bytes).digest('base64');
      if (!secret) this.#bytes.set(value, { digest, copy: Buffer.from(bytes) });
      return `b${digest}`;
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
  | { kind: 'reuse' | 'created' | 'unshared'; context: tls.SecureContext }
  | { kind: 'userProvided' | 'stock'; context: undefined };

/** What one build of a context saw. */
interface Build {
  context: tls.SecureContext | undefined;
  /** Names read before any look at the shape that the key does not hold, in order of first read. */
  outside: string[];
  /** A symbol-keyed read before any look at the shape (no key holds symbols). */
  symbol: boolean;
  enumerated: boolean;
}

/**
 * A bounded LRU of SecureContexts keyed by the values of every keyed option name, taken from the
 * object `tls.connect` would pass to createSecureContext (its defaults spread under the caller's
 * options), and by the process-wide defaults createSecureContext falls back to
 * (`tls.DEFAULT_CIPHERS`, `DEFAULT_ECDH_CURVE`, `DEFAULT_MIN_VERSION`, `DEFAULT_MAX_VERSION`, and
 * the default CA set, which `tls.setDefaultCACertificates` can replace on Node 22 and later).
 */
export class SecureContextCache {
  readonly #max: number;
  readonly #contexts = new Map<string, tls.SecureContext>();
  /** Keys whose builds look at the options' shape: every options object with such a key does, so none is reused. */
  readonly #unreusable = new Set<string>();
  readonly #keys = new ValueKeys();
  /** The keyed names, in key order, each with whether its value is keyed only by digest. */
  readonly #keyed: Array<[string, boolean]> = [];
  readonly #keyedNames = new Set<string>();
  /** Whether a keyed name has a tls.connect default besides `ciphers` (none does on 20 to 26). */
  #defaultsKeyed = false;
  #enabled: boolean;
  readonly #stats = { created: 0, reused: 0, unshared: 0, userProvided: 0, stock: 0, evicted: 0 };
  readonly #learned: string[] = [];

  /**
   * @param max the bound (`maxSecureContexts`); 0 turns reuse off.
   * @param found the names to key from the start. Internal: tests pass a reduced discovery to stand
   *   for a Node line whose createSecureContext reads a name the probes miss.
   */
  constructor(max: number, found: ContextOptionDiscovery = max > 0 ? contextOptionNames() : { names: [], enumerates: false }) {
    this.#max = max;
    this.#enabled = max > 0;
    for (const name of found.names) this.#key(name, SECRET_OPTIONS.has(name));
  }

  #key(name: string, secret: boolean): void {
    this.#keyed.push([name, secret]);
    this.#keyedNames.add(name);
    if (CONNECT_DEFAULTS.has(name) && name !== 'ciphers') this.#defaultsKeyed = true;
  }

  #stock(): ContextChoice {
    this.#stats.stock++;
    return { kind: 'stock', context: undefined };
  }

  /** The context for a connection with these tls.connect options; never throws (a refusal means Node's own path, which then throws Node's error). */
  contextFor(options: tls.ConnectionOptions): ContextChoice {
    const o = options as Record<string, unknown>;
    if (o.secureContext) {
      this.#stats.userProvided++;
      return { kind: 'userProvided', context: undefined };
    }
    if (!this.#enabled) return this.#stock();
    try {
      const key = this.#keyOf(this.#keyedValues(o));
      let context = this.#contexts.get(key);
      if (context) {
        this.#contexts.delete(key);
        this.#contexts.set(key, context);
        this.#stats.reused++;
        return { kind: 'reuse', context };
      }
      if (this.#unreusable.has(key)) return this.#stock();
      // A miss: the whole object tls.connect would pass (lib/_tls_wrap.js, the same on 20 to 26),
      // taken once and filed under its own key, so a context is always keyed by the values its
      // build saw. `singleUse` stays unset: tls.connect sets it to have Node 24+ free the SSL_CTX
      // when the socket closes, and these contexts outlive their socket.
      const given: Record<string, unknown> = { ...this.#connectDefaults(), ...o, singleUse: undefined };
      const filed = this.#keyOf(given);
      const build = this.#build(given);
      if (build.outside.length > 0 || build.symbol) return this.#learn(build, filed);
      if (build.enumerated || !build.context) {
        // Up to its first look at the shape, the build read only keyed names: every options
        // object with this key walks to that same look.
        if (build.enumerated) this.#remember(this.#unreusable, filed);
        return this.#stock();
      }
      context = build.context;
      if (this.#contexts.size >= this.#max) {
        this.#contexts.delete(this.#contexts.keys().next().value as string);
        this.#stats.evicted++;
      }
      this.#contexts.set(filed, context);
      this.#stats.created++;
      return { kind: 'created', context };
    } catch {
      return this.#stock();
    }
  }

  /** The defaults tls.connect spreads the caller's options over. */
  #connectDefaults(): Record<string, unknown> {
    return {
      rejectUnauthorized: process.env.NODE_TLS_REJECT_UNAUTHORIZED !== '0',
      ciphers: tls.DEFAULT_CIPHERS,
      checkServerIdentity: tls.checkServerIdentity,
      minDHSize: 1024,
    };
  }

  /**
   * The keyed names' values in that object, without building it (this runs on every connection):
   * the caller's own enumerable names as a spread copies them, the defaults under them.
   */
  #keyedValues(o: Record<string, unknown>): Record<string, unknown> {
    const values: Record<string, unknown> = this.#defaultsKeyed ? this.#connectDefaults() : { ciphers: tls.DEFAULT_CIPHERS };
    for (const name of Object.keys(o)) if (this.#keyedNames.has(name)) values[name] = o[name];
    values.singleUse = undefined;
    return values;
  }

  #keyOf(given: Record<string, unknown>): string {
    let key = `${this.#keys.token(tls.DEFAULT_CIPHERS, false)}|${this.#keys.token(tls.DEFAULT_ECDH_CURVE, false)}|${tls.DEFAULT_MIN_VERSION}|${tls.DEFAULT_MAX_VERSION}|${this.#defaultCa(given)}`;
    for (const [name, secret] of this.#keyed) key += `|${this.#keys.token(given[name], secret)}`;
    return key;
  }

  /** `tls.createSecureContext(given)` behind a Proxy that records what it reads; Node's errors are swallowed (the stock path throws them again). */
  #build(given: Record<string, unknown>): Build {
    const out: Build = { context: undefined, outside: [], symbol: false, enumerated: false };
    const read = (name: string | symbol) => {
      if (out.enumerated) return; // reads after a look at the shape follow from it, not from a key
      if (typeof name !== 'string') out.symbol = true;
      else if (!this.#keyedNames.has(name) && !out.outside.includes(name)) out.outside.push(name);
    };
    try {
      out.context = tls.createSecureContext(recordingReads(given, read, () => (out.enumerated = true)) as tls.SecureContextOptions);
    } catch {
      out.context = undefined;
    }
    return out;
  }

  /**
   * A build read names the key does not hold: from now on it does. The contexts cached so far stay
   * correct (their builds did not read those names) but their keys lack the new names, so no
   * lookup can find them: they are dropped, and the next connection of each set builds once more.
   * That happens once per name a Node line reads outside the discovery. This build's context is
   * right for this connection (built from its own options, as tls.connect would) but not cached:
   * other options with its new key may have taken another path, which the next build will show.
   */
  #learn(build: Build, key: string): ContextChoice {
    if (build.symbol || this.#keyed.length + build.outside.length > MAX_KEYED_NAMES) {
      // A name no key can hold: options with this key never share (Node builds their contexts).
      this.#remember(this.#unreusable, key);
      return this.#stock();
    }
    for (const name of build.outside) {
      this.#key(name, true);
      this.#learned.push(name);
    }
    this.#stats.evicted += this.#contexts.size;
    this.#contexts.clear();
    this.#unreusable.clear();
    if (build.enumerated || !build.context) return this.#stock();
    this.#stats.unshared++;
    return { kind: 'unshared', context: build.context };
  }

  #remember(set: Set<string>, key: string): void {
    if (set.size >= this.#max) set.delete(set.values().next().value as string);
    set.add(key);
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
    return { ...this.#stats, size: this.#contexts.size, max: this.#max, learnedOptions: [...this.#learned] };
  }

  /** Drops every context (connections using one keep it) and builds no more: later connections get Node's own. */
  close(): void {
    this.#enabled = false;
    this.#contexts.clear();
    this.#unreusable.clear();
  }
}
