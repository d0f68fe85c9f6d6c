/**
 * Real nginx and HAProxy processes (Debian's packages) as members of a mixed fleet: each started
 * on a free loopback port with its own temp directory (config, pid, logs, certificate, ticket
 * keys), stopped by its pid. A missing binary fails the test with what to install.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { freePort, nginxConfig, waitForPort } from '../../tools/src/bench/anchors';
import { cert } from './tls';

export const NGINX_BIN = '/usr/sbin/nginx';
export const HAPROXY_BIN = '/usr/sbin/haproxy';

export interface Peer {
  port: number;
  dir: string;
  /** Stops the process (by pid) and removes its directory. */
  stop(): Promise<void>;
}

/** Throws (the test fails, never skips) when `bin` is missing, naming the Debian package. */
export function requireBinary(bin: string, pkg: string): void {
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: this test needs the real ${pkg}. Install it with: apt-get install ${pkg}`);
}

async function run(bin: string, args: string[], dir: string, port: number): Promise<Peer> {
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await waitForPort(port, child, 10000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${path.basename(bin)} did not start: ${(err as Error).message}\n${stderr}`);
  }
  return {
    port,
    dir,
    stop: () =>
      new Promise((resolve) => {
        const done = () => {
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', done);
        child.kill('SIGTERM');
        setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 3000).unref();
      }),
  };
}

function peerDir(kind: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tls-resumption-${kind}-`));
  fs.writeFileSync(path.join(dir, 'key.pem'), cert.key, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'cert.pem'), cert.cert);
  return dir;
}

/**
 * nginx 1.22, one process (master_process off), `ssl_session_cache off` so tickets are the only
 * way to resume, `ssl_session_ticket_key` = `ticketKey` (48 or 80 raw bytes: nginx's layout).
 * `clientCa`: PEM for `ssl_client_certificate`, with `ssl_verify_client optional`.
 * `sessionIds`: the other way round, `ssl_session_tickets off` and `ssl_session_cache shared`:
 * TLS 1.2 resumes by session ID, TLS 1.3 by stateful tickets (single-use, from the cache).
 */
export async function startNginx(ticketKey: Buffer, o: { clientCa?: string; sessionIds?: boolean } = {}): Promise<Peer> {
  requireBinary(NGINX_BIN, 'nginx');
  const dir = peerDir('nginx');
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'ticket.key'), ticketKey, { mode: 0o600 });
  const clientCa: string[] = [];
  if (o.clientCa !== undefined) {
    fs.writeFileSync(path.join(dir, 'ca.pem'), o.clientCa);
    clientCa.push('ssl_verify_client optional', `ssl_client_certificate ${dir}/ca.pem`);
  }
  const conf = nginxConfig({
    dir,
    port,
    masterProcess: false,
    workerConnections: 256,
    sessions: [
      ...(o.sessionIds
        ? ['ssl_session_cache shared:SSL:1m', 'ssl_session_tickets off']
        : ['ssl_session_cache off', 'ssl_session_tickets on', `ssl_session_ticket_key ${dir}/ticket.key`]),
      ...clientCa,
    ],
    body: 'ok',
  });
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  return run(NGINX_BIN, ['-e', `${dir}/error.log`, '-p', dir, '-c', `${dir}/nginx.conf`], dir, port);
}

/** HAProxy 2.6 terminating TLS itself (`http-request return`), `tls-ticket-keys` = `keysFile` (base64 lines). */
export async function startHaproxy(keysFile: string): Promise<Peer> {
  requireBinary(HAPROXY_BIN, 'haproxy');
  const dir = peerDir('haproxy');
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'site.pem'), cert.cert + cert.key, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'ticket.keys'), keysFile, { mode: 0o600 });
  const conf = `
global
  maxconn 256
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:${port} ssl crt ${dir}/site.pem tls-ticket-keys ${dir}/ticket.keys
  http-request return status 200 content-type text/plain string ok
`;
  fs.writeFileSync(path.join(dir, 'haproxy.cfg'), conf);
  return run(HAPROXY_BIN, ['-db', '-f', `${dir}/haproxy.cfg`], dir, port);
}

/** One random ticket key's parts and its layouts in each peer's file format. */
export function ticketKey(bytes: 48 | 80): { name: Buffer; node: Buffer; nginx: Buffer; haproxy: Buffer } {
  const half = (bytes - 16) / 2;
  const name = crypto.randomBytes(16);
  const hmac = crypto.randomBytes(half);
  const aes = crypto.randomBytes(half);
  return {
    name,
    node: Buffer.concat([name, hmac, aes]),
    nginx: bytes === 48 ? Buffer.concat([name, aes, hmac]) : Buffer.concat([name, hmac, aes]),
    haproxy: Buffer.concat([name, aes, hmac]),
  };
}
