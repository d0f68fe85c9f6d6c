/**
 * The session-ID contexts nginx and HAProxy give their servers, so Node can share tickets with
 * them (`attach(server, { sessionIdContext: nginxSessionIdContext({ cert }) })` plus the shared
 * key file in the ring). OpenSSL refuses a session, even from a ticket it decrypted, whose context
 * differs from the connection's, and neither peer lets its context be configured.
 *
 * - nginx (`ngx_ssl_session_id_context()`, src/event/ngx_event_openssl.c): SHA-1 over the module's
 *   name ("HTTP", "STREAM", "MAIL"), then SHA-1 of each `ssl_certificate`'s DER (in directive
 *   order), then SHA-1 of each client CA name's DER (`X509_NAME_digest`) in the order OpenSSL's
 *   `SSL_load_client_CA_file` lists them: file order, each name once (nginx up to 1.27.1, e.g.
 *   Debian 12's 1.22). nginx 1.27.2 and later build that list themselves and sort it while they
 *   fill it: with several CA names in `ssl_client_certificate` their order, and so the context,
 *   can differ from this one; with one CA name it is the same.
 * - HAProxy up to 3.4 (`ssl_set_shctx()`, src/ssl_sock.c): the 7 bytes "haproxy" on every bind.
 *   HAProxy 3.5 (from 3.5-dev5, "isolate TLS session resumption per X509 server certificate")
 *   hashes its certificate, crt-list filters, verify mode, CA store and in-memory bitfields with
 *   SHA-256 instead; that derivation is not reproduced here.
 */
import * as crypto from 'node:crypto';

import { expectOneOf, optionGroup, rangeError, typeError } from '../common/validate';

/** The nginx module whose server block the certificate belongs to (its session-ID context's first input). */
export type NginxModule = 'http' | 'stream' | 'mail';

const NGINX_MODULES: readonly NginxModule[] = ['http', 'stream', 'mail'];

/** `nginxSessionIdContext()` options. */
export interface NginxSessionIdContextOptions {
  /**
   * What each `ssl_certificate` directive of the server block names, in the directives' order: PEM
   * text (a string or a Buffer). Only the first certificate of each counts (the leaf; the chain
   * after it does not), as in nginx. Certificates loaded through variables are not supported.
   */
  cert: string | Buffer | ReadonlyArray<string | Buffer>;
  /**
   * The `ssl_client_certificate` file's PEM text, when `ssl_verify_client` is on (nginx reads it
   * only then): the subject of every certificate in it counts. Default: none.
   */
  clientCa?: string | Buffer;
  /** The module of the server block. Default: 'http'. */
  module?: NginxModule;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** The DER of every certificate in `pem`, in order; RangeError naming `field` when there is none or one does not parse. */
function certificatesOf(field: string, pem: unknown): Buffer[] {
  const accepted = 'PEM text (a string or a Buffer) holding at least one certificate';
  if (typeof pem !== 'string' && !Buffer.isBuffer(pem)) throw typeError(field, accepted, pem);
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw rangeError(field, accepted, 'no "BEGIN CERTIFICATE" block');
  return blocks.map((block, i) => {
    try {
      return new crypto.X509Certificate(block).raw;
    } catch {
      throw rangeError(field, accepted, `certificate ${i + 1} that does not parse`);
    }
  });
}

/** One DER element: where its contents start and end. */
export interface Element {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

export function element(der: Buffer, at: number): Element {
  const tag = der[at]!;
  let len = der[at + 1]!;
  let contentStart = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[at + 2 + i]!;
    contentStart += n;
  }
  return { tag, start: at, contentStart, end: contentStart + len };
}

/**
 * The subject Name's DER as it is in the certificate (what `X509_NAME_digest` hashes):
 * Certificate > tbsCertificate > [0] version?, serial, signature, issuer, validity, subject.
 */
function subjectDer(cert: Buffer): Buffer {
  const tbs = element(cert, element(cert, 0).contentStart);
  let at = tbs.contentStart;
  if (element(cert, at).tag === 0xa0) at = element(cert, at).end;
  for (let skip = 0; skip < 4; skip++) at = element(cert, at).end; // serial, signature, issuer, validity
  const subject = element(cert, at);
  return cert.subarray(subject.start, subject.end);
}

function sha1(data: Buffer): Buffer {
  return crypto.createHash('sha1').update(data).digest();
}

/**
 * nginx's session-ID context for a server block (20 bytes): give it to `attach()` as
 * `sessionIdContext`, with the same ticket keys as nginx's `ssl_session_ticket_key` files in the
 * ring, and nginx and Node resume each other's clients (TLS 1.2 and 1.3, on every Node line).
 * The derivation and the nginx versions it matches: see this module's comment (docs/api.md).
 */
export function nginxSessionIdContext(options: NginxSessionIdContextOptions): Buffer {
  const o = optionGroup('options', options, ['cert', 'clientCa', 'module']);
  const module = o.module === undefined ? 'http' : expectOneOf('module', o.module, NGINX_MODULES);
  if (o.cert === undefined) throw typeError('cert', 'PEM text (a string or a Buffer) or an array of them', o.cert);
  const files = Array.isArray(o.cert) ? (o.cert as unknown[]) : [o.cert];
  if (files.length === 0) throw rangeError('cert', 'at least one certificate', 'an empty array');
  const hash = crypto.createHash('sha1').update(module.toUpperCase());
  files.forEach((file, i) => hash.update(sha1(certificatesOf(Array.isArray(o.cert) ? `cert[${i}]` : 'cert', file)[0]!)));
  if (o.clientCa !== undefined) {
    const names: Buffer[] = [];
    for (const der of certificatesOf('clientCa', o.clientCa)) {
      const name = subjectDer(der);
      if (!names.some((n) => n.equals(name))) names.push(name);
    }
    for (const name of names) hash.update(sha1(name));
  }
  return hash.digest();
}

/**
 * HAProxy's session-ID context (up to HAProxy 3.4): the bytes "haproxy", the same on every bind.
 * Give it to `attach()` as `sessionIdContext`, with HAProxy's `tls-ticket-keys` file in the ring.
 */
export function haproxySessionIdContext(): Buffer {
  return Buffer.from('haproxy', 'latin1');
}
