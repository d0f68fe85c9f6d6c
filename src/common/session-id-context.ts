/**
 * The session-ID context: OpenSSL records it in every server session and refuses to resume a
 * session (ticket, session ID, shared store) whose context differs from the connection's. It is
 * the one thing that keeps a session of one service from resuming on another: a session carries
 * the client's authentication (its certificate, `authorized`), so resuming it elsewhere skips
 * that service's own client-certificate check. Node sets it from `process.argv` unless the server
 * was given `sessionIdContext`, so processes of one fleet whose command lines differ (a port
 * argument is enough) never resume each other's clients.
 *
 * What is in force, first match wins:
 * 1. the `sessionIdContext` option;
 * 2. Node's, when the server was created with its own `sessionIdContext` (the user chose it), or
 *    the target is a bare SecureContext;
 * 3. in a fleet mode (a ticket key ring, the `fleet` session store, a `shared` store), 32 hex
 *    characters derived from
 *    - the fleet's identity, never revealing a secret: HKDF-SHA256 of the wrapping secret and key
 *      (`fromRedis`), of the session-store secret and prefix (`fleet`), SHA-256 of the store file
 *      (`shared.name` or `shared.path`), and one fixed value for every `fromSecret` ring (its
 *      secret cannot name the fleet: replacing it, `fromSecret(new)` + `addSecret(old)` beside
 *      members still on `fromSecret(old)`, must keep resuming);
 *    - AND what decides who may resume, as nginx's `ngx_ssl_session_id_context()` does: the
 *      certificates (and chains) the server serves, its client-certificate policy (`requestCert`,
 *      `rejectUnauthorized`), its client CA names (Node's `ca` option), and the same for each SNI
 *      context in `server._contexts` (`addContext()`; Node keeps the default context's session-ID
 *      context for SNI connections and takes only the SNI context's certificate, chain, client CA
 *      names and verify store, so one context must cover them all), and whether a user
 *      `SNICallback` is set (its contexts appear after the resumption decision and cannot enter:
 *      such a server should set `sessionIdContext`).
 *    Members with one configuration derive the same bytes whatever their command line; services
 *    that differ in any input never resume each other's sessions. `addContext()` after attach
 *    derives again;
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

/** What went into a derived session-ID context (names only, never values), in derivation order. */
export const SESSION_ID_CONTEXT_INPUTS = Object.freeze([
  /** The `sessionIdContext` option, as given. */
  'sessionIdContext',
  /** The ticket key ring's identity (`fromSecret`: one fixed value; `fromRedis`: its wrapping secret and key). */
  'ringIdentity',
  /** The `fleet` session store's secret and prefix. */
  'fleetIdentity',
  /** The shared store's file (`shared.name` or `shared.path`). */
  'sharedStore',
  /** The certificates and chains the server serves. */
  'certificates',
  /** `requestCert` and `rejectUnauthorized` of the server. */
  'clientCertificatePolicy',
  /** The client CA names (the `ca` option) the server accepts. */
  'clientCaNames',
  /** The SNI contexts of `addContext()`: their names, certificates and client CA names. */
  'sniContexts',
  /** That a user `SNICallback` is set (its contexts cannot enter). */
  'sniCallback',
] as const);

/** One name of `SESSION_ID_CONTEXT_INPUTS`. */
export type SessionIdContextInput = (typeof SESSION_ID_CONTEXT_INPUTS)[number];

/** `stats().sessionIdContext`: compare it between machines that should resume each other's clients. */
export interface SessionIdContextStats {
  source: SessionIdContextSource;
  /** Hex of the first 8 bytes of SHA-256 of the context: names it without revealing it. */
  fingerprint: string;
  /** What the context was made of (empty for Node's own). */
  inputs: SessionIdContextInput[];
}

/** A context to apply: the option's bytes, or a fleet identity the control derives the context from. */
export type ChosenSessionIdContext =
  | { source: 'option'; bytes: Buffer }
  | { source: Exclude<SessionIdContextSource, 'node' | 'option'>; identity: Array<[SessionIdContextInput, Buffer]> };

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
  const identity: Array<[SessionIdContextInput, Buffer]> = [];
  if (i.ring) identity.push(['ringIdentity', i.ring]);
  if (i.fleet) identity.push(['fleetIdentity', i.fleet]);
  // A fleet member's shared store is its local copy of the fleet's sessions: members with and
  // without one are the same service, so the fleet identity stands for it.
  if (i.sharedPath !== undefined && !i.fleet) identity.push(['sharedStore', sharedPathSessionIdContext(i.sharedPath)]);
  if (identity.length === 0) return null;
  return { source: i.ring ? 'ring' : i.fleet ? 'fleet' : 'shared', identity };
}

interface ServerPolicy {
  requestCert?: unknown;
  rejectUnauthorized?: unknown;
  /** Node keeps the native context (older lines: the SecureContext holding it). */
  _contexts?: Array<[RegExp, NodeNativeContext | { context: NodeNativeContext }]>;
}

