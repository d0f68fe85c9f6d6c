/**
 * The compiled addon (native/), loaded through node-gyp-build: a prebuild for this Node ABI
 * when one ships, else the local build in build/. Internal: the public API is in attach.ts.
 */
import * as path from 'node:path';
import { loadBinding } from './binding-loader';
import {
  CACHE_COUNTER_FIELDS,
  type CacheCounters,
  checkNativeList,
  RESUMPTION_FAILURE_REASONS,
  type ResumptionFailures,
  SHARED_STAT_FIELDS,
  type SharedStoreStats,
} from './stats';

/** Opaque handle to one attached SSL_CTX (a counted reference held by the addon). */
export type NativeAttachment = { readonly __brand: 'NativeAttachment' };

/** OpenSSL's counters for one context plus its current settings, as the addon reads them. */
export type NativeStats = CacheCounters & NativeNodeDefaults;

/** Opaque handle to a native ticket key ring (shared_ptr held by the addon). */
export type NativeRing = { readonly __brand: 'NativeRing' };

export interface NativeRingStats {
  issued: number;
  resumed: number;
  renewed: number;
  unknownKey: number;
  failed: number;
  keys: Record<string, { encrypted: number; decrypted: number; bits: number }>;
  encrypting: string | null;
}

/** One key of a shared store's key table, newest first: its public id and when it was made. */
export interface NativeSharedKey {
  id: string;
  createdMs: number;
}

export interface NativeNodeDefaults {
  mode: number;
  size: number;
  timeoutSeconds: number;
  ticketsEnabled: boolean;
  tls13Count: number;
  /** SSL_OP_ALLOW_NO_DHE_KEX and SSL_OP_PREFER_NO_DHE_KEX both set. */
  pskKe: boolean;
}

/** What d2i_SSL_SESSION + SSL_SESSION_get_* read from a client session's DER (session_inspect.cc). */
export interface NativeSessionInfo {
  protocol: string;
  lifetimeHintSeconds: number;
  hasTicket: boolean;
  sessionIdLength: number;
  timeoutSeconds: number;
  maxEarlyData: number;
  /** The ticket bytes as sent on the wire (empty when none). */
  ticket: Buffer;
  /** The session-ID context a server session was made in (empty in client sessions). */
  sessionIdContext: Buffer;
}

/** One provider in Node's default OpenSSL library context (crypto_providers.cc). */
export interface NativeProviderInfo {
  name: string;
  description: string;
  version: string;
  buildInfo: string;
  active: boolean;
}

export interface NativeEngineInfo {
  id: string;
  name: string;
  flags: number;
}

/** Where a context's private key lives (crypto_engines.cc). */
export interface NativeKeySource {
  kind: 'none' | 'software' | 'engine' | 'provider';
  type: string;
  bits: number;
  provider: string;
  module: string;
}

export interface NativeOpenSslInfo {
  version: string;
  builtOn: string;
  platform: string;
  dir: string;
  enginesDir: string;
  modulesDir: string;
  cpuInfo: string;
}

/** Shared store counters as the addon reads them from the store's header. */
export type NativeSharedStats = Omit<SharedStoreStats, 'path'>;

/** Per-protocol counts as the addon reads them (native/server/resumption_stats.cc). */
export type NativePerProtocol = Record<'TLSv1.2' | 'TLSv1.3', number>;

/** Resumption outcomes of one context (native/server/resumption_stats.cc). */
export interface NativeResumptionStats {
  offered: NativePerProtocol;
  resumed: NativePerProtocol;
  resumedPskKe: NativePerProtocol;
  failed: Record<keyof ResumptionFailures, NativePerProtocol>;
  /** Upper bounds of the session-age histogram buckets, seconds (a last bucket takes the rest). */
  ageBounds: number[];
  age: Record<'TLSv1.2' | 'TLSv1.3', { counts: number[]; sumSeconds: number }>;
}

