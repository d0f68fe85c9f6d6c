/**
 * Crypto back ends of the OpenSSL inside Node: the providers loaded in its default library
 * context (the one Node's TLS and crypto fetch algorithms from), loading one more, the legacy
 * ENGINE list (which `crypto.setEngine` uses), and what OpenSSL reports about itself and the CPU.
 */
import * as fs from 'node:fs';
import type * as tls from 'node:tls';

import { native } from '../common/native';
import { resolveTarget } from '../common/target';
import { checkKeys, codeErrorsOf, ErrorCodes, expectKind, typeError, withCode } from '../common/validate';

/** One provider active in Node's default OpenSSL library context. */
export interface ProviderInfo {
  /** The name it was loaded by: "default", "legacy", a module name. */
  name: string;
  /** What it calls itself (OSSL_PROV_PARAM_NAME), e.g. "OpenSSL Default Provider". "" if it does not say. */
  description: string;
  /** Its version (OSSL_PROV_PARAM_VERSION). "" if it does not say. */
  version: string;
  /** Its build information (OSSL_PROV_PARAM_BUILDINFO). "" if it does not say. */
  buildInfo: string;
  /** OSSL_PROV_PARAM_STATUS: false when the provider reports itself unusable (e.g. a failed self test). */
  active: boolean;
}

/** One OpenSSL ENGINE known to Node's OpenSSL (deprecated API; providers replace it in 3.x). */
export interface EngineInfo {
  /** The id `crypto.setEngine(id)` takes, e.g. "rdrand", "dynamic". */
  id: string;
  /** Human-readable name. */
  name: string;
  /** ENGINE_get_flags() bits. */
  flags: number;
}

/** CPU crypto features as OpenSSL detected them (x86-64: OPENSSL_ia32cap). */
export interface CpuFeatures {
  /** The raw capability string from OpenSSL_version(OPENSSL_CPU_INFO), "" if OpenSSL gives none. */
  raw: string;
  /** Features decoded from it: aesni, pclmulqdq, avx, avx2, avx512f, sha, vaes, vpclmulqdq, rdrand, rdseed, adx, bmi2, ssse3, sse4.1. */
  features: string[];
}

/** Version strings of the OpenSSL that Node runs (OpenSSL_version()). */
export interface OpenSslInfo {
  /** e.g. "OpenSSL 3.0.19 27 Jan 2026". */
  version: string;
  builtOn: string;
  platform: string;
  /** OPENSSLDIR: where it reads openssl.cnf. */
  dir: string;
  /** ENGINESDIR compiled in. */
  enginesDir: string;
  /** MODULESDIR compiled in: where provider modules are looked for when no path is given. */
  modulesDir: string;
  cpu: CpuFeatures;
}

/** Options for `loadProvider()`. */
export interface LoadProviderOptions {
  /**
   * Directory holding the provider module `<name>.so` (`.dylib`/`.dll` elsewhere). Default: the
   * OPENSSL_MODULES environment variable, else Node's compiled-in MODULESDIR. Built-in providers
   * ("default", "base", "null", and "legacy" in Node's OpenSSL) are found by name and ignore it.
   */
  path?: string;
}

/** Providers active in Node's default OpenSSL library context, in load order. */
export function providers(): ProviderInfo[] {
  return native.providers();
}

/**
 * Loads provider `name` into Node's default OpenSSL library context, so Node's TLS and crypto
 * can fetch algorithms from it; it stays loaded for the life of the process. Loading an already
 * loaded provider is harmless. The "default" provider is activated first, because OpenSSL
 * stops activating it implicitly once any provider is loaded explicitly.
 * @throws TypeError for a name or path of the wrong type; Error naming the provider, the
 *   directory searched and OpenSSL's reason when it cannot be loaded.
 */
export function loadProvider(name: string, options: LoadProviderOptions = {}): ProviderInfo {
  if (typeof name !== 'string' || name.length === 0 || name.length > 4096 || name.includes('\0')) {
    throw withCode(
      new TypeError('loadProvider: "name" must be a non-empty string (a provider name or module file name).'),
      ErrorCodes.invalidType,
    );
  }
  if (typeof options !== 'object' || options === null)
    throw withCode(new TypeError('loadProvider: "options" must be an object.'), ErrorCodes.invalidType);
  const { path } = options;
  if (path !== undefined) {
    if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
      throw withCode(new TypeError('loadProvider: option "path" must be a non-empty string naming a directory.'), ErrorCodes.invalidType);
    }
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(path);
    } catch {
      stat = undefined;
    }
    if (!stat?.isDirectory()) {
      throw withCode(
        new Error(`loadProvider: option "path" must be an existing directory holding the module for "${name}"; "${path}" is not one.`),
        ErrorCodes.invalidValue,
      );
    }
  }
  return codeErrorsOf(ErrorCodes.opensslRefused, () => native.loadProvider(name, path));
}

