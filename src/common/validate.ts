/**
 * Argument and option checks for every public entry point. A leaf: it imports nothing of the
 * package, so any module (option groups, the ring, the store, the fleet, the probe) can use it
 * without an import cycle.
 *
 * One message style everywhere:
 *   `"<field>" must be <what is accepted>, got <what was given>.`
 * where `<field>` is the option's path as the user wrote it (`cache.size`, `shared.name`,
 * `fleet.secret`, or a parameter name such as `keyId`), the accepted part states the type and the
 * range with its unit, and the given part describes the value without printing secrets. Type
 * mistakes are TypeError, values of the right type out of range are RangeError. Unknown option
 * names get `Unknown option "<field>.<key>". Did you mean "<field>.<nearest>"?`.
 *
 * Every error made here carries a stable `code` (`ErrorCodes`), Node's own where Node has one, so
 * a caller can branch on it instead of matching message text.
 */

/**
 * The `code` of every error the package throws or emits: the one list (docs/api.md#errors shows
 * each with its messages, and test/common/validate.test.ts keeps that table equal to this list).
 * Node's own code where Node has one.
 */
export const ErrorCodes = Object.freeze({
  /** TypeError: a value of the wrong type, or a target that cannot serve the option (Node's code). */
  invalidType: 'ERR_INVALID_ARG_TYPE',
  /** RangeError: a value of the right type outside its accepted range (Node's code). */
  outOfRange: 'ERR_OUT_OF_RANGE',
  /** A value of the right type refused otherwise: not one of the accepted strings, a label in use, a missing file (Node's code). */
  invalidValue: 'ERR_INVALID_ARG_VALUE',
  /** TypeError: an option name its group does not know. */
  unknownOption: 'ERR_TLS_RESUMPTION_UNKNOWN_OPTION',
  /** A call the object's state does not allow: detached, closed, fixed at attach(), a ring of another kind (Node's code). */
  invalidState: 'ERR_INVALID_STATE',
  /** What this Node, its OpenSSL or this runtime cannot do. */
  unsupported: 'ERR_TLS_RESUMPTION_UNSUPPORTED',
  /** The native addon cannot be loaded, or it and dist/ come from two builds. */
  addonMismatch: 'ERR_TLS_RESUMPTION_ADDON_MISMATCH',
  /** An optional peer dependency (prom-client, @opentelemetry/api) is not installed. */
  peerMissing: 'ERR_TLS_RESUMPTION_PEER_MISSING',
  /** OpenSSL refused a provider, an engine or an engine key. */
  opensslRefused: 'ERR_TLS_RESUMPTION_OPENSSL_REFUSED',
  /** A store file refused when opened: another size or layout, not a store, another owner, a mode other than 0600, no room. */
  storeRefused: 'ERR_TLS_RESUMPTION_STORE_REFUSED',
  /** removeSharedStore(): a process still maps the store. */
  storeInUse: 'ERR_TLS_RESUMPTION_STORE_IN_USE',
  /** removeSharedStore(): the file is not a store of this user's. */
  notAStore: 'ERR_TLS_RESUMPTION_NOT_A_STORE',
  /** install() on an https.Agent another client session cache has. */
  agentInUse: 'ERR_TLS_RESUMPTION_AGENT_IN_USE',
  /** `fleetError`: a Redis lookup past fleet.lookupTimeoutMs. */
  fleetTimeout: 'ERR_TLS_RESUMPTION_FLEET_TIMEOUT',
  /** `fleetError`: Redis cannot be reached. */
  fleetUnreachable: 'ERR_TLS_RESUMPTION_FLEET_UNREACHABLE',
  /** `fleetError`: a session in Redis that does not open under the fleet secret. */
  fleetEntryRefused: 'ERR_TLS_RESUMPTION_FLEET_ENTRY_REFUSED',
  /** `ringDocumentRefused`: a ticket key document in Redis refused. */
  ringDocumentRefused: 'ERR_TLS_RESUMPTION_RING_DOCUMENT_REFUSED',
  /** probe()/probeFleet(): no TLS handshake within timeoutMs. */
  probeTimeout: 'ERR_TLS_RESUMPTION_PROBE_TIMEOUT',
});

/** One of `ErrorCodes`. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** `err` with `code` set, as Node's own errors have it (an own enumerable property). */
export function withCode<E extends Error>(err: E, code: ErrorCode): E & { code: ErrorCode } {
  return Object.assign(err, { code });
}

/** A TypeError (ERR_INVALID_ARG_TYPE) whose message does not follow the `mustBe` shape. */
export function argTypeError(message: string): TypeError & { code: ErrorCode } {
  return withCode(new TypeError(message), ErrorCodes.invalidType);
}

/** An Error for a call the object's state does not allow (ERR_INVALID_STATE). */
export function invalidState(message: string): Error & { code: ErrorCode } {
  return withCode(new Error(message), ErrorCodes.invalidState);
}

/**
 * Runs `fn`, giving an error it throws without a code (the addon's errors have none) `code`;
 * the message is kept.
 */
export function codeErrorsOf<T>(code: ErrorCode, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    // The addon's errors come from Node's realm, where `instanceof Error` can be false (a jest sandbox).
    if (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === undefined) withCode(err as Error, code);
    throw err;
  }
}

/** The value kinds `expectKind` checks. `number` means a finite number. */
export type Kind = 'boolean' | 'integer' | 'number' | 'string' | 'object' | 'function';

