/**
 * What the cache needs to know about a client session, read from its bytes without decoding it:
 * the protocol, the ticket lifetime hint, the session timeout, whether it holds a ticket or a
 * session ID. A client session's DER carries the server's certificate, and decoding it
 * (d2i_SSL_SESSION, which parses that certificate) costs about as much CPU as Node's own
 * `setSession` on the next connection (0.7-1.8 ms on OpenSSL 3.0 here): doing it for every session
 * received and every session taken from a shared store would make the cache dearer than the
 * handshakes it saves. This walks the outer SEQUENCE of OpenSSL's SSL_SESSION_ASN1
 * (ssl/ssl_asn1.c, the same on OpenSSL 3.0 to 3.5) and skips the certificate by its length.
 */

/** Node 22+ wraps a client session: this prefix, a 16-bit servername length, the servername, then the DER. */
const NODE_ENVELOPE = Buffer.from('\0nodejs:tls:session:1\0', 'latin1');

/** The facts `#file` and the shared store read from a session. */
export interface SessionFacts {
  protocol: 'TLSv1.3' | 'TLSv1.2' | 'other';
  /** The ticket lifetime hint the server sent (TLS 1.3: the ticket's lifetime), seconds; 0 when none. */
  lifetimeHintSeconds: number;
  /** The session's timeout, seconds (the client's SSL_CTX default when the server gave no hint). */
  timeoutSeconds: number;
  hasTicket: boolean;
  sessionIdLength: number;
}

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

/** A field of the session's SEQUENCE, with where its tag is. */
type Field = Tlv & { at: number };

/** One DER element at `at`; undefined when it does not fit in `[at, limit)` or uses a form DER forbids. */
function readTlv(b: Buffer, at: number, limit: number): Tlv | undefined {
  if (at + 2 > limit) return undefined;
  const tag = b[at]!;
  // Tags above 30 (high-tag-number form) never occur in an SSL_SESSION.
  if ((tag & 0x1f) === 0x1f) return undefined;
  let len = b[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    start += n;
  }
  const end = start + len;
  return end > limit ? undefined : { tag, start, end };
}

/** An unsigned INTEGER's value (up to 2^53), or undefined. */
function readUint(b: Buffer, t: Tlv | undefined): number | undefined {
  if (t?.tag !== 0x02 || t.end === t.start || t.end - t.start > 7) return undefined;
  if (b[t.start]! & 0x80) return undefined;
  let v = 0;
  for (let i = t.start; i < t.end; i++) v = v * 256 + b[i]!;
  return v;
}

/** The outer SEQUENCE of a session's DER and its fields, after Node 22+'s envelope (`at`), or undefined when the bytes are not one. */
function sessionFields(session: Buffer): { at: number; fields: Field[] } | undefined {
  let at = 0;
  if (session.length > NODE_ENVELOPE.length + 2 && session.subarray(0, NODE_ENVELOPE.length).equals(NODE_ENVELOPE)) {
    at = NODE_ENVELOPE.length + 2 + session.readUInt16BE(NODE_ENVELOPE.length);
  }
  const outer = readTlv(session, at, session.length);
  if (outer?.tag !== 0x30 || outer.end !== session.length) return undefined;
  const fields: Field[] = [];
  for (let p = outer.start; p < outer.end; ) {
    const t = readTlv(session, p, outer.end);
    if (!t) return undefined;
    fields.push({ ...t, at: p });
    p = t.end;
  }
  return { at, fields };
}

/** The facts of a session as Node hands it to a client ('session' event, `getSession()`), or undefined when the bytes are not one. */
export function sessionFacts(session: Buffer): SessionFacts | undefined {
  const fields = sessionFields(session)?.fields;
  if (!fields) return undefined;
  // version (1), ssl_version, cipher (2 bytes), session_id, master_key, then tagged fields.
  if (fields.length < 5 || readUint(session, fields[0]) !== 1) return undefined;
  const version = readUint(session, fields[1]);
  const [cipher, sessionId, masterKey] = [fields[2]!, fields[3]!, fields[4]!];
  if (version === undefined || cipher.tag !== 0x04 || cipher.end - cipher.start !== 2) return undefined;
  if (sessionId.tag !== 0x04 || masterKey.tag !== 0x04 || masterKey.end === masterKey.start) return undefined;
  let timeoutSeconds = 0;
  let lifetimeHintSeconds = 0;
  let hasTicket = false;
  for (const f of fields.slice(5)) {
    // EXPLICIT context tags [n] are 0xa0 | n around the inner value.
    const n = f.tag & 0x1f;
    if ((f.tag & 0xe0) !== 0xa0) continue;
    const inner = readTlv(session, f.start, f.end);
    if (n === 2) timeoutSeconds = readUint(session, inner) ?? 0;
    else if (n === 9) lifetimeHintSeconds = readUint(session, inner) ?? 0;
    else if (n === 10) hasTicket = inner !== undefined && inner.tag === 0x04 && inner.end > inner.start;
  }
  return {
    protocol: version === 0x0304 ? 'TLSv1.3' : version === 0x0303 ? 'TLSv1.2' : 'other',
    lifetimeHintSeconds,
    timeoutSeconds,
    hasTicket,
    sessionIdLength: sessionId.end - sessionId.start,
  };
}

/** The peer certificate's field in SSL_SESSION_ASN1: `peer [3] EXPLICIT X509 OPTIONAL`. */
const PEER_CERTIFICATE_TAG = 0xa3;

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/**
 * A TLS 1.3 client session without the server's certificate, or `session` itself when it has
 * none (or is not a session). Node's `setSession` decodes the session on every connection that
 * offers it, and the certificate is most of that cost (d2i_X509). On a resumed TLS 1.3 connection
 * Node needs no certificate: it reports the connection authorized when it was resumed
 * (VerifyPeerCertificate: "TLS1.3 PSK looks like session resumption"), skips
 * `checkServerIdentity`, and `getPeerCertificate()` is already empty there on every line. A TLS
 * 1.2 session keeps it: Node refuses a resumed TLS 1.2 connection whose session has none
 * (UNABLE_TO_GET_ISSUER_CERT).
 */
export function withoutPeerCertificate(session: Buffer): Buffer {
  const parsed = sessionFields(session);
  const peer = parsed?.fields.find((f) => f.tag === PEER_CERTIFICATE_TAG);
  if (!parsed || !peer) return session;
  const first = parsed.fields[0]!.at;
  const last = parsed.fields[parsed.fields.length - 1]!.end;
  const bodyLength = last - first - (peer.end - peer.at);
  return Buffer.concat([
    session.subarray(0, parsed.at),
    Buffer.from([0x30]),
    derLength(bodyLength),
    session.subarray(first, peer.at),
    session.subarray(peer.end, last),
  ]);
}