/**
 * ENGINEs Node's OpenSSL knows: its built-in ones (registered by this call, as ENGINE_by_id
 * does) and any added to OpenSSL's engine list. `crypto.setEngine(id)` takes these ids.
 */
export function engines(): EngineInfo[] {
  return native.engines();
}

/**
 * Where the private key of a server or secure context lives, and what performs its signatures.
 * Holds no secret: a PIN inside a key identifier is replaced by `[redacted]`.
 */
export interface KeySource {
  /**
   * - `software`: key bytes in Node's memory; OpenSSL's own code signs.
   * - `engine`: an OpenSSL ENGINE signs (libp11's `pkcs11` engine: `C_Sign` on the token; the key
   *   never leaves it).
   * - `provider`: a provider other than OpenSSL's own holds the key and signs (pkcs11-provider, tpm2).
   * - `none`: the context has no private key.
   */
  kind: 'software' | 'engine' | 'provider' | 'none';
  /** Key type as OpenSSL names it: "EC", "RSA", "ED25519"; "" when there is no key. */
  type: string;
  /** Key size in bits (256 for P-256); 0 when there is no key. */
  bits: number;
  /** The provider holding a provider key ("default" for software keys); "" for engine and legacy keys. */
  provider: string;
  /** For `engine` keys: the shared object whose code signs (the engine's .so); "" otherwise. */
  module: string;
  /**
   * The engine the key was loaded with: Node's `privateKeyEngine` option (tls.Server targets),
   * or `loadEngineKey`'s `engine`. Absent when unknown (a SecureContext that tls.createSecureContext built from privateKeyEngine options) or not an engine key.
   */
  engine?: string;
  /** The key identifier (`privateKeyIdentifier`, a PKCS#11 URI), with any `pin-value` redacted. */
  identifier?: string;
  /**
   * Where the PIN came from: `pin-value` (inside the identifier: Node keeps the identifier on the
   * server object, where `util.inspect(server)` and libp11's error messages print it), `pin-source`
   * (a file named in the URI), `option` (loadEngineKey's `pin`), `none`. Absent when unknown.
   */
  pin?: 'pin-value' | 'pin-source' | 'option' | 'none';
}

/** Where `loadEngineKey` reads the PIN. A Buffer is copied and the copy wiped; the caller's Buffer is left as it is. */
export type PinSource = { file: string } | { env: string } | Buffer;

/** Options for `loadEngineKey()`. */
export interface EngineKeyOptions {
  /**
   * The engine: the path of its shared object (Debian: `/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so`),
   * or an id OpenSSL finds in its engine list or engines directory (`OPENSSL_ENGINES`).
   */
  engine: string;
  /**
   * The private key's identifier for the engine: a PKCS#11 URI (RFC 7512) for the `pkcs11`
   * engine, e.g. `pkcs11:token=edge;object=tls;type=private`. It must not carry a PIN
   * (`pin-value`): give that as `pin`.
   */
  key: string;
  /**
   * The PKCS#11 module (the vendor's .so) the engine should drive, sent as its `MODULE_PATH`
   * control. Default: the engine's own default (libp11: `PKCS11_MODULE_PATH`, else p11-kit-proxy).
   */
  module?: string;
  /**
   * The token PIN: `{ file }` (a file readable by the owner only; one trailing newline is
   * dropped), `{ env }` (an environment variable's name), or a Buffer. Default: no PIN, for keys
   * usable without login; a token that asks for one fails at once instead of prompting.
   */
  pin?: PinSource;
}

