/**
 * Crypto back ends of the OpenSSL inside Node: the providers loaded in its default library
 * context (the one Node's TLS and crypto fetch algorithms from), loading one more, the legacy
 * ENGINE list (which `crypto.setEngine` uses), and what OpenSSL reports about itself and the CPU.
 */
import * as fs from 'node:fs';

import { native } from './native';

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
    throw new TypeError('loadProvider: "name" must be a non-empty string (a provider name or module file name).');
  }
  if (typeof options !== 'object' || options === null) throw new TypeError('loadProvider: "options" must be an object.');
  const { path } = options;
  if (path !== undefined) {
    if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
      throw new TypeError('loadProvider: option "path" must be a non-empty string naming a directory.');
    }
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(path);
    } catch {
      stat = undefined;
    }
    if (!stat?.isDirectory()) {
      throw new Error(`loadProvider: option "path" must be an existing directory holding the module for "${name}"; "${path}" is not one.`);
    }
  }
  return native.loadProvider(name, path);
}

/**
 * ENGINEs Node's OpenSSL knows: its built-in ones (registered by this call, as ENGINE_by_id
 * does) and any added to OpenSSL's engine list. `crypto.setEngine(id)` takes these ids.
 */
export function engines(): EngineInfo[] {
  return native.engines();
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
