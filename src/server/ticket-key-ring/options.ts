/**
 * The ring's option checks, each resolving one public call's options to plain values before the
 * call changes anything, so a bad option is never half-applied. Imports only the leaf validation
 * module: the messages are its one style, naming the field and the accepted range.
 */
import {
  checkKeys,
  expectKind,
  expectOneOf,
  expectPresent,
  expectRange,
  optionalNumber,
  rangeError,
  typeError,
} from '../../common/validate';
import type { AddKeyFileOptions, AddKeyOptions, AddSecretOptions, RedisTicketKeyRingOptions, TicketKeyFormat } from './types';

/** `TicketKeyRingOptions` with the defaults applied. */
export interface ResolvedRingOptions {
  rotateEverySeconds: number;
  keepKeys: number;
  now: () => number;
}

/** `RedisTicketKeyRingOptions` with the defaults applied; `wrappingSecret` is present but its bytes are not checked yet. */
export interface ResolvedRedisRingOptions {
  key: string;
  wrappingSecret: unknown;
  pollIntervalSeconds: number;
  rotateLocallyWhenDown: boolean;
  ring: ResolvedRingOptions;
}

export function resolveRingOptions(options: unknown): ResolvedRingOptions {
  const o = (options ?? {}) as Record<string, unknown>;
  if (options !== undefined) {
    expectKind('options', options, 'object');
    checkKeys('options', o, ['rotateEverySeconds', 'keepKeys', 'now']);
  }
  const rotateEverySeconds = optionalNumber('rotateEverySeconds', o.rotateEverySeconds, 0.1, 0x7fffffff, 'seconds') ?? 3600;
  let keepKeys = 12;
  if (o.keepKeys !== undefined) {
    expectKind('keepKeys', o.keepKeys, 'integer');
    expectRange('keepKeys', o.keepKeys as number, 1, 1024, 'keys');
    keepKeys = o.keepKeys as number;
  }
  let now: () => number = Date.now;
  if (o.now !== undefined) {
    if (typeof o.now !== 'function') throw typeError('now', 'a function returning milliseconds', o.now);
    now = checkedClock(o.now as () => unknown);
  }
  return { rotateEverySeconds, keepKeys, now };
}

/** The range of a JS Date, in ms since 1970: past it epochs lose integer precision (an epoch loop never ends). */
const MAX_CLOCK_MS = 8.64e15;

/**
 * A user clock the ring can trust: its first reading is checked here (a bad one is refused
 * before the ring exists); a later bad reading (NaN, out of range) repeats the last good one,
 * since a timer cannot throw to anybody.
 */
function checkedClock(user: () => unknown): () => number {
  const ok = (t: unknown): t is number => typeof t === 'number' && Number.isFinite(t) && t >= 0 && t <= MAX_CLOCK_MS;
  let last = user();
  if (!ok(last)) {
    throw rangeError('now', `a function returning milliseconds since 1970, 0 to ${MAX_CLOCK_MS}`, `it returned ${String(last)}`);
  }
  return () => {
    const t = user();
    if (ok(t)) last = t;
    return last as number;
  };
}

/** The options of `fromRedis()` (the client is checked by the caller, after `options` is known to be an object). */
export function resolveRedisRingOptions(options: unknown): ResolvedRedisRingOptions {
  expectKind('options', options, 'object');
  const {
    key = 'tls:ticket-keys',
    wrappingSecret,
    pollIntervalSeconds = 30,
    rotateLocallyWhenDown = false,
    ...ringOptions
  } = options as RedisTicketKeyRingOptions & Record<string, unknown>;
  if (typeof key !== 'string' || key.length < 1 || key.length > 256) throw typeError('key', 'a string of 1 to 256 characters', key);
  optionalNumber('pollIntervalSeconds', pollIntervalSeconds, 0.1, 3600, 'seconds');
  expectKind('rotateLocallyWhenDown', rotateLocallyWhenDown, 'boolean');
  expectPresent('wrappingSecret', wrappingSecret, 'a Buffer of 32 bytes (required)');
  return { key, wrappingSecret, pollIntervalSeconds, rotateLocallyWhenDown, ring: resolveRingOptions(ringOptions) };
}

/** The `encrypt` flag every add call takes (default false), once `options` is known to hold only `known` names. */
function encryptFlag(options: { encrypt?: boolean }, known: readonly string[]): boolean {
  expectKind('options', options, 'object');
  checkKeys('options', options, known);
  const encrypt = options.encrypt ?? false;
  expectKind('encrypt', encrypt, 'boolean');
  return encrypt;
}

export function resolveAddOptions(options: AddKeyOptions): { encrypt: boolean; format: TicketKeyFormat } {
  const encrypt = encryptFlag(options, ['encrypt', 'format']);
  const format = options.format ?? 'node';
  if (format !== 'nginx' && format !== 'node' && format !== 'haproxy') {
    expectOneOf('format', format, ['nginx', 'node', 'haproxy']);
  }
  return { encrypt, format };
}

export function resolveAddKeyFileOptions(options: AddKeyFileOptions): { encrypt: boolean; format: AddKeyFileOptions['format'] } {
  const encrypt = encryptFlag(options, ['format', 'encrypt']);
  if (options.format !== 'nginx' && options.format !== 'haproxy') {
    expectOneOf('format', options.format, ['nginx', 'haproxy']);
  }
  return { encrypt, format: options.format };
}

export function resolveAddSecretOptions(options: AddSecretOptions): { encrypt: boolean } {
  return { encrypt: encryptFlag(options, ['encrypt']) };
}
