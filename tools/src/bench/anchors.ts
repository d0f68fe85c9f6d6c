/**
 * C server anchors: nginx with `ssl_session_cache shared` and HAProxy with its session cache,
 * started from generated configs on loopback, tickets off (so the session cache is what is
 * measured, as with `attach`). Skipped with a note when the binary is not installed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import type { SelfSignedCertificate } from '../library';
import { processTree, processTreeCpuMicros } from '../loadgen/procfs';
import type { ServerHandle } from './harness';

const SEARCH_PATH = `${process.env.PATH ?? ''}:/usr/sbin:/sbin:/usr/local/sbin`;

/** Absolute path of an anchor binary, or undefined when not installed. */
export function anchorAvailable(kind: 'nginx' | 'haproxy'): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${kind}`], { env: { ...process.env, PATH: SEARCH_PATH }, encoding: 'utf8' });
  const found = r.stdout.trim();
  return r.status === 0 && found ? found : undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, child: ChildProcess, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`anchor exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`anchor did not listen on ${port} within ${ms} ms`);
}

/** How one nginx test or anchor server differs from the others; everything else is shared. */
export interface NginxSite {
  /** The server's own folder: pid, logs, temp paths, cert.pem and key.pem. */
  dir: string;
  port: number;
  /** `master_process on` (a master and one worker, as deployed) or off (one process). */
  masterProcess: boolean;
  workerConnections: number;
  /** The session directives of the server block (cache, tickets, ticket keys). */
  sessions: string[];
  /** The response body. */
  body: string;
  /** Extra directives of the http block (e.g. a `log_format`). */
  http?: string[];
}

/** An nginx.conf for one TLS 1.2/1.3 server on loopback answering every request with `body`. */
export function nginxConfig(site: NginxSite): string {
  const { dir } = site;
  return `daemon off;
master_process ${site.masterProcess ? 'on' : 'off'};
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections ${site.workerConnections}; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${(site.http ?? []).map((line) => `  ${line};\n`).join('')}  server {
    listen 127.0.0.1:${site.port} ssl;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
${site.sessions.map((line) => `    ${line};\n`).join('')}    location / { return 200 ${JSON.stringify(site.body)}; }
  }
}
`;
}

function haproxyConfig(dir: string, port: number): string {
  return `global
  nbthread 1
  tune.ssl.cachesize 20000
  tune.ssl.lifetime 300
defaults
  mode http
  timeout connect 5s
  timeout client 10s
  timeout server 10s
frontend bench
  bind 127.0.0.1:${port} ssl crt ${dir}/combined.pem no-tls-tickets ssl-min-ver TLSv1.2
  http-request return status 200 content-type text/plain string "ok"
`;
}

/** nginx's session directives in the anchor: its shared session cache, tickets off (as `attach` is measured). */
const NGINX_ANCHOR_SESSIONS = ['ssl_session_cache shared:SSL:10m', 'ssl_session_timeout 5m', 'ssl_session_tickets off'];

/**
 * Starts an anchor on a free loopback port from a generated config in a temp dir (`dir`, removed
 * by `close`). `nginxSessions` replaces nginx's session directives (the gateway benchmark runs
 * nginx with tickets on; the browser bursts add an access log in `dir`); `nginxHttp` adds
 * directives to nginx's http block.
 */
export async function startAnchor(
  kind: 'nginx' | 'haproxy',
  cert: SelfSignedCertificate,
  nginxSessions: readonly string[] | ((dir: string) => readonly string[]) = NGINX_ANCHOR_SESSIONS,
  nginxHttp: readonly string[] = [],
): Promise<ServerHandle & { dir: string }> {
  const bin = anchorAvailable(kind);
  if (!bin) throw new Error(`${kind} is not installed`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsc-bench-${kind}-`));
  fs.writeFileSync(path.join(dir, 'cert.pem'), cert.cert);
  fs.writeFileSync(path.join(dir, 'key.pem'), cert.key, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'combined.pem'), cert.cert + cert.key, { mode: 0o600 });
  const port = await freePort();
  let child: ChildProcess;
  if (kind === 'nginx') {
    fs.writeFileSync(
      path.join(dir, 'nginx.conf'),
      nginxConfig({
        dir,
        port,
        masterProcess: true,
        workerConnections: 4096,
        sessions: [...(typeof nginxSessions === 'function' ? nginxSessions(dir) : nginxSessions)],
        http: [...nginxHttp],
        body: 'ok\n',
      }),
    );
    child = spawn(bin, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: 'ignore' });
  } else {
    fs.writeFileSync(path.join(dir, 'haproxy.cfg'), haproxyConfig(dir, port));
    child = spawn(bin, ['-db', '-f', path.join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
  }
  try {
    await waitForPort(port, child, 5000);
  } catch (err) {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const pid = child.pid!;
  return {
    dir,
    port,
    ports: [port],
    pid,
    cpuMicros: () => processTreeCpuMicros(processTree(pid)),
    rotate: async () => undefined,
    counts: async () => undefined,
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
