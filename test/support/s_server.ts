/**
 * `openssl s_server` (the system's /usr/bin/openssl) on loopback for the probe tests: a real,
 * independent TLS server implementation, with a throwaway certificate in a temp directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { cert } from './tls';

export const OPENSSL_BIN = '/usr/bin/openssl';

export interface SServer {
  port: number;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts `openssl s_server -www` with `extra` arguments; resolves once it accepts. */
export async function startSServer(extra: string[] = []): Promise<SServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsc-s_server-'));
  fs.writeFileSync(path.join(dir, 'key.pem'), cert.key, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'cert.pem'), cert.cert);
  const port = await freePort();
  const child: ChildProcess = spawn(
    OPENSSL_BIN,
    ['s_server', '-accept', `127.0.0.1:${port}`, '-www', '-cert', path.join(dir, 'cert.pem'), '-key', path.join(dir, 'key.pem'), ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`s_server did not start: ${out}`)), 10000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('ACCEPT')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s_server exited ${code}: ${out}`));
    });
  });
  child.removeAllListeners('exit');
  child.stdout!.resume();
  child.stderr!.resume();
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => {
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