const ARTICLE: Record<Kind, string> = {
  boolean: 'a boolean',
  integer: 'an integer',
  number: 'a finite number',
  string: 'a string',
  object: 'an object',
  function: 'a function',
};

/** How a given value is named in a message: its type and, for plain numbers and strings, the value. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (Buffer.isBuffer(value)) return `a Buffer of ${value.byteLength} bytes`;
  if (value instanceof Uint8Array) return `a Uint8Array of ${value.byteLength} bytes`;
  switch (typeof value) {
    case 'number':
      return `the number ${value}`;
    case 'string':
      // A PEM passed in the wrong place (a client key for `options`) must not reach a log.
      if (value.includes('-----BEGIN')) return `a PEM string of ${value.length} characters`;
      return `the string ${JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)}`;
    case 'boolean':
      return `the boolean ${value}`;
    case 'function':
      return 'a function';
    case 'object': {
      const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name;
      return name && name !== 'Object' ? `an instance of ${name}` : 'an object';
    }
    default:
      return `a value of type ${typeof value}`;
  }
}

/** Like `describe`, but never shows the value itself: for secrets, keys and PINs. */
export function describeSecret(value: unknown): string {
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  if (typeof value === 'number' || typeof value === 'boolean') return `a ${typeof value}`;
  return describe(value);
}

/** The one message shape. `given` is already described (see `describe`, `describeSecret`). */
export function mustBe(field: string, accepted: string, given: string): string {
  return `"${field}" must be ${accepted}, got ${given}.`;
}

/** TypeError: `"<field>" must be <accepted>, got <value described>.` */
export function typeError(field: string, accepted: string, value: unknown, secret = false): TypeError & { code: ErrorCode } {
  return withCode(new TypeError(mustBe(field, accepted, secret ? describeSecret(value) : describe(value))), ErrorCodes.invalidType);
}

/** RangeError: `"<field>" must be <accepted>, got <given>.` (`given` as the user would read it, e.g. "100 bytes"). */
export function rangeError(
  field: string,
  accepted: string,
  given: string,
  code: ErrorCode = ErrorCodes.outOfRange,
): RangeError & { code: ErrorCode } {
  return withCode(new RangeError(mustBe(field, accepted, given)), code);
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** Rejects keys a field does not know, naming the nearest known one (TypeError). */
export function checkKeys(field: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const near = known.map((k) => [k, levenshtein(key.toLowerCase(), k.toLowerCase())] as const).sort((x, y) => x[1] - y[1])[0];
    const hint = near && near[1] <= 3 ? ` Did you mean "${field}.${near[0]}"?` : ` Known options: ${known.join(', ')}.`;
    throw withCode(new TypeError(`Unknown option "${field}.${key}".${hint}`), ErrorCodes.unknownOption);
  }
}

function isKind(value: unknown, kind: Kind): boolean {
  switch (kind) {
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      return typeof value === kind;
  }
}

/** Type check: TypeError naming the field and the expected type. */
export function expectKind(field: string, value: unknown, kind: Kind): void {
  if (!isKind(value, kind)) throw typeError(field, ARTICLE[kind], value);
}

/** Range check on a number: RangeError naming the field and the accepted range (with its unit). */
export function expectRange(field: string, value: number, min: number, max: number, unit = ''): void {
  if (value < min || value > max) {
    const u = unit ? ` ${unit}` : '';
    throw rangeError(field, `between ${min} and ${max}${u}`, `${value}`);
  }
}

/** An option group: an object with only the `known` keys; returns it for reading. */
export function optionGroup(field: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  expectKind(field, value, 'object');
  checkKeys(field, value as object, known);
  return value as Record<string, unknown>;
}

/** An optional integer in [min, max]; undefined when absent. */
export function optionalInteger(field: string, value: unknown, min: number, max: number, unit?: string): number | undefined {
  if (value === undefined) return undefined;
  expectKind(field, value, 'integer');
  expectRange(field, value as number, min, max, unit);
  return value as number;
}

/** An optional finite number in [min, max]; undefined when absent. */
export function optionalNumber(field: string, value: unknown, min: number, max: number, unit?: string): number | undefined {
  if (value === undefined) return undefined;
  expectKind(field, value, 'number');
  expectRange(field, value as number, min, max, unit);
  return value as number;
}

/** An optional boolean; undefined when absent. */
export function optionalBoolean(field: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  expectKind(field, value, 'boolean');
  return value as boolean;
}

/** An optional string of `min` to `max` characters; undefined when absent. */
export function optionalString(field: string, value: unknown, min: number, max: number): string | undefined {
  if (value === undefined) return undefined;
  const accepted = `a string of ${min} to ${max} characters`;
  if (typeof value !== 'string') throw typeError(field, accepted, value);
  if (value.length < min || value.length > max) throw rangeError(field, accepted, `${value.length} characters`);
  return value;
}

/** One of a fixed set of strings (RangeError listing them). */
export function expectOneOf<T extends string>(field: string, value: unknown, choices: readonly T[]): T {
  if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T;
  const accepted = `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`;
  if (typeof value !== 'string') throw typeError(field, accepted, value);
  throw rangeError(field, accepted, describe(value), ErrorCodes.invalidValue);
}

/** A required value: TypeError `"<field>" must be <accepted>, got undefined.` when absent. */
export function expectPresent(field: string, value: unknown, accepted: string): void {
  if (value === undefined) throw typeError(field, accepted, value);
}
