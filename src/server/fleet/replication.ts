/**
 * Fleet replication (`fleet: { replicate: true }`): every member writes the sessions it issues
 * to one Redis stream and applies the other members' sessions to its own store as they arrive,
 * so the handshake path reads only local memory: no Redis round trip, no paused handshake, and
 * TLS 1.3 stateful tickets work (Node's 'resumeSession' cannot pause a TLS 1.3 handshake).
 *
 * Why a stream (XADD ... MAXLEN ~ n, XREAD BLOCK on a connection of its own): it is ordered,
 * replayable and bounded. A member that joins or restarts reads it from its oldest entry and so
 * catches up on every live session before it reports `caughtUp`; pub/sub alone loses whatever
 * was published while a member was away. The stream is one key, so a Redis Cluster serves it
 * from one slot (replicated and failed over by the cluster like any key).
 *
 * Bounds: the stream keeps about as many entries as a member's store holds (MAXLEN ~) and none
 * older than the session lifetime (XTRIM MINID every few seconds); a member holds at most its
 * store's size (the store evicts the oldest). Sessions waiting for Redis are bounded too: past
 * the bound they are not replicated (counted `dropped`), never a slower handshake.
 *
 * Trust: the session (DER, with its master secret) is sealed under the fleet's secret with the
 * stream, the session-ID context, the session ID and its expiry bound as additional data
 * (fleet-entry.ts, the one entry format). An entry that does not open (forged, garbage, another fleet or context) is
 * dropped and counted `rejected`; nothing else of an entry is believed. Each entry also names in
 * clear the fingerprint of its writer's session-ID context (`c`): a member of another context
 * (another service sharing the secret and stream) skips it unopened, counted `otherContext`;
 * a forged `c` can only make a member skip or fail to open an entry, never accept one. A flush travels as a
 * sealed entry too and trims the stream behind it, so a member that joins later does not bring
 * the flushed sessions back.
 *
 * Redis down: nothing on the handshake path notices. Members resume what they hold; `silentMs`
 * grows (time since the stream last answered); publishing fails (counted) until Redis is back.
 */
import * as crypto from 'node:crypto';
import { EventEmitter } from 'node:events';

import { type EntryKind, type EntryScope, openSessionEntry, sealSessionEntry } from '../../common/fleet-entry';
import type { DedicatedRedis, RedisAdapter } from '../../common/redis-client';
import type { SealedBox } from '../../common/sealed-box';

/** `stats().fleet.replication`. Counts since attach; times in milliseconds. */
export interface FleetReplicationStats {
  /** Sessions this member issued and wrote to the stream. */
  published: number;
  /** Sessions not written: Redis failed the write, or too many writes were already waiting. */
  dropped: number;
  /** Other members' sessions applied to this member's store. */
  applied: number;
  /** Entries that arrived past their session's lifetime (not applied). */
  expired: number;
  /** Entries dropped because they did not open under the fleet secret and context (forged, garbage, another fleet). */
  rejected: number;
  /** Sessions the store did not take (larger than a slot, a lock not taken in time). */
  notStored: number;
  /** Entries of members of another session-ID context (another service on the same stream and secret): skipped unopened. */
  otherContext: number;
  /** Flushes received from other members (each emptied this member's store). */
  flushes: number;
  /** Whether this member has read the stream to its end once since attach (joined with every live session). */
  caughtUp: boolean;
  /** Replication lag of the last (up to 1024) sessions applied after catch-up: the time from the stream write to this member's store, median. -1 before any. */
  lagP50Ms: number;
  /** The same, 99th percentile. -1 before any. */
  lagP99Ms: number;
  /** Milliseconds since the stream last answered this member (grows while Redis is down or slow). */
  silentMs: number;
}

export interface ReplicationSettings {
  redis: RedisAdapter;
  box: SealedBox;
  /** The stream's key. */
  streamKey: string;
  /** The session-ID context entries are scoped by (its bytes, read when an entry is sealed or opened). */
  sessionIdContext: () => Buffer;
  /** Most entries the stream keeps: the store's capacity. */
  maxEntries: () => number;
  /** Session lifetime, seconds (entries older than this are trimmed). */
  timeoutSeconds: () => number;
  /** Puts a session another member issued into this member's store. */
  importSession: (der: Buffer) => 'stored' | 'expired' | 'invalid' | 'notStored';
  /** Empties this member's store (a flush from another member). */
  flushLocal: () => void;
  /** Wipes the expired sessions out of this member's store (run with the stream's trim). */
  sweepExpired: () => void;
}

