/**
 * What the fleet writes to Redis, in one place: the session entries (the replication stream and
 * the lookup mode's keys, one format) and the ticket ring document of `TicketKeyRing.fromRedis`.
 * Anyone who can write to that Redis is outside the trust boundary, so every entry is sealed
 * (AES-256-GCM, sealed-box.ts) under a key HKDF-derived from the fleet's secret with a label of
 * its own (a session can never open as a ring document or the reverse), and bound to where it lives.
 *
 * Session entry: `sealSessionEntry(box, scope, DER)`; it opens only under the same scope (the
 * additional data): the Redis key it lives under (the stream, or the lookup mode's entry key), the
 * session-ID context of the member that wrote it, the kind (a session, or a flush of every
 * member's store), the session ID and its expiry. Moving an entry to another fleet's stream or
 * key, another context, another ID or a later expiry makes it fail to open (dropped and
 * counted), and nothing outside the sealed bytes is believed.
 *
 * The lookup mode's entry key is `<prefix><scope>:<session ID hex>`; the scope is the fingerprint
 * of the session-ID context of the server that wrote it (8 bytes of SHA-256, hex:
 * `stats().sessionIdContext.fingerprint`, so an operator can match keys to servers): a lookup from
 * another context asks for another key: a miss before anything is fetched or decoded. Its expiry
 * is Redis's (`EX`), so the sealed scope carries none ('').
 *
 * Ring document (format 2): Redis value `{"format":2,"v":<version>,"sealed":"<base64>"}`. The
 * whole document is sealed, with the Redis key as additional data; the plaintext is binary
 * (`RING1` magic, u32 version, u16 key count, then per key: f64 createdAt ms, f64 activateAt ms,
 * the 80 key bytes) so the key bytes land in Buffers the reader wipes, never in JS strings. The
 * version in clear is for operators; the sealed one is what counts, and both must agree.
 */
import type { SealedBox } from './sealed-box';

/** The sealed-box purposes (HKDF labels) of what the fleet writes. */
export const FLEET_ENTRY_PURPOSES = Object.freeze({
  sessions: 'fleet/sessions',
  ringDocument: 'fleet/ring-document/v2',
});

/** The lookup mode's Redis key of a session entry; `scope` is the writer's session-ID context fingerprint. */
export function sessionEntryKey(prefix: string, scope: string, id: Buffer): string {
  return `${prefix}${scope}:${id.toString('hex')}`;
}

/** `s`: a session; `f`: a flush of every member's store. */
export type EntryKind = 's' | 'f';

/** What a session entry is bound to (its additional data). */
export interface EntryScope {
  /** The Redis key the entry lives under (the stream, or the lookup mode's entry key). */
  at: string;
  /** The session-ID context of the member that wrote it (every member of one fleet shares it). */
  sessionIdContext: Buffer;
  kind: EntryKind;
  /** Session ID, hex ('' for a flush). */
  id: string;
  /** Expiry as written: epoch seconds (a stream session), the writer's clock in epoch milliseconds (a flush), '' (a lookup entry: Redis expires it). */
  expiresAt: string;
}

const SESSION_ENTRY_VERSION = 'tls-resumption/fleet-entry/v1';

function entryLabel(s: EntryScope): string {
  return [SESSION_ENTRY_VERSION, s.at, s.sessionIdContext.toString('hex'), s.kind, s.id, s.expiresAt].join('\0');
}

/** The Redis value of a session entry (or a flush): `plain` sealed under `scope`. `plain` is the caller's to wipe. */
export function sealSessionEntry(box: SealedBox, scope: EntryScope, plain: Buffer): string {
  return box.seal(plain, entryLabel(scope));
}

/** The plaintext of an entry read from Redis, or undefined for anything that does not open under `scope` (forged, garbage, moved, another fleet). The caller wipes it. */
export function openSessionEntry(box: SealedBox, scope: EntryScope, sealed: unknown): Buffer | undefined {
  return box.open(sealed, entryLabel(scope));
}

/** Bounds every member enforces on a ring document before and after opening it. */
export const RING_DOCUMENT_LIMITS = Object.freeze({
  /** Most keys: `keepKeys` (at most 1024) plus the one waiting to activate. */
  maxKeys: 1025,
  /** Most characters read from Redis (GETRANGE): a longer value is refused unread. */
  maxChars: 200_000,
  /** How far in the future a key's `createdAt` may lie (clock skew between members), ms. */
  maxClockSkewMs: 5 * 60_000,
});

const MAGIC = Buffer.from('RING1');
const KEY_BYTES = 80;
const KEY_RECORD = 16 + KEY_BYTES;
const HEADER = MAGIC.length + 4 + 2;

