/**
 * The ```ts examples of README.md and docs/, and what runs them: the prelude that gives the names
 * they use without defining (`server`, `cache`, `redis`...) real values, and the child process
 * each example runs in (test/docs-examples.test.ts).
 *
 * The prelude is TypeScript compiled in the same project as the examples, against the package as
 * a user installs it. Its `declare global` block is the one list of those names: the compile test
 * type-checks the examples against it, the run test gets their values from it.
 *
 * Shims, so that examples written for a production machine run on loopback (nothing else is
 * changed at run time):
 * - `listen(port)` with a port other than 0 listens on port 0 on 127.0.0.1 (`server.listen(443)`).
 * - Connections to api.example.com, db.example.com and example.com (any port) and to loopback port
 *   8443 go to the test's upstream: a real TLS server (HTTP/1.1 and HTTP/2) with a self-signed
 *   certificate per host name, trusted by the child through NODE_EXTRA_CA_CERTS.
 * - Connections to loopback port 6379 (`new Redis()`) go to the test's own redis-server.
 * - SUBSTITUTIONS below: machine paths (/etc/..., a PKCS#11 module) become files the test made
 *   with the same role, shared-store names get a per-run prefix (the stores are machine-wide
 *   files under /dev/shm, and other tests run beside these), and the benchmark's 10 s run is 1 s.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { repoRoot } from './build';

export interface Example {
  doc: string;
  /** Index among the doc's ```ts blocks. */
  index: number;
  /** Line of the block's first code line in the doc. */
  line: number;
  code: string;
  /** The reason given in a `<!-- not-run: reason -->` comment right before the block. */
  notRun?: string;
}

