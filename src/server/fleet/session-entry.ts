/**
 * What a fleet session entry in Redis is bound to. The sealed bytes (sealed-box.ts) open only
 * under the additional data built here, so an entry is authentic for one stream (or key), one
 * session-ID context, one kind, one session ID and one expiry: moving it to another fleet's
 * stream, another context, another ID or a later expiry makes it fail to open (dropped and
 * counted), and nothing outside the sealed bytes is believed.
 */

/** `s`: a session; `f`: a flush of every member's store. */
export type EntryKind = 's' | 'f';

export interface EntryScope {
  /** The Redis key the entry lives under (the stream). */
  stream: string;
  /** The session-ID context of the member that wrote it (every member of one fleet shares it). */
  sessionIdContext: Buffer;
  kind: EntryKind;
  /** Session ID, hex ('' for a flush). */
  id: string;
  /** Expiry, epoch seconds (a session), or the writer's clock, epoch milliseconds (a flush), as written. */
  expiresAt: string;
}

const VERSION = 'tls-resumption/fleet-entry/v1';

/** The additional data an entry is sealed and opened with. */
export function entryLabel(s: EntryScope): string {
  return [VERSION, s.stream, s.sessionIdContext.toString('hex'), s.kind, s.id, s.expiresAt].join('\0');
}