/** The identifier with every `pin-value` attribute's value replaced by `[redacted]`. */
export function redactKeyIdentifier(identifier: string): string {
  return identifier.replace(/(pin-value=)[^;&?#]*/gi, '$1[redacted]');
}

function pinKind(identifier: string): 'pin-value' | 'pin-source' | 'none' {
  if (/pin-value=/i.test(identifier)) return 'pin-value';
  if (/pin-source=/i.test(identifier)) return 'pin-source';
  return 'none';
}

/** What loadEngineKey put on each context (the context object is replaced with the key by setSecureContext). */
const loadedKeys = new WeakMap<object, Pick<KeySource, 'engine' | 'identifier' | 'pin'>>();

function contextOf(target: unknown): { server?: tls.Server; context: object; external: unknown } {
  const { server, context } = resolveTarget(target);
  return { server, context, external: context.context._external };
}

/**
 * Where the private key of a tls.Server (https, http2) or tls.SecureContext lives: in memory,
 * behind an engine (a PKCS#11 token) or a provider, with the module that signs. For a key from
 * `loadEngineKey`, or a server made with `privateKeyEngine`, also the engine and the identifier
 * it was given (PIN redacted).
 * @throws TypeError for a target that is not a server or secure context.
 */
export function keySource(target: tls.Server | tls.SecureContext): KeySource {
  const { server, context, external } = contextOf(target);
  const source: KeySource = native.keySource(external);
  const loaded = loadedKeys.get(context);
  if (source.kind === 'engine' && loaded) return { ...source, ...loaded };
  const given = server as (tls.Server & { privateKeyEngine?: unknown; privateKeyIdentifier?: unknown }) | undefined;
  if (source.kind === 'engine' && typeof given?.privateKeyIdentifier === 'string') {
    if (typeof given.privateKeyEngine === 'string') source.engine = given.privateKeyEngine;
    source.identifier = redactKeyIdentifier(given.privateKeyIdentifier);
    source.pin = pinKind(given.privateKeyIdentifier);
  }
  return source;
}

function existingFile(field: string, value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.includes('\0'))
    throw typeError(field, `a non-empty string naming ${what}`, value);
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(value);
  } catch {
    stat = undefined;
  }
  if (!stat?.isFile())
    throw withCode(new Error(`loadEngineKey: option "${field}": no file at "${value}" (expected ${what}).`), ErrorCodes.invalidValue);
  return value;
}

/** Reads the PIN into a Buffer of our own (the caller wipes it); never echoes it. */
function readPin(pin: unknown): Buffer {
  if (Buffer.isBuffer(pin)) {
    if (pin.length === 0 || pin.includes(0)) throw typeError('pin', 'a PIN of 1 byte or more without NUL bytes', pin, true);
    return Buffer.from(pin);
  }
  expectKind('pin', pin, 'object');
  const p = pin as { file?: unknown; env?: unknown };
  checkKeys('pin', p, ['file', 'env']);
  if ((p.file === undefined) === (p.env === undefined)) throw typeError('pin', 'one of { file }, { env } or a Buffer', pin);
  let bytes: Buffer;
  if (p.file !== undefined) {
    const file = existingFile('pin.file', p.file, 'a file holding the PIN');
    const mode = fs.statSync(file).mode;
    if ((mode & 0o077) !== 0) {
      throw withCode(
        new Error(
          `loadEngineKey: option "pin.file": "${file}" is readable by others (mode ${(mode & 0o777).toString(8)}); make it 0600 or 0400.`,
        ),
        ErrorCodes.invalidValue,
      );
    }
    bytes = fs.readFileSync(file);
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0a) end--;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    if (end !== bytes.length) {
      const trimmed = Buffer.from(bytes.subarray(0, end));
      bytes.fill(0);
      bytes = trimmed;
    }
  } else {
    if (typeof p.env !== 'string' || p.env.length === 0) throw typeError('pin.env', 'the name of an environment variable', p.env);
    const value = process.env[p.env];
    if (value === undefined || value.length === 0)
      throw withCode(new Error(`loadEngineKey: option "pin.env": environment variable ${p.env} is not set.`), ErrorCodes.invalidValue);
    bytes = Buffer.from(value, 'utf8');
  }
  if (bytes.length === 0 || bytes.includes(0)) {
    bytes.fill(0);
    throw withCode(new Error('loadEngineKey: option "pin": the PIN read is empty or contains a NUL byte.'), ErrorCodes.invalidValue);
  }
  return bytes;
}