/** README.md and every page in docs/. */
export function docFiles(): string[] {
  return [
    'README.md',
    ...fs
      .readdirSync(path.join(repoRoot, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
}

export function examples(): Example[] {
  const out: Example[] = [];
  for (const doc of docFiles()) {
    const text = fs.readFileSync(path.join(repoRoot, doc), 'utf8');
    let index = 0;
    for (const m of text.matchAll(/(?:<!-- not-run: ([^\n]*?) -->\n)?^```ts\n([\s\S]*?)^```/gm)) {
      const start = m.index + m[0].indexOf('```ts');
      const example: Example = { doc, index: index++, line: text.slice(0, start).split('\n').length + 1, code: m[2]! };
      if (m[1]) example.notRun = m[1];
      out.push(example);
    }
  }
  return out;
}

export function exampleName(e: Example): string {
  return `${e.doc}#${e.index} (line ${e.line})`;
}

/** Each entry's exported names (from package.json's exports, loaded from dist/). */
export function entryExports(): Map<string, string> {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { exports: Record<string, { default?: string }> };
  const byName = new Map<string, string>();
  for (const [entry, target] of Object.entries(pkg.exports)) {
    if (typeof target !== 'object' || !target.default) continue;
    const specifier = entry === '.' ? 'tls-resumption' : `tls-resumption/${entry.slice(2)}`;
    for (const name of Object.keys(require(path.join(repoRoot, target.default)) as object))
      if (!byName.has(name)) byName.set(name, specifier);
  }
  return byName;
}

/**
 * The example as a module: its imports, the package names it uses unimported, its body in an
 * async function `example()`. `runtime`: relative imports of the tools resolve to their compiled
 * JS (tools/dist), else to their TypeScript sources (the compile test's types).
 */
export function asModule(example: Example, exported: Map<string, string>, code = example.code, runtime = false): string {
  const lines = code.split('\n');
  const imports = lines.filter((l) => /^import\s/.test(l));
  // Relative imports are from the repo's root (the benchmark example runs in a clone). Trailing comments would swallow line 1.
  const fixed = imports.map((l) =>
    l
      .replace(/\s*\/\/.*$/, '')
      .replace(
        /from '\.\/([^']+)'/,
        (_m, p: string) => `from '${path.join(repoRoot, runtime ? p : p.replace(/^tools\/dist\//, 'tools/src/'))}'`,
      ),
  );
  const body = lines.map((l) => (/^import\s/.test(l) ? '' : l));
  const imported = new Set(imports.flatMap((l) => [...l.matchAll(/\b([A-Za-z_$][\w$]*)\b/g)].map((m) => m[1]!)));
  const missing = new Map<string, string[]>();
  for (const [name, specifier] of exported) {
    if (imported.has(name) || !new RegExp(`(?<![.\\w$])${name.replace(/\$/g, '\\$')}\\b`).test(body.join('\n'))) continue;
    missing.set(specifier, [...(missing.get(specifier) ?? []), name]);
  }
  const auto = [...missing].map(([specifier, names]) => `import { ${names.join(', ')} } from '${specifier}';`);
  // Same line numbers as the block: imports stay on their lines (blanked in the body), the added ones share line 1.
  return [`${auto.join(' ')} ${fixed.join(' ')} export async function example(): Promise<void> {`, ...body, '}'].join('\n');
}

/** Files and ports the test made for the children; passed in the environment as EXAMPLES_*. */
export interface Fixtures {
  /** Directory with key.pem, cert.pem (localhost), ca.pem (every certificate the upstream serves), nginx-ticket.key. */
  dir: string;
  upstreamPort: number;
  redisPort: number;
  /** The SoftHSM token (label "edge", object "tls"): its certificate, PIN file, environment. */
  token: { certFile: string; pinFile: string; module: string; env: Record<string, string> };
}

interface Substitution {
  doc: string;
  from: string | RegExp;
  to: (f: Fixtures, runId: string) => string;
}

/** Run-time replacements in an example's text (see the header); each must match at least once. */
export const SUBSTITUTIONS: Substitution[] = [
  { doc: 'docs/hardware-keys.md', from: "'/etc/tls/edge.crt'", to: (f) => `'${f.token.certFile}'` },
  { doc: 'docs/hardware-keys.md', from: "'/usr/lib/<vendor>/libvendor-pkcs11.so'", to: (f) => `'${f.token.module}'` },
  { doc: 'docs/hardware-keys.md', from: "'/run/secrets/edge-pin'", to: (f) => `'${f.token.pinFile}'` },
  { doc: 'docs/ticket-key-ring.md', from: "'/etc/nginx/ticket.key'", to: (f) => `'${path.join(f.dir, 'nginx-ticket.key')}'` },
  { doc: 'docs/ticket-key-ring.md', from: "'/etc/nginx/site.crt'", to: (f) => `'${path.join(f.dir, 'cert.pem')}'` },
  { doc: 'docs/api.md', from: "'/var/lib/gateway/client-sessions'", to: (f, run) => `'${path.join(f.dir, `${run}-client-sessions`)}'` },
  { doc: 'README.md', from: "shared: { name: 'api' }", to: (_f, run) => `shared: { name: '${run}-api' }` },
  { doc: 'docs/shared-store.md', from: /removeSharedStore\('api'/g, to: (_f, run) => `removeSharedStore('${run}-api'` },
  { doc: 'docs/api.md', from: "name: 'sessions-32m'", to: (_f, run) => `name: '${run}-sessions-32m'` },
  { doc: 'docs/shared-store.md', from: "name: 'sessions-32m'", to: (_f, run) => `name: '${run}-sessions-32m'` },
  { doc: 'docs/benchmark.md', from: 'durationMs: 10_000', to: () => 'durationMs: 1_000' },
  { doc: 'docs/benchmark.md', from: 'port: 8443', to: (f) => `port: ${f.upstreamPort}` },
];

/** The example's text as it runs, and the substitutions that matched. */
export function runnableCode(e: Example, f: Fixtures, runId: string): { code: string; used: Substitution[] } {
  let code = e.code;
  const used: Substitution[] = [];
  for (const s of SUBSTITUTIONS) {
    if (s.doc !== e.doc) continue;
    const next = typeof s.from === 'string' ? code.split(s.from).join(s.to(f, runId)) : code.replace(s.from, s.to(f, runId));
    if (next !== code) used.push(s);
    code = next;
  }
  return { code, used };
}

/**
 * The names the examples use without defining them. Values are made on first use (an example
 * pays only for what it uses); `setup()` installs the shims and must run before the example.
 */
export const PRELUDE = `
import * as nodeFs from 'node:fs';
import type * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as crypto from 'node:crypto';
import type Redis from 'ioredis';
import type { Registry } from 'prom-client';
import { attach, clientSessions, TicketKeyRing, type ClientSessionCache, type SessionCache } from 'tls-resumption';

declare global {
  var server: https.Server;
  var apiServer: https.Server;
  var webServer: https.Server;
  var key: string;
  var cert: string;
  var handler: http.RequestListener;
  var app: http.RequestListener;
  var cache: SessionCache;
  var sessions: ClientSessionCache;
  var ring: TicketKeyRing;
  var keyRing: TicketKeyRing;
  var otherRing: TicketKeyRing;
  var keyId: string;
  var oldSecretId: string;
  var newSecret: Uint8Array;
  var secret32Bytes: Uint8Array;
  var fleetSecret32Bytes: Uint8Array;
  var redisClient: Redis;
  var redis: Redis;
  var secret: Uint8Array;
  var registry: Registry;
  var meterProvider: import('@opentelemetry/api').MeterProvider;
  var log: { warn(message: string): void };
  var fs: typeof import('node:fs');
}

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(\`docs example prelude: \${name} is not set\`);
  return v;
};
const fixture = (file: string): string => nodeFs.readFileSync(\`\${env('EXAMPLES_DIR')}/\${file}\`, 'utf8');

function define<T>(name: string, make: () => T): void {
  let value: T | undefined;
  let made = false;
  Object.defineProperty(globalThis, name, {
    configurable: true,
    get: () => {
      if (!made) [value, made] = [make(), true];
      return value;
    },
  });
}

const handlerOk: http.RequestListener = (_req, res) => res.end('ok');
const httpsServer = (): https.Server => https.createServer({ key: globalThis.key, cert: globalThis.cert }, handlerOk);
// Loaded on first use: most examples need none of these, and each costs a child's start time.
const redisOf = (): Redis => {
  const IoRedis = require('ioredis') as typeof import('ioredis').default;
  const r = new IoRedis({ host: '127.0.0.1', port: Number(env('EXAMPLES_REDIS_PORT')), maxRetriesPerRequest: 1 });
  r.on('error', (err) => process.stderr.write(\`prelude redis: \${err.message}\\n\`));
  return r;
};
// The secret ring's first secret, so that removeSecret(oldSecretId) has one to remove.
const oldSecret = crypto.randomBytes(32);

define('key', () => fixture('key.pem'));
define('cert', () => fixture('cert.pem'));
define('handler', () => handlerOk);
define('app', () => handlerOk);
define('server', httpsServer);
define('apiServer', httpsServer);
define('webServer', httpsServer);
define('cache', () => attach(httpsServer()));
define('sessions', () => clientSessions());
define('ring', () => TicketKeyRing.fromSecret(oldSecret));
define('keyRing', () => TicketKeyRing.generate());
define('otherRing', () => TicketKeyRing.generate());
define('keyId', () => TicketKeyRing.generate().list()[0]!.id);
define('oldSecretId', () => globalThis.ring.list().find((k) => k.secretId)!.secretId!);
for (const name of ['newSecret', 'secret32Bytes', 'fleetSecret32Bytes', 'secret']) define(name, () => crypto.randomBytes(32));
define('redis', redisOf);
define('redisClient', redisOf);
define('registry', () => new (require('prom-client') as typeof import('prom-client')).Registry());
define('meterProvider', () => new (require('@opentelemetry/sdk-metrics') as typeof import('@opentelemetry/sdk-metrics')).MeterProvider());
// A warning an example logs is a failure: it goes to stderr, which the test requires empty.
define('log', () => ({ warn: (message: string) => process.stderr.write(\`log.warn: \${message}\\n\`) }));
define('fs', () => nodeFs);

/** Servers the example made listen (the test connects to each once the example is done). */
export const listening: net.Server[] = [];

export function setup(): void {
  const upstream = Number(env('EXAMPLES_UPSTREAM_PORT'));
  const redisPort = Number(env('EXAMPLES_REDIS_PORT'));
  const hosts = new Set(['api.example.com', 'db.example.com', 'example.com']);
  const loopback = new Set([undefined, 'localhost', '127.0.0.1', '::1']);
  const target = (host: string | undefined, port: number): [string, number] | undefined => {
    if (host !== undefined && hosts.has(host)) return ['127.0.0.1', upstream];
    if (loopback.has(host) && port === 8443) return ['127.0.0.1', upstream];
    if (loopback.has(host) && port === 6379) return ['127.0.0.1', redisPort];
    return undefined;
  };
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    // net.connect() passes its normalized [options, callback]; tls.connect() an options object.
    const first = args[0];
    if (Array.isArray(first) && first[0] && typeof first[0] === 'object') {
      const o = first[0] as { host?: string; port?: number };
      const to = target(o.host, Number(o.port));
      if (to) [o.host, o.port] = to;
    } else if (first && typeof first === 'object') {
      const o = first as { host?: string; port?: number };
      const to = target(o.host, Number(o.port));
      if (to) args[0] = { ...o, host: to[0], port: to[1] };
    } else if (typeof first === 'number' || typeof first === 'string') {
      const to = target(typeof args[1] === 'string' ? args[1] : undefined, Number(first));
      if (to) args.splice(0, typeof args[1] === 'string' ? 2 : 1, to[1], to[0]);
    }
    return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof connect;
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    const first = args[0];
    const port = typeof first === 'object' && first !== null ? (first as { port?: unknown }).port : first;
    if ((typeof port === 'number' || typeof port === 'string') && Number(port) !== 0) {
      const callback = args.find((a) => typeof a === 'function');
      args = callback ? [0, '127.0.0.1', callback] : [0, '127.0.0.1'];
    }
    if (this instanceof tls.Server) listening.push(this);
    return (listen as (...a: unknown[]) => net.Server).apply(this, args);
  } as typeof listen;
}
`;

/**
 * The child's main: the prelude, then the example; "resolved" on stdout when its body completes,
 * then one TLS handshake with every server it made listen (one that stopped serving writes to stderr).
 */
export const RUNNER = `
const tls = require('node:tls');
const prelude = require('./prelude.js');
prelude.setup();
require(process.argv[2]).example().then(async () => {
  for (const server of prelude.listening) {
    if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
    const address = server.address();
    if (!address || typeof address === 'string') continue;
    await new Promise((resolve) => {
      const s = tls.connect({ port: address.port, host: '127.0.0.1', rejectUnauthorized: false }, () => { s.end(); resolve(); });
      s.on('error', (err) => { process.stderr.write('server on port ' + address.port + ' did not serve: ' + err.message + '\\n'); resolve(); });
    });
  }
  process.stdout.write('resolved\\n');
}, (err) => {
  process.stderr.write('example threw: ' + (err && err.code ? err.code + ' ' : '') + (err && err.stack || err) + '\\n');
  process.exitCode = 1;
});
`;
