/**
 * Attacks on what the outbound cache files a session under. A resumed connection is not verified
 * again: Node skips `checkServerIdentity` when a session is reused, and a TLS 1.3 session filed
 * without its certificate (session-facts.ts) reports `authorized` because it resumed. So a
 * session must only ever be offered to a connection that would have verified the server exactly
 * as the one that received it did. Each test makes the first connection under one trust policy
 * and then a second one under a stricter policy (or another client identity) to the same server,
 * and asserts that the second gets what a full handshake gives it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';

import { type ClientSessionCache, clientSessions } from '../../src/client';
import { selfSignedCertificate } from '../../src/ops/certificate';
import { close, listen, type Version } from '../support/tls';
import { runSupportChild } from '../support/ts-child';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsc-key-attacks-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const servers: tls.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => close(s)));
});
async function serve(options: tls.TlsOptions): Promise<number> {
  const server = tls.createServer(options, (s) => s.end('x'));
  servers.push(server);
  return listen(server);
}

interface Outcome {
  /** The error code the connection failed with, or undefined. */
  error: string | undefined;
  reused: boolean;
  authorized: boolean;
  authorizationError: string | undefined;
}

function attempt(sessions: ClientSessionCache, options: tls.ConnectionOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { error: undefined, reused: false, authorized: false, authorizationError: undefined };
    const socket = sessions.connect(options);
    socket.on('secureConnect', () => {
      out.reused = socket.isSessionReused();
      out.authorized = socket.authorized;
      out.authorizationError = socket.authorizationError?.toString();
    });
    socket.on('data', () => undefined);
    socket.on('error', (err: NodeJS.ErrnoException) => (out.error ??= err.code ?? err.message));
    // Settles on 'close': the cache has filed what the connection received by then.
    socket.on('close', () => resolve(out));
  });
}

const VERSIONS: Version[] = ['TLSv1.2', 'TLSv1.3'];

/** A `lookup` for net.connect that sends every name to 127.0.0.1. */
const toLoopback = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void): void => {
  if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
}) as unknown as net.LookupFunction;