/**
 * Loads the private key of a tls.Server (https, http2) or tls.SecureContext through an OpenSSL
 * engine (a PKCS#11 token behind libp11's `pkcs11` engine) and makes it the context's key. Give
 * the server its certificate only (`https.createServer({ cert })`), then call this before
 * `listen()`. Unlike Node's `privateKeyEngine`, the module path is per call (not the
 * process-wide `PKCS11_MODULE_PATH`), the PIN never sits in the key URI or on the server
 * object, a token asking for a missing PIN fails at once instead of prompting on a terminal,
 * and failures say which part is wrong. The engine stays loaded for the life of the process
 * (one per engine and module, shared by every key loaded from it).
 * @returns where the key now lives (`kind: 'engine'`).
 * @throws TypeError for an option of the wrong type or an unknown option; Error naming the
 *   engine, the module, the token and key, or the PIN as the part that failed (never the PIN).
 */
export function loadEngineKey(target: tls.Server | tls.SecureContext, options: EngineKeyOptions): KeySource {
  const { context, external } = contextOf(target);
  expectKind('options', options, 'object');
  checkKeys('options', options, ['engine', 'key', 'module', 'pin']);
  const { engine, key, module, pin } = options;
  if (typeof engine !== 'string' || engine.length === 0 || engine.includes('\0')) {
    throw typeError('engine', "a non-empty string: the path of the engine's .so or an engine id", engine);
  }
  if (engine.includes('/')) existingFile('engine', engine, "an OpenSSL engine's shared object");
  if (typeof key !== 'string' || key.length === 0 || key.includes('\0')) {
    throw typeError('key', "a non-empty string: the key's identifier, e.g. a pkcs11: URI", key, true);
  }
  if (/pin-value=/i.test(key)) {
    throw withCode(
      new TypeError(
        `"key" must be a key identifier without the PIN, got ${redactKeyIdentifier(key)}; pass the PIN as "pin" ({ file } or { env }).`,
      ),
      ErrorCodes.invalidType,
    );
  }
  if (module !== undefined) existingFile('module', module, "a PKCS#11 module's shared object");
  const pinBytes = pin === undefined ? undefined : readPin(pin);
  try {
    const source: KeySource = codeErrorsOf(ErrorCodes.opensslRefused, () => native.loadEngineKey(external, engine, key, module, pinBytes));
    const given = { engine, identifier: key, pin: pinBytes ? ('option' as const) : ('none' as const) };
    loadedKeys.set(context, given);
    return { ...source, ...given };
  } finally {
    pinBytes?.fill(0);
  }
}

// OPENSSL_ia32cap words: [0] CPUID.1:EDX, [1] CPUID.1:ECX, [2] CPUID.7:EBX, [3] CPUID.7:ECX.
// OpenSSL prints them as two 64-bit numbers, word 1 and 3 in the high halves.
const IA32_FEATURES: ReadonlyArray<readonly [string, number, number]> = [
  ['pclmulqdq', 1, 1],
  ['ssse3', 1, 9],
  ['sse4.1', 1, 19],
  ['aesni', 1, 25],
  ['avx', 1, 28],
  ['rdrand', 1, 30],
  ['avx2', 2, 5],
  ['bmi2', 2, 8],
  ['avx512f', 2, 16],
  ['rdseed', 2, 18],
  ['adx', 2, 19],
  ['sha', 2, 29],
  ['vaes', 3, 9],
  ['vpclmulqdq', 3, 10],
];

/** Decodes OpenSSL's CPU_INFO string ("CPUINFO: OPENSSL_ia32cap=0x...:0x..."). */
export function decodeCpuInfo(raw: string): CpuFeatures {
  const m = /OPENSSL_ia32cap=0x([0-9a-f]+)(?::0x([0-9a-f]+))?/i.exec(raw);
  if (!m) return { raw, features: [] };
  const lo = BigInt(`0x${m[1]}`);
  const hi = BigInt(`0x${m[2] ?? '0'}`);
  const words = [lo & 0xffffffffn, lo >> 32n, hi & 0xffffffffn, hi >> 32n];
  const features = IA32_FEATURES.filter(([, w, bit]) => ((words[w]! >> BigInt(bit)) & 1n) === 1n).map(([n]) => n);
  return { raw, features };
}

/** The OpenSSL Node runs: version strings, compiled-in directories, CPU features it uses. */
export function opensslInfo(): OpenSslInfo {
  const { cpuInfo, ...rest } = native.opensslInfo();
  return { ...rest, cpu: decodeCpuInfo(cpuInfo) };
}
