/**
 * A private PKI for the outbound benchmarks: a root CA, an intermediate and a leaf for
 * `*.gateway.test`, `localhost` and 127.0.0.1, made with the system's `openssl` command. The
 * upstream serves leaf + intermediate; the clients trust the root alone (`ca`) and verify as a
 * gateway does by default (chain, then the host name). `ecdsa`: P-256 throughout (the cheapest
 * chain to verify); `rsa`: RSA-2048 leaf and intermediate under an RSA-4096 root (the shape of
 * Let's Encrypt's RSA chain).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type ChainKind = 'ecdsa' | 'rsa';
export const CHAIN_KINDS: readonly ChainKind[] = ['ecdsa', 'rsa'];

export interface UpstreamPki {
  /** What the upstream serves: the leaf's key, and the leaf followed by the intermediate. */
  key: string;
  cert: string;
  /** What the clients trust. */
  ca: string;
}

function keyArgs(kind: ChainKind, role: 'root' | 'other'): string[] {
  if (kind === 'ecdsa') return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  return ['-newkey', role === 'root' ? 'rsa:4096' : 'rsa:2048'];
}

export function upstreamPki(kind: ChainKind): UpstreamPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-resumption-pki-'));
  const f = (name: string) => path.join(dir, name);
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    fs.writeFileSync(f('ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
    fs.writeFileSync(f('int.ext'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n');
    fs.writeFileSync(
      f('leaf.ext'),
      'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:*.gateway.test,DNS:localhost,IP:127.0.0.1\n',
    );
    const issue = (name: string, subject: string, ext: string, issuer: string | undefined) => {
      openssl([
        'req',
        ...keyArgs(kind, issuer ? 'other' : 'root'),
        '-nodes',
        '-keyout',
        f(`${name}.key`),
        '-out',
        f(`${name}.csr`),
        '-subj',
        subject,
      ]);
      const signer = issuer ? ['-CA', f(`${issuer}.pem`), '-CAkey', f(`${issuer}.key`)] : ['-signkey', f(`${name}.key`)];
      openssl([
        'x509',
        '-req',
        '-in',
        f(`${name}.csr`),
        ...signer,
        '-set_serial',
        String(Date.now()),
        '-days',
        '30',
        '-extfile',
        f(ext),
        '-out',
        f(`${name}.pem`),
      ]);
    };
    issue('root', '/CN=tls-resumption bench root', 'ca.ext', undefined);
    issue('int', '/CN=tls-resumption bench intermediate', 'int.ext', 'root');
    issue('leaf', '/CN=gateway.test', 'leaf.ext', 'int');
    const read = (name: string) => fs.readFileSync(f(name), 'utf8');
    return { key: read('leaf.key'), cert: read('leaf.pem') + read('int.pem'), ca: read('root.pem') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