/** A root CA, an intermediate it signs, and a leaf for `localhost` the intermediate signs (openssl CLI). */
function chain(): { root: string; intermediate: string; key: string; cert: string } {
  const f = (name: string) => path.join(dir, name);
  const run = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  fs.writeFileSync(f('ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  fs.writeFileSync(f('leaf.ext'), 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\n');
  run('req', '-x509', ...ec, '-keyout', f('root.key'), '-out', f('root.pem'), '-days', '2', '-subj', '/CN=attack root');
  run('req', ...ec, '-keyout', f('int.key'), '-out', f('int.csr'), '-subj', '/CN=attack intermediate');
  run(
    'x509',
    '-req',
    '-in',
    f('int.csr'),
    '-CA',
    f('root.pem'),
    '-CAkey',
    f('root.key'),
    '-set_serial',
    '2',
    '-days',
    '2',
    '-extfile',
    f('ca.ext'),
    '-out',
    f('int.pem'),
  );
  run('req', ...ec, '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', '/CN=localhost');
  run(
    'x509',
    '-req',
    '-in',
    f('leaf.csr'),
    '-CA',
    f('int.pem'),
    '-CAkey',
    f('int.key'),
    '-set_serial',
    '3',
    '-days',
    '2',
    '-extfile',
    f('leaf.ext'),
    '-out',
    f('leaf.pem'),
  );
  const read = (name: string) => fs.readFileSync(f(name), 'utf8');
  return { root: read('root.pem'), intermediate: read('int.pem'), key: read('leaf.key'), cert: read('leaf.pem') + read('int.pem') };
}

describe('the trust a session was verified under is part of its key', () => {
  const server = selfSignedCertificate('localhost');

  test.each(VERSIONS)('%s: rejectUnauthorized: false sessions resume as unauthorized as they were received', async (version) => {
    const port = await serve({ key: server.key, cert: server.cert, minVersion: version, maxVersion: version });
    const sessions = clientSessions();
    const to = { host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false };
    const first = await attempt(sessions, to);
    expect(first).toMatchObject({ error: undefined, reused: false, authorized: false, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    // An application that checks `authorized` itself (rejectUnauthorized: false, then its own
    // decision) sees what stock Node shows on a resumed connection: the same verdict.
    const again = await attempt(sessions, to);
    expect(again).toMatchObject({ error: undefined, reused: true, authorized: false, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    sessions.close();
  });

  test.each(VERSIONS)('%s: allowPartialTrustChain: a session verified with it is not offered without it', async (version) => {
    const c = chain();
    const port = await serve({ key: c.key, cert: c.cert, minVersion: version, maxVersion: version });
    const sessions = clientSessions();
    const to = { host: '127.0.0.1', port, servername: 'localhost', ca: c.intermediate };
    expect(await attempt(sessions, { ...to, allowPartialTrustChain: true } as tls.ConnectionOptions)).toMatchObject({
      error: undefined,
      authorized: true,
    });
    const strict = await attempt(sessions, to);
    expect(strict.error).toBe('UNABLE_TO_GET_ISSUER_CERT');
    expect(sessions.stats().offered).toBe(0);
    // The chain up to the root verifies either way: it resumes.
    expect(await attempt(sessions, { ...to, ca: c.root })).toMatchObject({ error: undefined, authorized: true });
    expect(await attempt(sessions, { ...to, ca: c.root })).toMatchObject({ error: undefined, reused: true, authorized: true });
    sessions.close();
  });

  test.each(VERSIONS)('%s: an inherited `ca`, which tls.connect ignores, is not keyed as given', async (version) => {
    const port = await serve({ key: server.key, cert: server.cert, minVersion: version, maxVersion: version });
    const sessions = clientSessions();
    const to = { host: '127.0.0.1', port, servername: 'localhost' };
    expect(await attempt(sessions, { ...to, ca: server.cert })).toMatchObject({ error: undefined, authorized: true });
    // tls.connect copies own properties only: this connection trusts the default CAs, not `ca`.
    const derived = Object.assign(Object.create({ ca: server.cert }) as tls.ConnectionOptions, to);
    expect(await attempt(sessions, derived)).toMatchObject({ error: 'DEPTH_ZERO_SELF_SIGNED_CERT', reused: false });
    expect(sessions.stats().offered).toBe(0);
    sessions.close();
  });

  const canReplaceDefaults = typeof (tls as { setDefaultCACertificates?: unknown }).setDefaultCACertificates === 'function';
  // tls.setDefaultCACertificates and getCACertificates exist from Node 22 on; Node 20 cannot change its default CAs at run time.
  (canReplaceDefaults ? test.each(VERSIONS) : test.skip.each(VERSIONS))(
    '%s: a session verified under replaced default CAs is not offered once they are put back',
    async (version) => {
      const t = tls as typeof tls & {
        setDefaultCACertificates(certs: string[]): void;
        getCACertificates(type: string): string[];
      };
      const port = await serve({ key: server.key, cert: server.cert, minVersion: version, maxVersion: version });
      const sessions = clientSessions();
      const to = { host: '127.0.0.1', port, servername: 'localhost' };
      const defaults = t.getCACertificates('default');
      t.setDefaultCACertificates([server.cert]);
      try {
        expect(await attempt(sessions, to)).toMatchObject({ error: undefined, authorized: true });
      } finally {
        t.setDefaultCACertificates(defaults);
      }
      expect(await attempt(sessions, to)).toMatchObject({ error: 'DEPTH_ZERO_SELF_SIGNED_CERT', reused: false });
      expect(sessions.stats().offered).toBe(0);
      sessions.close();
    },
  );

  test.each(VERSIONS)('%s: a connected `socket` without host or servername is filed under the name Node checks', async (version) => {
    // Node checks the name the socket was connected to. Two names on one address and port: the
    // certificate names a.test only.
    const named = selfSignedCertificate('a.test');
    const port = await serve({ key: named.key, cert: named.cert, minVersion: version, maxVersion: version });
    const sessions = clientSessions();
    const through = (host: string) =>
      new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ host, port, lookup: toLoopback }, () => resolve(s));
        s.once('error', reject);
      });
    expect(await attempt(sessions, { socket: await through('a.test'), ca: named.cert })).toMatchObject({
      error: undefined,
      authorized: true,
    });
    expect(sessions.stats().received).toBeGreaterThan(0);
    expect(await attempt(sessions, { socket: await through('b.test'), ca: named.cert })).toMatchObject({
      error: 'ERR_TLS_CERT_ALTNAME_INVALID',
      reused: false,
    });
    expect(sessions.stats().offered).toBe(0);
    expect(await attempt(sessions, { socket: await through('a.test'), ca: named.cert })).toMatchObject({
      error: undefined,
      reused: true,
    });
    sessions.close();
  });
});

describe('in processes of their own', () => {
  // Child processes load the TypeScript sources through the transpiler: seconds each on a busy machine.
  jest.setTimeout(120_000);

  interface Step {
    env?: string | null;
    identity?: { key: string; cert: string };
    options?: tls.ConnectionOptions;
  }
  let runs = 0;
  /** Runs test/support/client-key-worker.ts with `env` on top of this process's environment. */
  async function run(spec: { port: number; store?: string; steps: Step[] }, env: NodeJS.ProcessEnv = {}): Promise<Partial<Outcome>[]> {
    const file = path.join(dir, `spec-${runs++}.json`);
    fs.writeFileSync(file, JSON.stringify(spec));
    const { code, out, err } = await runSupportChild('client-key-worker.ts', [file], { ...process.env, ...env });
    if (code !== 0) throw new Error(`worker exited ${code}: ${err}`);
    return JSON.parse(out);
  }

  test.each(VERSIONS)(
    '%s: sessions NODE_TLS_REJECT_UNAUTHORIZED=0 left unverified are not offered to a verifying connection',
    async (version) => {
      const server = selfSignedCertificate('localhost');
      const port = await serve({ key: server.key, cert: server.cert, minVersion: version, maxVersion: version });
      // In one process: the variable set for one call (a common workaround), then cleared.
      expect(await run({ port, steps: [{ env: '0' }, { env: null }, { env: null, options: { rejectUnauthorized: true } }] })).toEqual([
        { reused: false, authorized: false },
        { error: 'DEPTH_ZERO_SELF_SIGNED_CERT', reused: false, authorized: false },
        { error: 'DEPTH_ZERO_SELF_SIGNED_CERT', reused: false, authorized: false },
      ]);
      // Across a store at a path: a process started with the variable (a debugging run) does not
      // leave sessions that the next, verifying, process resumes.
      const store = path.join(dir, `env-${version}`);
      expect(await run({ port, store, steps: [{}] }, { NODE_TLS_REJECT_UNAUTHORIZED: '0' })).toEqual([
        { reused: false, authorized: false },
      ]);
      expect(await run({ port, store, steps: [{ env: null }] })).toEqual([
        { error: 'DEPTH_ZERO_SELF_SIGNED_CERT', reused: false, authorized: false },
      ]);
    },
  );

  test.each(VERSIONS)('%s: two processes with their own secureContext (client identity) do not share a store entry', async (version) => {
    const serverCert = selfSignedCertificate('localhost');
    const seen: string[] = [];
    const server = tls.createServer(
      {
        key: serverCert.key,
        cert: serverCert.cert,
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: version,
        maxVersion: version,
      },
      (s) => {
        seen.push(String(s.getPeerCertificate().subject?.CN));
        s.end('x');
      },
    );
    servers.push(server);
    const port = await listen(server);
    const store = path.join(dir, `identity-${version}`);
    const options = { rejectUnauthorized: false };
    // Each process builds its first SecureContext for its own tenant, then connects with it.
    const a = { identity: selfSignedCertificate('tenant-a'), options };
    const b = { identity: selfSignedCertificate('tenant-b'), options };
    expect(await run({ port, store, steps: [a] })).toEqual([{ reused: false, authorized: false }]);
    expect(await run({ port, store, steps: [b] })).toEqual([{ reused: false, authorized: false }]);
    expect(seen).toEqual(['tenant-a', 'tenant-b']);
  });
});