/** A derived context: the fleet identity, then what decides who may resume on `server` (see above). */
export function deriveSessionIdContext(
  identity: Array<[SessionIdContextInput, Buffer]>,
  server: tls.Server,
  attached: NodeNativeContext,
): { bytes: Buffer; inputs: SessionIdContextInput[]; covered: Set<NodeNativeContext> } {
  const parts: Array<[SessionIdContextInput, string, Buffer]> = identity.map(([name, bytes]) => [name, '', bytes]);
  const s = server as unknown as ServerPolicy;
  const policy = `requestCert=${s.requestCert === true}\0rejectUnauthorized=${s.rejectUnauthorized !== false}`;
  parts.push(['clientCertificatePolicy', '', Buffer.from(policy)]);
  const addContext = (ctx: NodeNativeContext, label: string, sni: boolean) => {
    const { certificates, clientCaNames } = native.contextIdentity(ctx._external);
    if (certificates) parts.push([sni ? 'sniContexts' : 'certificates', `${label}certificates`, certificates]);
    if (clientCaNames) parts.push([sni ? 'sniContexts' : 'clientCaNames', `${label}clientCaNames`, clientCaNames]);
    if (sni && !certificates && !clientCaNames) parts.push(['sniContexts', label, Buffer.alloc(0)]);
  };
  addContext(attached, '', false);
  const covered = new Set<NodeNativeContext>();
  for (const [pattern, entry] of s._contexts ?? []) {
    const ctx = entry && '_external' in entry ? entry : entry?.context;
    if (!ctx) continue;
    addContext(ctx, `sni\0${pattern.source}\0`, true);
    covered.add(ctx);
  }
  if (Object.getOwnPropertySymbols(server).some((k) => k.description === 'snicallback' && typeof (server as never)[k] === 'function')) {
    parts.push(['sniCallback', '', Buffer.alloc(0)]);
  }
  const hash = crypto.createHash('sha256').update(`${SALT}\0derived`);
  for (const [name, label, bytes] of parts) {
    for (const field of [Buffer.from(name), Buffer.from(label), bytes]) {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(field.length);
      hash.update(len).update(field);
    }
  }
  const bytes = Buffer.from(hash.digest('hex').slice(0, 32));
  const inputs = SESSION_ID_CONTEXT_INPUTS.filter((name) => parts.some(([n]) => n === name));
  return { bytes, inputs, covered };
}

/** The option's bytes are the user's exact ones (a peer's): pinned per connection on every line. */
function pinned(chosen: ChosenSessionIdContext): boolean {
  return chosen.source === 'option';
}

interface NodeSessionIdContextSetter {
  setSessionIdContext(value: string): void;
}

/** Whether Node's setter can take `bytes` (it takes non-empty text only). */
function nodeCanHold(bytes: Buffer): boolean {
  const value = bytes.toString('utf8');
  return value !== '' && Buffer.from(value, 'utf8').equals(bytes);
}

/** Node's own setter (updates the copy Node 22/24 hash per connection); only those lines need it, and it takes text only. */
function setNodeCopy(ctx: NodeNativeContext, bytes: Buffer): void {
  if (NODE_BINDS_CONTEXT_TO_SERVER_NAME && nodeCanHold(bytes)) {
    (ctx as unknown as NodeSessionIdContextSetter).setSessionIdContext(bytes.toString('utf8'));
  }
}

/** A chosen context with its bytes in force. */
interface Resolved {
  chosen: ChosenSessionIdContext;
  bytes: Buffer;
  inputs: SessionIdContextInput[];
  /** The SNI contexts the derivation covered. */
  covered: Set<NodeNativeContext>;
}

/** Keeps one attachment's session-ID context (and its SNI contexts') as chosen. */
export class SessionIdContextControl {
  readonly #server: tls.Server | undefined;
  readonly #attached: () => NodeNativeContext;
  #handle: NativeAttachment | undefined;
  #resolved: Resolved | null = null;
  #nodeFingerprint: string | undefined;
  /** The context's bytes before our first change: what Node 22/24 get back. */
  #nodeText: Buffer | undefined;
  #unfollow: (() => void) | undefined;
  /** The SNI contexts carrying our bytes now. */
  readonly #hung = new Set<NodeNativeContext>();
  /** The fingerprint of the context in force: the scope of fleet store entries (fleet-entry.ts), computed on first use after a change. */
  #scope: string | undefined;

  constructor(server: tls.Server | undefined, attached: () => NodeNativeContext) {
    this.#server = server;
    this.#attached = attached;
  }

