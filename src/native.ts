/**
 * The compiled addon (native/), loaded through node-gyp-build: a prebuild for this Node ABI
 * when one ships, else the local build in build/. Internal: the public API is in attach.ts.
 */
import * as path from 'node:path';
import nodeGypBuild = require('node-gyp-build');

/** Opaque handle to one attached SSL_CTX (a counted reference held by the addon). */
export type NativeAttachment = { readonly __brand: 'NativeAttachment' };

/** OpenSSL's counters for one context plus its current settings, as the addon reads them. */
export interface NativeStats {
  sessions: number;
  hits: number;
  misses: number;
  timeouts: number;
  cacheFull: number;
  callbackHits: number;
  accepts: number;
  acceptsGood: number;
  acceptsRenegotiate: number;
  connects: number;
  connectsGood: number;
  connectsRenegotiate: number;
  mode: number;
  size: number;
  timeoutSeconds: number;
  ticketsEnabled: boolean;
  tls13Count: number;
}

export interface NativeNodeDefaults {
  mode: number;
  size: number;
  timeoutSeconds: number;
  ticketsEnabled: boolean;
  tls13Count: number;
}

/** Shared store counters as the addon reads them from the store's header. */
export interface NativeSharedStats {
  entries: number;
  capacity: number;
  bytesPerSession: number;
  maxSessionBytes: number;
  totalBytes: number;
  evictions: number;
  expiries: number;
  tooLarge: number;
  lockWaits: number;
  recoveries: number;
  corrupt: number;
  hits: number;
  misses: number;
  stores: number;
  deletes: number;
}

export interface NativeBinding {
  attach(external: unknown): NativeAttachment;
  contextId(external: unknown): bigint;
  applyCache(h: NativeAttachment, enabled: boolean, modeFlags: number, size: number, timeoutSeconds: number): void;
  applyTickets(h: NativeAttachment, enabled: boolean, tls13Count: number): void;
  stats(h: NativeAttachment): NativeStats;
  flush(h: NativeAttachment, all: boolean): number;
  nodeDefaults(h: NativeAttachment): NativeNodeDefaults;
  detach(h: NativeAttachment): void;
  selfSignedCertificate(commonName: string, days: number): { key: string; cert: string };
  sharedAttach(h: NativeAttachment, path: string, sizeBytes: number, slotBytes: number, sessionIdContext: Buffer): void;
  sharedRehook(h: NativeAttachment): void;
  sharedDetach(h: NativeAttachment): void;
  sharedStats(h: NativeAttachment): NativeSharedStats;
  sharedFlush(h: NativeAttachment, all: boolean): number;
  flushLocal(h: NativeAttachment, all: boolean): number;
  /** TEST ONLY: takes the shared store's lock and returns holding it (see native/session_callbacks.cc). */
  _lockAndHang(h: NativeAttachment): number;
  /** Benchmark only: times the shared store's insert and lookup (native/shared_store_bench.cc). */
  _benchSharedStore(path: string, sizeBytes: number, slotBytes: number, entries: number, ops: number): {
    capacity: number; entries: number; fillNsPerInsert: number; lookupNs: number; insertNs: number; hitRatio: number;
  };
  opensslVersion: string;
}

export const native: NativeBinding = nodeGypBuild(path.join(__dirname, '..')) as NativeBinding;