/** Writes waiting for Redis before new sessions are dropped rather than queued. */
const MAX_PENDING_WRITES = 1024;
/** Entries per XREAD. */
const READ_COUNT = 512;
/** How long one XREAD blocks, milliseconds (also how soon a closed replica notices). */
const BLOCK_MS = 1000;
/** How often the stream is trimmed of expired entries and the store swept of expired sessions. */
const TRIM_EVERY_MS = 5000;
/** A flush entry is believed only when written within this of its own stream ID (no replay). */
const FLUSH_SKEW_MS = 30000;
const LAG_WINDOW = 1024;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Milliseconds part of a stream entry ID ("1700000000000-0"). */
function entryMs(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return -1;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

type StreamEntry = [id: string, fields: string[]];

/** The entries of a one-stream XREAD reply: `[[key, entries]]` (ioredis) or `{ key: entries }` (node-redis 5). */
function streamEntries(reply: unknown): StreamEntry[] {
  if (reply === null || typeof reply !== 'object') return [];
  const streams = Array.isArray(reply) ? (reply as [string, StreamEntry[]][]).map((r) => r[1]) : Object.values(reply as object);
  return (streams[0] ?? []) as StreamEntry[];
}

export class FleetReplication extends EventEmitter {
  readonly #s: ReplicationSettings;
  /** Names this process's entries, so it skips its own sessions (it already holds them). */
  readonly #member = crypto.randomBytes(8).toString('hex');
  #counters = { published: 0, dropped: 0, applied: 0, expired: 0, rejected: 0, notStored: 0, otherContext: 0, flushes: 0 };
  #caughtUp = false;
  #caughtUpWaiters: Array<() => void> = [];
  #lags: number[] = [];
  #lagNext = 0;
  #heardAt = Date.now();
  #pending = 0;
  #reader: DedicatedRedis | undefined;
  #closed = false;
  #trimTimer: NodeJS.Timeout;

  constructor(settings: ReplicationSettings) {
    super();
    this.#s = settings;
    void this.#readLoop();
    this.#trimTimer = setInterval(() => this.#trimExpired(), TRIM_EVERY_MS);
    this.#trimTimer.unref();
  }

  /** Resolves once the stream was read to its end (every live session applied). */
  caughtUp(): Promise<void> {
    if (this.#caughtUp || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#caughtUpWaiters.push(resolve));
  }

  stats(): FleetReplicationStats {
    const sorted = [...this.#lags].sort((a, b) => a - b);
    return {
      ...this.#counters,
      caughtUp: this.#caughtUp,
      lagP50Ms: percentile(sorted, 50),
      lagP99Ms: percentile(sorted, 99),
      silentMs: Math.max(0, Date.now() - this.#heardAt),
    };
  }

  /** Adds to `dropped` what the native capture queue could not take. */
  countDropped(n: number): void {
    this.#counters.dropped += n;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#trimTimer);
    this.#reader?.close();
    this.#reader = undefined;
    for (const w of this.#caughtUpWaiters.splice(0)) w();
  }

  #contextFingerprint: [Buffer, string] | undefined;

  /** The fingerprint of the session-ID context entries are written and read under (`c`), computed once per context. */
  #context(): string {
    const bytes = this.#s.sessionIdContext();
    if (!this.#contextFingerprint?.[0].equals(bytes)) {
      this.#contextFingerprint = [Buffer.from(bytes), crypto.createHash('sha256').update(bytes).digest().subarray(0, 8).toString('hex')];
    }
    return this.#contextFingerprint[1];
  }

  #scope(kind: EntryKind, id: string, expiresAt: string): EntryScope {
    return { at: this.#s.streamKey, sessionIdContext: this.#s.sessionIdContext(), kind, id, expiresAt };
  }

  #fail(err: unknown): void {
    // An 'error' event with no listener would throw into the server: report only when heard.
    if (this.listenerCount('error') > 0) this.emit('error', err instanceof Error ? err : new Error(String(err)));
  }

  #write(fields: string[]): void {
    if (this.#closed) return;
    if (this.#pending >= MAX_PENDING_WRITES) {
      this.#counters.dropped++;
      return;
    }
    this.#pending++;
    const max = Math.max(1, this.#s.maxEntries());
    this.#s.redis.command('XADD', this.#s.streamKey, 'MAXLEN', '~', max, '*', 'm', this.#member, ...fields).then(
      (id) => {
        this.#pending--;
        if (fields[1] === 's') this.#counters.published++;
        // A flush takes everything before it out of the stream: a member joining later must not bring it back.
        if (fields[1] === 'f' && typeof id === 'string') {
          this.#s.redis.command('XTRIM', this.#s.streamKey, 'MINID', id).catch((err) => this.#fail(err));
        }
      },
      (err) => {
        this.#pending--;
        if (fields[1] === 's') this.#counters.dropped++;
        this.#fail(err);
      },
    );
  }

  /**
   * A session this member issued (from the native capture): sealed, then written. `der` is wiped.
   * Never throws: it runs from a native callback, where an exception would reach the process.
   */
  publish(id: Buffer, der: Buffer, expiresAt: number): void {
    try {
      if (this.#closed) return;
      const idHex = id.toString('hex');
      const e = String(expiresAt);
      this.#write([
        'k',
        's',
        'i',
        idHex,
        'e',
        e,
        'c',
        this.#context(),
        'b',
        sealSessionEntry(this.#s.box, this.#scope('s', idHex, e), der),
      ]);
    } catch (err) {
      this.#counters.dropped++;
      this.#fail(err);
    } finally {
      der.fill(0);
    }
  }

  /** Tells every other member to empty its store (this member's `flush({ all: true })`). */
  publishFlush(): void {
    const t = String(Date.now());
    this.#write([
      'k',
      'f',
      'i',
      '',
      'e',
      t,
      'c',
      this.#context(),
      'b',
      sealSessionEntry(this.#s.box, this.#scope('f', '', t), Buffer.from('flush')),
    ]);
  }

  async #connect(): Promise<DedicatedRedis> {
    const reader = await this.#s.redis.dedicated((err) => this.#fail(err));
    if (this.#closed) reader.close();
    return reader;
  }

  async #readLoop(): Promise<void> {
    let last = '0';
    let backoff = 50;
    while (!this.#closed) {
      try {
        this.#reader ??= await this.#connect();
        const reply = await this.#reader.command('XREAD', 'COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', this.#s.streamKey, last);
        this.#heardAt = Date.now();
        backoff = 50;
        const entries = streamEntries(reply);
        for (const [id, fields] of entries) {
          last = id;
          this.#apply(id, fields);
        }
        if (entries.length < READ_COUNT && !this.#caughtUp) {
          this.#caughtUp = true;
          for (const w of this.#caughtUpWaiters.splice(0)) w();
        }
      } catch (err) {
        if (this.#closed) break;
        this.#fail(err);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 1000);
      }
    }
  }

  #apply(streamId: string, raw: string[]): void {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < raw.length; i += 2) f[raw[i]!] = raw[i + 1]!;
    if (f.m === this.#member) return;
    const kind = f.k;
    const id = f.i ?? '';
    const e = f.e ?? '';
    if (kind === 's' && Number(e) * 1000 <= Date.now() && /^\d+$/.test(e)) {
      this.#counters.expired++;
      return;
    }
    if (f.c !== undefined && f.c !== this.#context()) {
      this.#counters.otherContext++;
      return;
    }
    const plain = kind === 's' || kind === 'f' ? openSessionEntry(this.#s.box, this.#scope(kind, id, e), f.b) : undefined;
    if (!plain) {
      this.#counters.rejected++;
      return;
    }
    if (kind === 'f') {
      plain.fill(0);
      if (Math.abs(entryMs(streamId) - Number(e)) > FLUSH_SKEW_MS) {
        this.#counters.rejected++;
        return;
      }
      this.#counters.flushes++;
      this.#s.flushLocal();
      return;
    }
    let result: ReturnType<ReplicationSettings['importSession']>;
    try {
      result = this.#s.importSession(plain);
    } finally {
      plain.fill(0);
    }
    if (result === 'stored') {
      this.#counters.applied++;
      if (this.#caughtUp) {
        this.#lags[this.#lagNext] = Math.max(0, Date.now() - entryMs(streamId));
        this.#lagNext = (this.#lagNext + 1) % LAG_WINDOW;
      }
    } else if (result === 'expired') {
      this.#counters.expired++;
    } else if (result === 'invalid') {
      this.#counters.rejected++;
    } else {
      this.#counters.notStored++;
    }
  }

  #trimExpired(): void {
    if (this.#closed) return;
    // An expired session's master secret must not stay behind in a store file either: a shared
    // store only overwrites a slot when it needs the room.
    try {
      this.#s.sweepExpired();
    } catch (err) {
      this.#fail(err);
    }
    const oldest = Date.now() - this.#s.timeoutSeconds() * 1000;
    // Exact, not '~': an approximate trim removes only whole stream nodes (100 entries), so a
    // quiet fleet would keep expired entries in Redis past their lifetime.
    this.#s.redis.command('XTRIM', this.#s.streamKey, 'MINID', oldest).catch((err) => this.#fail(err));
  }
}