  #resolve(chosen: ChosenSessionIdContext | null): Resolved | null {
    if (!chosen) return null;
    if (chosen.source === 'option') return { chosen, bytes: chosen.bytes, inputs: ['sessionIdContext'], covered: new Set() };
    return { chosen, ...deriveSessionIdContext(chosen.identity, this.#server!, this.#attached()) };
  }

  /** Applies `chosen` (null: Node's) to `handle`'s context, natively, when it is not already in force there. */
  apply(handle: NativeAttachment, chosen: ChosenSessionIdContext | null): void {
    const next = this.#resolve(chosen);
    const current = this.#resolved;
    const same = handle === this.#handle && (next === null ? current === null : !!current && current.bytes.equals(next.bytes));
    if (same) {
      this.#resolved = next;
      this.#publishStoreScope();
      return;
    }
    if (handle !== this.#handle) {
      this.#nodeFingerprint = undefined;
      this.#nodeText = undefined;
    }
    if (next) {
      this.#nodeText ??= native.sessionIdContextOf(handle) ?? Buffer.alloc(0);
      native.setSessionIdContext(handle, next.bytes, pinned(next.chosen));
      setNodeCopy(this.#attached(), next.bytes);
    } else if (current && handle === this.#handle) {
      native.setSessionIdContext(handle, null, false);
      setNodeCopy(this.#attached(), this.#nodeText ?? Buffer.alloc(0));
    }
    this.#handle = handle;
    this.#resolved = next;
    this.#scope = undefined;
    this.#publishStoreScope();
    this.#unfollow?.();
    this.#unfollow = undefined;
    if (next && this.#server) {
      this.#unfollow = followSniContexts(this.#server, this.#attached, {
        hang: (ctx) => this.#hang(ctx),
        // Node 22/24 never read an SNI context's copy (the initial context's decides): the native bytes are what changed.
        unhang: (ctx) => {
          this.#hung.delete(ctx);
          native.sessionIdContextHang(ctx._external, null, false);
        },
      });
    }
  }

  // A new SNI context: a derived context covers every context of `addContext()`, so it is derived
  // again and, when it moved, set anew on the default context and on every SNI context.
  #hang(ctx: NodeNativeContext): boolean {
    const resolved = this.#resolved;
    if (!resolved || !this.#handle) return false;
    if (resolved.chosen.source !== 'option' && !resolved.covered.has(ctx)) {
      const again = this.#resolve(resolved.chosen)!;
      this.#resolved = again;
      if (!again.bytes.equals(resolved.bytes)) {
        this.#scope = undefined;
        native.setSessionIdContext(this.#handle, again.bytes, pinned(again.chosen));
        setNodeCopy(this.#attached(), again.bytes);
        this.#publishStoreScope();
        for (const hung of this.#hung) this.#hangBytes(hung, again.bytes);
      }
    }
    this.#hangBytes(ctx, this.#resolved!.bytes);
    this.#hung.add(ctx);
    return true;
  }

  /**
   * Tells the native side what a connection holds as its session-ID context when the shared store
   * is asked (native/common/session_id_context.h ConnectionScope), so the store answers only for
   * sessions OpenSSL would accept: on 20 and 26 the context's bytes as OpenSSL holds them; on 22 and
   * 24 the text Node hashes with the SNI name per connection, which is Node's copy: ours when Node
   * could take it (setNodeCopy), else what Node had.
   */
  #publishStoreScope(): void {
    const handle = this.#handle;
    if (!handle) return;
    const ours = this.#resolved?.bytes;
    const nodes = (): Buffer => this.#nodeText ?? native.sessionIdContextOf(handle) ?? Buffer.alloc(0);
    const bytes = NODE_BINDS_CONTEXT_TO_SERVER_NAME
      ? ours && nodeCanHold(ours)
        ? ours
        : nodes()
      : (ours ?? native.sessionIdContextOf(handle) ?? Buffer.alloc(0));
    native.storeScope(handle, bytes, NODE_BINDS_CONTEXT_TO_SERVER_NAME);
  }

  #hangBytes(ctx: NodeNativeContext, bytes: Buffer): void {
    native.sessionIdContextHang(ctx._external, bytes, pinned(this.#resolved!.chosen));
    setNodeCopy(ctx, bytes);
  }

  /**
   * The scope of the fleet store's entries: from the context in force on the attached context
   * (ours, or Node's as OpenSSL holds it). On Node 22/24 each connection hashes it with its SNI
   * name; the scope is the service's, one level up, which is what separates services.
   */
  scope(): string {
    if (this.#scope === undefined) {
      const bytes = this.#resolved?.bytes ?? (this.#handle ? native.sessionIdContextOf(this.#handle) : null) ?? Buffer.alloc(0);
      this.#scope = fingerprint(bytes);
    }
    return this.#scope;
  }

  /** The bytes applied by this package, or undefined while Node's own are in force. */
  bytes(): Buffer | undefined {
    return this.#resolved?.bytes;
  }

  stats(): SessionIdContextStats {
    const r = this.#resolved;
    if (r) return { source: r.chosen.source, fingerprint: fingerprint(r.bytes), inputs: [...r.inputs] };
    if (this.#nodeFingerprint === undefined && this.#handle) {
      const bytes = native.sessionIdContextOf(this.#handle);
      this.#nodeFingerprint = bytes ? fingerprint(bytes) : '';
    }
    return { source: 'node', fingerprint: this.#nodeFingerprint ?? '', inputs: [] };
  }

  /** Gives the SNI contexts Node's back; the attached context gets its bytes from native detach. */
  detach(): void {
    if (this.#resolved) setNodeCopy(this.#attached(), this.#nodeText ?? Buffer.alloc(0));
    this.#unfollow?.();
    this.#unfollow = undefined;
    this.#hung.clear();
    this.#resolved = null;
    this.#scope = undefined;
    this.#handle = undefined;
  }
}
