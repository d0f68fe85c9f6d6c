/**
 * A throwaway self-signed ECDSA P-256 certificate, made at run time with Node's own OpenSSL, for
 * demos, benchmarks and tests. Never use it to serve real clients.
 */
import { native } from '../common/native';
import { optionalInteger, optionalString } from '../common/validate';

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
  optionalString('commonName', commonName, 1, 64);
  optionalInteger('days', days, 1, 3650, 'days');
  return native.selfSignedCertificate(commonName, days);
}
