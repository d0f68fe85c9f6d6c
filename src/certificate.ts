/**
 * A throwaway self-signed ECDSA P-256 certificate, made at run time with Node's own OpenSSL, for
 * demos, benchmarks and tests. Never use it to serve real clients.
 */
import { native } from './native';

/** PEM key and certificate, ready for tls.createServer({ key, cert }). */
export interface SelfSignedCertificate {
  key: string;
  cert: string;
}

/**
 * @param commonName subject CN and DNS subjectAltName (127.0.0.1 is always added). Default: 'localhost'.
 * @param days validity in days. Default: 30.
 */
export function selfSignedCertificate(commonName = 'localhost', days = 30): SelfSignedCertificate {
  if (typeof commonName !== 'string' || commonName.length === 0 || commonName.length > 64) {
    throw new TypeError('selfSignedCertificate: "commonName" must be a string of 1 to 64 characters.');
  }
  if (!Number.isInteger(days) || days < 1 || days > 3650) {
    throw new RangeError(`selfSignedCertificate: "days" must be an integer between 1 and 3650, got ${days}.`);
  }
  return native.selfSignedCertificate(commonName, days);
}
