/**
 * The stat shapes the addon reports and the public API returns, declared once: native.ts types
 * the binding with them, server/stats.ts and shared-store.ts return them. The lists the addon
 * also keeps (the failure reasons, the cache counters, the shared store's fields) are compared
 * with the addon's at load (native.ts), and each list here with its interface at compile time.
 */

import { ErrorCodes, withCode } from './validate';

/** OpenSSL's SSL_CTX_sess_* counters for the attached context (names as Python's session_stats()). */
export interface CacheCounters {
  /** Sessions now in the internal cache. */
  sessions: number;
  /** Sessions resumed from the internal cache. */
  hits: number;
  /** Session IDs a client offered that were not in the cache. */
  misses: number;
  /** Sessions offered that were found but had expired. */
  timeouts: number;
  /** Sessions evicted because the cache was at `size`. */
  cacheFull: number;
  /** Sessions resumed through a get-session callback (Node's 'resumeSession', a shared store). */
  callbackHits: number;
  /** Server handshakes started. */
  accepts: number;
  /** Server handshakes completed. */
  acceptsGood: number;
  /** Server renegotiations started. */
  acceptsRenegotiate: number;
  /** Client handshakes started (client contexts only). */
  connects: number;
  /** Client handshakes completed. */
  connectsGood: number;
  /** Client renegotiations started. */
  connectsRenegotiate: number;
}

/** Exactly the same set of names: a list that misses a field, or names one that is not there, fails to compile. */
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** The fields of CacheCounters in the addon's order (native/server/cache_controls.cc); compared with the addon's list at load. */
export const CACHE_COUNTER_FIELDS = Object.freeze([
  'sessions',
  'hits',
  'misses',
  'timeouts',
  'cacheFull',
  'callbackHits',
  'accepts',
  'acceptsGood',
  'acceptsRenegotiate',
  'connects',
  'connectsGood',
  'connectsRenegotiate',
] as const);
const CACHE_COUNTER_FIELDS_COMPLETE: SameKeys<(typeof CACHE_COUNTER_FIELDS)[number], keyof CacheCounters> = true;
void CACHE_COUNTER_FIELDS_COMPLETE;

/** Why an offered session was not resumed: `stats().resumption.failed` (see docs/resumption-reasons.md). */
export interface ResumptionFailures {
  /** Session ID in no cache, store or fleet. */
  notFound: number;
  /** Ticket under a key the ring (or Node's key) does not hold. */
  unknownKey: number;
  /** Ticket under a known key that failed its HMAC or decryption. */
  badTicket: number;
  /** Session found, past its lifetime. */
  expired: number;
  /** Refused by `maxSessionAgeSeconds`. */
  tooOld: number;
  /** Session from another session-ID context. */
  contextMismatch: number;
  /** Another protocol version, or a TLS 1.3 PSK whose hash does not fit the negotiated suite. */
  protocolMismatch: number;
  /** Shared store or fleet lookup failed or timed out. */
  storeError: number;
  /** A replicating fleet member (`fleet.replicate`) does not hold a session another member issued: not arrived yet (or dropped for room first). */
  notYetReplicated: number;
}

/** Reason names, in the order of `ResumptionFailures`. */
export const RESUMPTION_FAILURE_REASONS: readonly (keyof ResumptionFailures)[] = Object.freeze([
  'notFound',
  'unknownKey',
  'badTicket',
  'expired',
  'tooOld',
  'contextMismatch',
  'protocolMismatch',
  'storeError',
  'notYetReplicated',
]);

/** Counters of the shared store, as every process sees them (`stats().shared`). */
export interface SharedStoreStats {
  /** Path of the store file. */
  path: string;
  /** Sessions in the store now. */
  entries: number;
  /** Sessions the store can hold. */
  capacity: number;
  /** File bytes per session: slot plus its 16-byte index entry. */
  bytesPerSession: number;
  /** Largest DER-encoded session a slot holds, bytes. */
  maxSessionBytes: number;
  /** Size of the store file, bytes. */
  totalBytes: number;
  /** Lock stripes: sets of slots guarded by one lock each (up to 1024), so workers on different stripes never wait for each other. */
  stripes: number;
  /** Live sessions dropped to make room (the oldest of their set). */
  evictions: number;
  /** Sessions dropped because their timeout passed. */
  expiries: number;
  /** Sessions not stored because they were larger than a slot. */
  tooLarge: number;
  /** Lock acquisitions that had to wait for another process or thread. */
  lockWaits: number;
  /** Lock waits given up after 2 ms (a holder that is stopped or stalled): each one a miss or an unstored session, never a stalled handshake. */
  lockTimeouts: number;
  /** Times a process found the lock's holder dead and repaired the store. */
  recoveries: number;
  /** Entries that failed their checksum or did not decode: treated as misses and dropped. */
  corrupt: number;
  /** Lookups that found a session. */
  hits: number;
  /** Lookups that found nothing. */
  misses: number;
  /** Sessions written. */
  stores: number;
  /**
   * Lookups that found the session ID only under another session-ID context (another service's
   * session, or on Node 22/24 another SNI name's): misses before anything of the entry was copied or
   * decoded, also counted in `misses` and in `resumption.failed.contextMismatch`.
   */
  contextMisses: number;
  /** The store file was truncated under this process: every lookup is a miss (`storeError`) until it is reopened (within a second). */
  lost: boolean;
  /** Times this process reopened the store file after finding it truncated (the `sharedStoreReopened` event tells each). */
  reopens: number;
  /**
   * Ticket keys the store holds for the `TicketKeyRing.generate()` rings attached with it, which
   * every process using the store shares (0 without such a ring, and always 0 for a store that is
   * not in memory: keys never go to disk). Wiped when the last process using the store detaches.
   */
  ticketKeys: number;
}

/** The fields of SharedStoreStats the addon fills, in its order (native/common/shared_store_napi.cc); `path` is added here. */
export const SHARED_STAT_FIELDS = Object.freeze([
  'entries',
  'capacity',
  'bytesPerSession',
  'maxSessionBytes',
  'totalBytes',
  'evictions',
  'expiries',
  'tooLarge',
  'stripes',
  'lockWaits',
  'lockTimeouts',
  'recoveries',
  'corrupt',
  'hits',
  'misses',
  'stores',
  'contextMisses',
  'reopens',
  'lost',
  'ticketKeys',
] as const);
const SHARED_STAT_FIELDS_COMPLETE: SameKeys<(typeof SHARED_STAT_FIELDS)[number], Exclude<keyof SharedStoreStats, 'path'>> = true;
void SHARED_STAT_FIELDS_COMPLETE;

/**
 * Throws when the addon's copy of a list differs from this one: a binary and JavaScript from two
 * builds must fail at load, never later inside `stats()`.
 */
export function checkNativeList(what: string, fromAddon: readonly string[] | undefined, ours: readonly string[]): void {
  if (Array.isArray(fromAddon) && fromAddon.length === ours.length && fromAddon.every((v, i) => v === ours[i])) return;
  throw withCode(
    new Error(
      `tls-resumption: the native addon's ${what} (${JSON.stringify(fromAddon)}) differ from this JavaScript's (${JSON.stringify(ours)}): the addon and dist/ come from two builds; run \`npm rebuild tls-resumption\``,
    ),
    ErrorCodes.addonMismatch,
  );
}