/** One key of a ring document. */
export interface RingDocumentKey {
  bytes: Buffer;
  createdAt: number;
  activateAt: number;
}

/** An opened ring document; the caller owns (and wipes) the key bytes. */
export interface RingDocument {
  v: number;
  keys: RingDocumentKey[];
}

/** Why a ring document was refused (the `ringDocumentRefused` event's `reason`). */
export type RingDocumentRefusal = 'too-large' | 'malformed' | 'not-authentic' | 'out-of-bounds' | 'older-version';

/** A refused document: the reason, and a message that names no secret. */
export class RingDocumentRefused extends Error {
  readonly code = 'ERR_TLS_RESUMPTION_RING_DOCUMENT_REFUSED';
  constructor(
    readonly reason: RingDocumentRefusal,
    detail: string,
  ) {
    super(`fleet: ticket ring document refused (${reason}): ${detail}`);
  }
}

function aad(redisKey: string): string {
  return `ring-document\0${redisKey}`;
}

/** The Redis value for `doc` at `redisKey`. */
export function sealRingDocument(box: SealedBox, redisKey: string, doc: RingDocument): string {
  const plain = Buffer.alloc(HEADER + doc.keys.length * KEY_RECORD);
  MAGIC.copy(plain, 0);
  plain.writeUInt32BE(doc.v, MAGIC.length);
  plain.writeUInt16BE(doc.keys.length, MAGIC.length + 4);
  doc.keys.forEach((k, i) => {
    const at = HEADER + i * KEY_RECORD;
    plain.writeDoubleBE(k.createdAt, at);
    plain.writeDoubleBE(k.activateAt, at + 8);
    k.bytes.copy(plain, at + 16);
  });
  const sealed = box.seal(plain, aad(redisKey));
  plain.fill(0);
  return JSON.stringify({ format: 2, v: doc.v, sealed });
}

/**
 * Opens the value read at `redisKey` (at most `RING_DOCUMENT_LIMITS.maxChars` characters of it).
 * @throws RingDocumentRefused for anything not written by a holder of the secret, or out of bounds.
 */
export function openRingDocument(box: SealedBox, redisKey: string, raw: string, now: number): RingDocument {
  if (raw.length >= RING_DOCUMENT_LIMITS.maxChars) {
    throw new RingDocumentRefused('too-large', `more than ${RING_DOCUMENT_LIMITS.maxChars - 1} characters`);
  }
  let envelope: { format?: unknown; v?: unknown; sealed?: unknown };
  try {
    envelope = JSON.parse(raw) as typeof envelope;
  } catch {
    throw new RingDocumentRefused('malformed', 'not JSON');
  }
  if (envelope?.format !== 2 || typeof envelope.sealed !== 'string') {
    throw new RingDocumentRefused('malformed', 'not a format 2 document');
  }
  const plain = box.open(envelope.sealed, aad(redisKey));
  if (!plain) throw new RingDocumentRefused('not-authentic', 'it does not open under the wrapping secret');
  try {
    if (plain.length < HEADER || !plain.subarray(0, MAGIC.length).equals(MAGIC))
      throw new RingDocumentRefused('malformed', 'unknown layout');
    const v = plain.readUInt32BE(MAGIC.length);
    const count = plain.readUInt16BE(MAGIC.length + 4);
    if (envelope.v !== v) throw new RingDocumentRefused('malformed', 'the version in clear differs from the sealed one');
    if (count < 1 || count > RING_DOCUMENT_LIMITS.maxKeys || plain.length !== HEADER + count * KEY_RECORD) {
      throw new RingDocumentRefused('out-of-bounds', `${count} keys (1 to ${RING_DOCUMENT_LIMITS.maxKeys})`);
    }
    const keys: RingDocumentKey[] = [];
    for (let i = 0; i < count; i++) {
      const at = HEADER + i * KEY_RECORD;
      const createdAt = plain.readDoubleBE(at);
      const activateAt = plain.readDoubleBE(at + 8);
      const sane =
        Number.isFinite(createdAt) &&
        Number.isFinite(activateAt) &&
        createdAt > 0 &&
        createdAt <= now + RING_DOCUMENT_LIMITS.maxClockSkewMs &&
        activateAt >= createdAt &&
        activateAt - createdAt <= 86_400_000;
      if (!sane) {
        for (const k of keys) k.bytes.fill(0);
        throw new RingDocumentRefused(
          'out-of-bounds',
          'a key time is not finite, in the future or activates more than a day after creation',
        );
      }
      keys.push({ bytes: Buffer.from(plain.subarray(at + 16, at + KEY_RECORD)), createdAt, activateAt });
    }
    return { v, keys };
  } finally {
    plain.fill(0);
  }
}
