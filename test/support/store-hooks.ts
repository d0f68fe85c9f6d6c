/**
 * The test addon (build/Release/tls_resumption_test.node, built from test/native/): hooks that
 * make a process misbehave inside a shared store, and the store's own layout arithmetic. The
 * library's binary has none of this.
 */
import * as path from 'node:path';

export interface StoreLayout {
  slotCount: number;
  stripeCount: number;
  ways: number;
  stripesAt: number;
  stripeBytes: number;
  lockOffset: number;
  touchingOffset: number;
  indexAt: number;
  indexEntryBytes: number;
  slotsAt: number;
  slotHeaderBytes: number;
  layoutVersionOffset: number;
}

export interface StoreHooks {
  /** Takes every stripe lock of the store and returns holding them (the process stays alive). */
  lockAllStripes(path: string, sizeBytes: number, slotBytes: number, privateDir: boolean): number;
  /** Marks the first live slot as being written, half-overwrites it, returns holding its stripe. */
  dieWriting(path: string, sizeBytes: number, slotBytes: number, privateDir: boolean): number;
  layout(sizeBytes: number, slotBytes: number): StoreLayout;
  /** An OpenSSL-level SNI switch: every connection on `from` moves to `to` at its ClientHello (SSL_set_SSL_CTX). */
  switchContextOnHello(fromExternal: unknown, toExternal: unknown): void;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const hooks: StoreHooks = require(path.join(__dirname, '..', '..', 'build', 'Release', 'tls_resumption_test.node'));