/** One sampled failed resumption (native/server/resumption_stats.cc). */
export interface NativeResumptionSample {
  reason: keyof ResumptionFailures;
  protocol: 'TLSv1.2' | 'TLSv1.3';
  mechanism: 'sessionId' | 'tls12Ticket' | 'tls13Ticket' | 'tls13Stateful';
  atMs: number;
  suppressed: number;
}

/** The outbound cache's shared store (native/client/client_store.cc; src/client/shared-store.ts). */
export interface NativeClientStore {
  take(keys: Buffer, remove: boolean): Buffer | null;
  put(keys: Buffer, der: Buffer, expiresAtSeconds: number, firstFree: boolean): boolean;
  remove(key: Buffer): boolean;
  stats(): NativeSharedStats;
  flush(all: boolean): number;
  close(): void;
}

export interface NativeBinding {
  ClientStore: new (path: string, sizeBytes: number, slotBytes: number, privateDir: boolean) => NativeClientStore;
  attach(external: unknown): NativeAttachment;
  /** AES-256-GCM open straight into `out` (ciphertext's length); false (out wiped) when it does not verify. sealed-box.ts. */
  sealedOpen(key: Buffer, iv: Buffer, tag: Buffer, aad: Buffer, ciphertext: Buffer, out: Buffer): boolean;
  contextId(external: unknown): bigint;
  applyCache(h: NativeAttachment, enabled: boolean, modeFlags: number, size: number, timeoutSeconds: number): void;
  applyTickets(h: NativeAttachment, enabled: boolean, tls13Count: number, pskKe: boolean, tls13CountOnResumption: number): void;
  stats(h: NativeAttachment): NativeStats;
  flush(h: NativeAttachment, all: boolean): number;
  nodeDefaults(h: NativeAttachment): NativeNodeDefaults;
  detach(h: NativeAttachment): void;
  /**
   * Our session-ID context on the context (null: the one Node had set). `perConnection`: also on
   * every connection and new session, over Node 22/24's per-connection context.
   */
  setSessionIdContext(h: NativeAttachment, bytes: Buffer | null, perConnection: boolean): void;
  /** The same on an SNI context (a SecureContext `_external`). */
  sessionIdContextHang(external: unknown, bytes: Buffer | null, perConnection: boolean): void;
  /** Session IDs the context issues end with a tag keyed by `key` (16 bytes; native/server/session_id_tag.cc). */
  sessionIdTag(h: NativeAttachment, key: Buffer): void;
  ringNew(): NativeRing;
  ringAddKey(r: NativeRing, key: Buffer): string;
  ringRemoveKey(r: NativeRing, id: string): boolean;
  ringSetEncrypting(r: NativeRing, id: string): boolean;
  ringAddSecret(r: NativeRing, secret: Buffer): string;
  ringRemoveSecret(r: NativeRing, id: string): boolean;
  ringDeriveKey(r: NativeRing, secretId: string, epoch: number): string;
  ringStats(r: NativeRing): NativeRingStats;
  ringAttach(h: NativeAttachment, r: NativeRing | null): void;
  ringHang(external: unknown, r: NativeRing | null, previous?: NativeRing): boolean;
  /** The ring takes its keys from the attachment's shared store (null: stops); false when the store is not in memory. */
  ringShareKeys(r: NativeRing, h: NativeAttachment | null): boolean;
  /** Syncs the ring with the store's key table (native/server/shared_ticket_keys.cc); null when the table's lock timed out. */
  ringSyncShared(r: NativeRing, nowMs: number, rotateEveryMs: number, keepKeys: number, rotate: boolean): NativeSharedKey[] | null;
  /** Removes a key from the store's key table. */
  ringRemoveShared(r: NativeRing, id: string): boolean;
  selfSignedCertificate(commonName: string, days: number): { key: string; cert: string };
  sharedAttach(h: NativeAttachment, path: string, sizeBytes: number, slotBytes: number, privateDir: boolean): void;
  sharedRehook(h: NativeAttachment): void;
  /**
   * What the context's connections hold as their session-ID context when the shared store is asked
   * for a session: `bytes`, or with `bindsServerName` (Node 22/24) SHA-256 of them, a NUL and the
   * ClientHello's SNI name (native/common/session_id_context.h ConnectionScope).
   */
  storeScope(h: NativeAttachment, bytes: Buffer, bindsServerName: boolean): void;
  /** The session-ID context OpenSSL holds for the context (null if it cannot be read back). */
  sessionIdContextOf(h: NativeAttachment): Buffer | null;
  /** SHA-256 digests (null when empty) of the certificates a context serves and of its client CA names (a SecureContext `_external`). */
  contextIdentity(external: unknown): { certificates: Buffer | null; clientCaNames: Buffer | null };
  sharedDetach(h: NativeAttachment): void;
  sharedStats(h: NativeAttachment): NativeSharedStats;
  sharedFlush(h: NativeAttachment, all: boolean): number;
  sharedReopenIfLost(h: NativeAttachment): { reopened: boolean; error?: string } | null;
  flushLocal(h: NativeAttachment, all: boolean): number;
  /** A store file's header and in-use marker, without attaching (shared_store_file.cc). */
  sharedInspect(path: string): {
    isStore: boolean;
    layoutVersion: number;
    totalBytes: number;
    slotBytes: number;
    capacity: number;
    inUse: boolean;
  };
  /** Hands every session the context issues (ID, DER, expiry in epoch seconds) to `fn` on the JS thread; null stops (fleet_replication.cc). */
  fleetCapture(h: NativeAttachment, fn: ((id: Buffer, der: Buffer, expiresAt: number) => void) | null): void;
  /** Puts another member's session into the context's store (the shared store, else OpenSSL's cache). */
  fleetImport(h: NativeAttachment, der: Buffer): 'stored' | 'expired' | 'invalid' | 'notStored';
  /** Sessions the capture queue could not take. */
  fleetCaptureDropped(h: NativeAttachment): number;
  resumptionApply(h: NativeAttachment, maxAgeSeconds: number, nodeTicketKeyName: Buffer | null): void;
  resumptionStats(h: NativeAttachment): NativeResumptionStats;
  resumptionSamples(h: NativeAttachment): NativeResumptionSample[];
  resumptionStoreError(h: NativeAttachment, sessionId: Buffer): void;
  /** The failure reasons the addon counts, in its order (native/server/resumption_state.h). */
  resumptionFailureReasons: readonly string[];
  /** The fields `stats()` reads from OpenSSL's counters, in its order (native/server/cache_controls.cc). */
  cacheCounterFields: readonly string[];
  /** The fields of a shared store's stats, in its order (native/common/shared_store_napi.cc). */
  sharedStatFields: readonly string[];
  /** Benchmark only: removes the resumption counting callbacks (the control in bench:instructions). */
  _resumptionCountingOff(h: NativeAttachment): void;
  opensslVersion: string;
  /** NODE_MODULE_VERSION of the headers the binary was compiled against. */
  builtForAbi: number;
  /** Node release of those headers, e.g. "v24.22.3". */
  builtForNode: string;
  inspectSession(der: Buffer): NativeSessionInfo | null;
  providers(): NativeProviderInfo[];
  loadProvider(name: string, path: string | undefined): NativeProviderInfo;
  engines(): NativeEngineInfo[];
  keySource(external: unknown): NativeKeySource;
  loadEngineKey(external: unknown, engine: string, keyId: string, module: string | undefined, pin: Buffer | undefined): NativeKeySource;
  opensslInfo(): NativeOpenSslInfo;
}

export const native: NativeBinding = loadBinding(path.join(__dirname, '..', '..')) as NativeBinding;
checkNativeList('resumption failure reasons', native.resumptionFailureReasons, RESUMPTION_FAILURE_REASONS);
checkNativeList('cache counter fields', native.cacheCounterFields, CACHE_COUNTER_FIELDS);
checkNativeList('shared store stat fields', native.sharedStatFields, SHARED_STAT_FIELDS);
