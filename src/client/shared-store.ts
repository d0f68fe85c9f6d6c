/**
 * The client session store in shared memory (the `shared` option of `clientSessions()`): the
 * server side's store file (src/shared-store.ts, native/shared_store*: 0600, owner and symlink
 * checks, bounded locks, entries wiped when they go) holding the outbound cache, so the workers
 * of a cluster draw from one cache, and a store at `path` survives a restart.
 *
 * An upstream's entries live under keys derived from its digest: one per TLS 1.3 ticket place
 * (`ticketsPerUpstream` of them) and one for its TLS 1.2 session. A ticket is taken under its
 * stripe's lock, so two workers never get the same one. Every process using one store must use
 * the same `ticketsPerUpstream`.
 */
import { randomInt } from 'node:crypto';

import { type NativeClientStore, native } from '../common/native';
import { openStoreFile, type ResolvedSharedOptions, type SharedStoreStats } from '../common/shared-store';
import type { ClientProtocol, ClientSession, ClientSessionStore, StoreCounters } from './memory-store';
import { sessionFacts } from './session-facts';

export const TLS12 = 0x12;
export const TLS13 = 0x13;

/**
 * How often each process wipes the store's expired entries, in milliseconds. An expired entry is
 * a miss when asked for, but one nobody asks for again would keep its resumption secret in the
 * file (on disk, for a store at a path) until its slot is reused. One pass walks the index a
 * stripe at a time, under that stripe's bounded lock.
 */
export const SWEEP_EVERY_MS = 1000;

/** The store key of an upstream's place: 30 bytes of its digest, the kind, the place number. */
export function placeKey(digest: Buffer, kind: number, place: number): Buffer {
  const key = Buffer.allocUnsafe(32);
  digest.copy(key, 0, 0, 30);
  key[30] = kind;
  key[31] = place;
  return key;
}

export class SharedClientStore implements ClientSessionStore {
  readonly options: ResolvedSharedOptions;
  readonly #store: NativeClientStore;
  readonly #tickets: number;
  /** Entries that came back from the file but do not decode as a session of this Node: dropped, a full handshake. */
  #unreadable = 0;
  readonly #sweep: NodeJS.Timeout;

  constructor(options: ResolvedSharedOptions, ticketsPerUpstream: number) {
    this.options = options;
    this.#tickets = ticketsPerUpstream;
    this.#store = openStoreFile(
      () => new native.ClientStore(options.path, options.sizeBytes, options.slotBytes, options.name !== undefined),
    );
    this.#sweep = setInterval(() => this.#store.flush(false), SWEEP_EVERY_MS).unref();
  }

  /** The ticket places, starting at `first` (so workers filing at once spread over the places). */
  #ticketKeys(digest: Buffer, first: number): Buffer {
    const keys: Buffer[] = [];
    for (let i = 0; i < this.#tickets; i++) keys.push(placeKey(digest, TLS13, (first + i) % this.#tickets));
    return Buffer.concat(keys);
  }

  /** An entry from the file as a session, or undefined when it does not decode (written by another OpenSSL or damaged). */
  #read(data: Buffer, expected: ClientProtocol, nowMs: number): ClientSession | undefined {
    if (sessionFacts(data)?.protocol !== expected) {
      this.#unreadable++;
      return undefined;
    }
    // The file keeps whole seconds; the entry was live when the store handed it out.
    return { data, protocol: expected, expiresAtMs: nowMs + 1000 };
  }

  take(_id: string, digest: Buffer, nowMs: number): ClientSession | undefined {
    const ticket = this.#store.take(this.#ticketKeys(digest, 0), true);
    const fromTicket = ticket ? this.#read(ticket, 'TLSv1.3', nowMs) : undefined;
    if (fromTicket) return fromTicket;
    const session = this.#store.take(placeKey(digest, TLS12, 0), false);
    return session ? this.#read(session, 'TLSv1.2', nowMs) : undefined;
  }

  put(_id: string, digest: Buffer, session: ClientSession): void {
    const expires = Math.ceil(session.expiresAtMs / 1000);
    if (session.protocol === 'TLSv1.3') this.#store.put(this.#ticketKeys(digest, randomInt(this.#tickets)), session.data, expires, true);
    else this.#store.put(placeKey(digest, TLS12, 0), session.data, expires, false);
  }

  evict(_id: string, digest: Buffer, session: ClientSession): void {
    const key = placeKey(digest, TLS12, 0);
    // Only the session that was refused: another worker may have filed a newer one meanwhile.
    const now = this.#store.take(key, false);
    if (now?.equals(session.data)) this.#store.remove(key);
  }

  clear(): void {
    this.#store.flush(true);
  }

  counters(): StoreCounters {
    const s = this.stats();
    return { sessions: s.entries, bytes: s.entries * s.bytesPerSession, evicted: s.evictions, expired: s.expiries };
  }

  /** The store file's own counters (every process's), plus the entries this process could not read. */
  stats(): SharedStoreStats & { unreadable: number } {
    return { path: this.options.path, ...this.#store.stats(), unreadable: this.#unreadable };
  }

  close(): void {
    clearInterval(this.#sweep);
    this.#store.flush(false);
    this.#store.close();
  }
}
