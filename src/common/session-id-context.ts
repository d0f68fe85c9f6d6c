/**
 * The session-ID context: OpenSSL records it in every server session and refuses to resume a
 * session (ticket, session ID, shared store) whose context differs from the connection's. Node
 * sets it from `process.argv` unless the server was given `sessionIdContext`, so processes of one
 * fleet whose command lines differ (a port argument is enough) never resume each other's clients.
 *
 * What is in force, first match wins:
 * 1. the `sessionIdContext` option;
 * 2. Node's, when the server was created with its own `sessionIdContext` (the user chose it), or
 *    the target is a bare SecureContext;
 * 3. in a fleet mode, 32 bytes derived from the fleet's identity, never revealing a secret:
 *    HKDF-SHA256 of the wrapping secret and key (`fromRedis`), of the session-store secret and
 *    prefix (`fleet`), SHA-256 of the store path (`shared.path`), and one fixed value for every
 *    `fromSecret` ring: its secret cannot name the fleet, because replacing the secret
 *    (`fromSecret(new)` + `addSecret(old)` beside members still on `fromSecret(old)`) must keep
 *    resuming; services that must not resume each other's sessions set `sessionIdContext`;
 * 4. Node's.
 * It is applied natively to the attached context and its SNI contexts; `detach()` puts back the
 * exact bytes Node had set (read natively before the first change: OpenSSL has no getter).
 *
 * Node 22 and 24 (measured on 22.23.5 and 24.22.3) also give every connection a context of its
 * own from a ClientHello callback they own: SHA-256(the SecureContext's sessionIdContext string |
 * 0x00 | SNI server name), from a copy Node keeps beside OpenSSL's. A derived context is applied
 * through Node's own `setSessionIdContext()` too (32 hex characters), so a fleet of derived
 * contexts matches only members of the same rule (20/26 or 22/24), keeping Node's binding to the
 * SNI name. The `sessionIdContext` option is the user's exact bytes (an nginx or HAProxy peer's,
 * see peer-session-id-context.ts): it is pinned natively on every connection and every new
 * session after Node's callback ran (native/session_id_context.h), so it is the same on every
 * line and any bytes (not only text) work. Internal.
 */
import * as crypto from 'node:crypto';
import type * as tls from 'node:tls';
import { type NativeAttachment, native } from './native';
import { followSniContexts } from './sni-contexts';
import type { NodeNativeContext } from './target';

/** Where the session-ID context in force comes from. */
export type SessionIdContextSource =
  /** The `sessionIdContext` option. */
  | 'option'
  /** Node's own: from `process.argv`, or the server's `sessionIdContext` option. */
  | 'node'
  /** Derived from the ticket key ring's secret (`fromSecret`) or wrapping secret and key (`fromRedis`). */
  | 'ring'
  /** Derived from the `fleet` session store's secret and prefix. */
  | 'fleet'
  /** Derived from the `shared.path` store file. */
  | 'shared';

/** `stats().sessionIdContext`: compare it between machines that should resume each other's clients. */
export interface SessionIdContextStats {
  source: SessionIdContextSource;
  /** Hex of the first 8 bytes of SHA-256 of the context: names it without revealing it. */
  fingerprint: string;
}

/** A context to apply and where it came from. */
export interface ChosenSessionIdContext {
  bytes: Buffer;
  source: Exclude<SessionIdContextSource, 'node'>;
}

const SALT = 'tls-resumption/session-id-context/v1';

/** Node 22 and 24 hash the context per connection with the SNI name (see above). */
export const NODE_BINDS_CONTEXT_TO_SERVER_NAME = ['22', '24'].includes(process.versions.node.split('.')[0]!);

/** 32 hex characters naming a fleet: HKDF-SHA256(secret, salt, purpose). Same secret and purpose: same bytes everywhere. */
export function fleetSessionIdContext(secret: Buffer, purpose: string): Buffer {
  return Buffer.from(Buffer.from(crypto.hkdfSync('sha256', secret, SALT, purpose, 16)).toString('hex'));
}

/** The context of every `fromSecret` ring (see above: not derived from the secret). */
export function secretRingSessionIdContext(): Buffer {
  return Buffer.from(crypto.createHash('sha256').update(`${SALT}\0fromSecret`).digest('hex').slice(0, 32));
}

/** The context every process opening the store file at `path` gets. */
export function sharedPathSessionIdContext(path: string): Buffer {
  return Buffer.from(crypto.createHash('sha256').update(`${SALT}\0shared-path\0${path}`).digest('hex').slice(0, 32));
}

function fingerprint(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest().subarray(0, 8).toString('hex');
}

/** Node's default for a tls.Server (lib/_tls_wrap.js): SHA-1 of `process.argv.join(' ')`, hex, 32 characters. */
function nodeDefaultSessionIdContext(): string {
  return crypto.createHash('sha1').update(process.argv.join(' ')).digest('hex').slice(0, 32);
}

/** What the fleet modes of one attachment offer, in order of precedence. */
export interface SessionIdContextInputs {
  option: Buffer | null;
  server: tls.Server | undefined;
  ring: Buffer | undefined;
  fleet: Buffer | undefined;
  sharedPath: string | undefined;
}

/** The context to apply, or null to keep Node's. */
export function chooseSessionIdContext(i: SessionIdContextInputs): ChosenSessionIdContext | null {
  if (i.option) return { bytes: i.option, source: 'option' };
  if (!i.server) return null;
  const own = (i.server as unknown as { sessionIdContext?: unknown }).sessionIdContext;
  if (typeof own === 'string' && own !== nodeDefaultSessionIdContext()) return null;
  if (i.ring) return { bytes: i.ring, source: 'ring' };
  if (i.fleet) return { bytes: i.fleet, source: 'fleet' };
  if (i.sharedPath !== undefined) return { bytes: sharedPathSessionIdContext(i.sharedPath), source: 'shared' };
  return null;
}

/** The option's bytes are the user's exact ones (a peer's): pinned per connection on every line. */
function pinned(chosen: ChosenSessionIdContext): boolean {
  return chosen.source === 'option';
}

interface NodeSessionIdContextSetter {
  setSessionIdContext(value: string): void;
}

/** Node's own setter (updates the copy Node 22/24 hash per connection); only those lines need it, and it takes text only. */
function setNodeCopy(ctx: NodeNativeContext, bytes: Buffer): void {
  const value = bytes.toString('utf8');
  if (NODE_BINDS_CONTEXT_TO_SERVER_NAME && value !== '' && Buffer.from(value, 'utf8').equals(bytes)) {
    (ctx as unknown as NodeSessionIdContextSetter).setSessionIdContext(value);
  }
}

/** Keeps one attachment's session-ID context (and its SNI contexts') as chosen. */
export class SessionIdContextControl {
  readonly #server: tls.Server | undefined;
  readonly #attached: () => NodeNativeContext;
  #handle: NativeAttachment | undefined;
  #chosen: ChosenSessionIdContext | null = null;
  #nodeFingerprint: string | undefined;
  /** The context's bytes before our first change: what Node 22/24 get back. */
  #nodeText: Buffer | undefined;
  #unfollow: (() => void) | undefined;

  constructor(server: tls.Server | undefined, attached: () => NodeNativeContext) {
    this.#server = server;
    this.#attached = attached;
  }

  /** Applies `chosen` (null: Node's) to `handle`'s context, natively, when it is not already in force there. */
  apply(handle: NativeAttachment, chosen: ChosenSessionIdContext | null): void {
    const same =
      handle === this.#handle && (chosen === null ? this.#chosen === null : !!this.#chosen && this.#chosen.bytes.equals(chosen.bytes));
    if (same) {
      this.#chosen = chosen;
      return;
    }
    if (handle !== this.#handle) {
      this.#nodeFingerprint = undefined;
      this.#nodeText = undefined;
    }
    if (chosen) {
      this.#nodeText ??= native.sessionIdContextOf(handle) ?? Buffer.alloc(0);
      native.setSessionIdContext(handle, chosen.bytes, pinned(chosen));
      setNodeCopy(this.#attached(), chosen.bytes);
    } else if (this.#chosen && handle === this.#handle) {
      native.setSessionIdContext(handle, null, false);
      setNodeCopy(this.#attached(), this.#nodeText ?? Buffer.alloc(0));
    }
    this.#handle = handle;
    this.#chosen = chosen;
    this.#unfollow?.();
    this.#unfollow = undefined;
    if (chosen && this.#server) {
      const bytes = chosen.bytes;
      const perConnection = pinned(chosen);
      this.#unfollow = followSniContexts(this.#server, this.#attached, {
        hang: (ctx) => (native.sessionIdContextHang(ctx._external, bytes, perConnection), setNodeCopy(ctx, bytes), true),
        // Node 22/24 never read an SNI context's copy (the initial context's decides): the native bytes are what changed.
        unhang: (ctx) => native.sessionIdContextHang(ctx._external, null, false),
      });
    }
  }

  /** The bytes applied by this package, or undefined while Node's own are in force. */
  bytes(): Buffer | undefined {
    return this.#chosen?.bytes;
  }

  stats(): SessionIdContextStats {
    if (this.#chosen) return { source: this.#chosen.source, fingerprint: fingerprint(this.#chosen.bytes) };
    if (this.#nodeFingerprint === undefined && this.#handle) {
      const bytes = native.sessionIdContextOf(this.#handle);
      this.#nodeFingerprint = bytes ? fingerprint(bytes) : '';
    }
    return { source: 'node', fingerprint: this.#nodeFingerprint ?? '' };
  }

  /** Gives the SNI contexts Node's back; the attached context gets its bytes from native detach. */
  detach(): void {
    if (this.#chosen) setNodeCopy(this.#attached(), this.#nodeText ?? Buffer.alloc(0));
    this.#unfollow?.();
    this.#unfollow = undefined;
    this.#chosen = null;
    this.#handle = undefined;
  }
}
