/**
 * What a user gets: `npm pack` the package as `npm publish` would (prepack: a clean dist/), install
 * the tarball into a fresh project from the npm cache (--prefer-offline: only metadata the cache
 * lacks is asked of the registry), so the source build of the addon
 * runs exactly as on a user's machine without a matching prebuild; then use every public entry
 * the way a user would: require() and import, types through tsc, the CLI, and a resumed TLS 1.2
 * connection through the installed package.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from './support/build';
import { cert } from './support/tls';

jest.setTimeout(600_000);

const ENTRIES = {
  'tls-resumption': [
    'CLIENT_REFUSAL_REASONS',
    'CacheMode',
    'Channels',
    'ClientLimits',
    'ClientSessionCache',
    'DEFAULT_MAX_SESSION_AGE_SECONDS',
    'Limits',
    'RESUMPTION_FAILURE_REASONS',
    'SESSION_ID_CONTEXT_INPUTS',
    'SessionCache',
    'SharedLimits',
    'TicketKeyRing',
    'attach',
    'clientSessions',
    'haproxySessionIdContext',
    'listSharedStores',
    'nginxSessionIdContext',
    'removeSharedStore',
  ],
  'tls-resumption/metrics': ['ClientSessionMetrics', 'KNOWN_METRICS', 'SessionCacheMetrics'],
  'tls-resumption/otel': ['ClientSessionInstruments', 'SessionCacheInstruments', 'instrumentSpec'],
  'tls-resumption/probe': ['probe', 'probeFleet'],
  'tls-resumption/providers': ['engines', 'keySource', 'loadEngineKey', 'loadProvider', 'opensslInfo', 'providers', 'redactKeyIdentifier'],
};

/** Every file the tarball may hold: the compiled library, what a source build needs, the docs a registry shows. */
const ALLOWED = [
  /^package\.json$/,
  /^(README|CHANGELOG)\.md$/,
  /^LICENSE$/,
  /^binding\.gyp$/,
  /^bin\/tls-resumption\.js$/,
  /^native\/([a-z]+\/)?[a-z_]+\.(cc|h)$/,
  /^dist\/([a-z-]+\/){0,2}[a-z-]+\.(js|d\.ts)$/,
  /^prebuilds\//,
];

let work: string;
let files: string[];
let tarball: string;

function run(cmd: string, args: string[], cwd: string, extraEnv: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...extraEnv } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-resumption-pack-'));
  // prepack (a dist/ rebuilt from nothing, so no stale file ships), then pack without scripts.
  run('npm', ['run', '--silent', 'prepack'], repoRoot);
  const packed = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], repoRoot)) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  tarball = path.join(work, packed[0]!.filename);
  files = packed[0]!.files.map((f) => f.path).sort();
  const project = path.join(work, 'app');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  // One job: the machine is shared; the build is the user's `npm install` without a prebuild.
  // A source build even when prebuilds/ ships (test/node-lines.test.ts covers installing from those):
  // this proves native/ and binding.gyp in the tarball are enough to build the addon.
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], project, {
    npm_config_jobs: '1',
    npm_config_build_from_source: 'true',
  });
});

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('the published package', () => {
  test('the tarball holds the library only: dist without tooling or source maps, native sources, binding.gyp, LICENSE, docs', () => {
    const stray = files.filter((f) => !ALLOWED.some((re) => re.test(f)));
    expect(stray).toEqual([]);
    for (const f of [
      'LICENSE',
      'README.md',
      'CHANGELOG.md',
      'binding.gyp',
      'package.json',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli/main.js',
      'dist/server/ticket-key-ring/index.js',
      'dist/server/ticket-key-ring/index.d.ts',
    ]) {
      expect(files).toContain(f);
    }
    for (const entry of ['metrics', 'otel', 'probe', 'providers']) expect(files).toContain(`dist/entries/${entry}.js`);
    // Every native source the library's target compiles ships; nothing of tools/ does.
    const gyp = fs.readFileSync(path.join(repoRoot, 'binding.gyp'), 'utf8');
    const target = gyp.slice(0, gyp.indexOf('"conditions"'));
    for (const m of target.matchAll(/"(native\/([a-z]+\/)?[a-z_]+\.cc)"/g)) expect(files).toContain(m[1]);
    expect(files.filter((f) => /bench|loadgen|soak|tools\/|\.map$|^src\/|^test\/|^scripts\//.test(f))).toEqual([]);
    expect(fs.readFileSync(path.join(repoRoot, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
  });

  test('installs a handful of packages: itself, node-gyp-build, node-addon-api (for the source build)', () => {
    const modules = path.join(work, 'app', 'node_modules');
    const installed = fs
      .readdirSync(modules)
      .filter((n) => !n.startsWith('.'))
      .sort();
    expect(installed).toEqual(['node-addon-api', 'node-gyp-build', 'tls-resumption']);
    // The addon was built from the shipped sources (no prebuild matched), and only the library's target.
    const release = path.join(modules, 'tls-resumption', 'build', 'Release');
    expect(fs.readdirSync(release).filter((f) => f.endsWith('.node'))).toEqual(['tls_resumption.node']);
  });

  test('require() and import of every public entry give exactly the documented names', () => {
    const project = path.join(work, 'app');
    const cjs = `const out = {}; for (const e of ${JSON.stringify(Object.keys(ENTRIES))}) out[e] = Object.keys(require(e)).filter((k) => k !== '__esModule').sort(); console.log(JSON.stringify(out));`;
    const esm = `const out = {}; for (const e of ${JSON.stringify(Object.keys(ENTRIES))}) out[e] = Object.keys(await import(e)).filter((k) => !['default', 'module.exports', '__esModule'].includes(k)).sort(); console.log(JSON.stringify(out));`;
    fs.writeFileSync(path.join(project, 'cjs.cjs'), cjs);
    fs.writeFileSync(path.join(project, 'esm.mjs'), esm);
    expect(JSON.parse(run(process.execPath, ['cjs.cjs'], project))).toEqual(ENTRIES);
    expect(JSON.parse(run(process.execPath, ['esm.mjs'], project))).toEqual(ENTRIES);
    // Internals stay internal: deep imports are not exported.
    const deep = spawnSync(process.execPath, ['-e', "require('tls-resumption/dist/server/attach')"], { cwd: project, encoding: 'utf8' });
    expect(deep.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });

  test('a resumed TLS 1.2 connection through the installed package', () => {
    const project = path.join(work, 'app');
    const script = `
      const tls = require('node:tls');
      const { attach } = require('tls-resumption');
      const { key, cert } = JSON.parse(process.env.CERT);
      const server = tls.createServer({ key, cert, maxVersion: 'TLSv1.2', secureOptions: require('node:constants').SSL_OP_NO_TICKET }, (s) => s.end('ok'));
      const cache = attach(server, { cache: { size: 100 } });
      const connect = (session) => new Promise((resolve, reject) => {
        const c = tls.connect({ port: server.address().port, host: '127.0.0.1', rejectUnauthorized: false, maxVersion: 'TLSv1.2', session });
        let s; c.on('session', (x) => (s = x)); c.on('error', reject);
        c.on('end', () => resolve({ reused: c.isSessionReused(), session: s })); c.resume();
      });
      server.listen(0, '127.0.0.1', async () => {
        const first = await connect();
        const second = await connect(first.session);
        console.log(JSON.stringify({ first: first.reused, second: second.reused, hits: cache.stats().hits }));
        cache.detach(); server.close();
      });`;
    const out = run(process.execPath, ['-e', script], project, { CERT: JSON.stringify(cert) });
    expect(JSON.parse(out)).toEqual({ first: false, second: true, hits: 1 });
  });

  test('types: the public names type-check; internals are not in the .d.ts', () => {
    const project = path.join(work, 'app');
    fs.writeFileSync(
      path.join(project, 'use.ts'),
      [
        "import { attach, TicketKeyRing, Channels, type AttachOptions, type SessionCacheStats } from 'tls-resumption';",
        "import { SessionCacheMetrics } from 'tls-resumption/metrics';",
        "import { probe } from 'tls-resumption/probe';",
        "import { providers } from 'tls-resumption/providers';",
        'const o: AttachOptions = { cache: { size: 1 }, tickets: { keyRing: TicketKeyRing.generate() } };',
        'export const used = [attach, o, Channels.attach, SessionCacheMetrics, probe, providers];',
        'export type S = SessionCacheStats;',
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(project, 'internal.ts'),
      ["import { SessionCache, TicketKeyRing } from 'tls-resumption';", 'SessionCache._create;', 'TicketKeyRing.generate()._native;'].join(
        '\n',
      ),
    );
    const tsc = require.resolve('typescript/bin/tsc');
    const types = path.join(repoRoot, 'node_modules', '@types');
    // 'tls-resumption/metrics' types name prom-client's (a user of it has installed it); borrow the repository's.
    const compilerOptions = {
      noEmit: true,
      strict: true,
      module: 'node16',
      moduleResolution: 'node16',
      typeRoots: [types],
      types: ['node'],
    };
    const paths = { 'prom-client': [path.join(repoRoot, 'node_modules', 'prom-client')] };
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { ...compilerOptions, paths }, files: ['use.ts', 'internal.ts'] }),
    );
    // One compile (tsc is slow here): use.ts is clean, internal.ts fails on exactly the two internals.
    const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project, encoding: 'utf8' });
    expect(r.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^internal\.ts.*Property '_create' does not exist on type 'typeof SessionCache'/),
      expect.stringMatching(/^internal\.ts.*Property '_native' does not exist on type 'TicketKeyRing'/),
    ]);
  });

  test('the CLI runs from the install; the tooling commands say where they live', () => {
    const bin = path.join(work, 'app', 'node_modules', '.bin', 'tls-resumption');
    expect(run(process.execPath, [bin, '--help'], path.join(work, 'app'))).toMatch(/inspect[\s\S]*keygen[\s\S]*probe/);
    const bench = spawnSync(process.execPath, [bin, 'bench'], { cwd: path.join(work, 'app'), encoding: 'utf8' });
    expect(bench.status).toBe(2);
    expect(bench.stderr).toMatch(/development tooling: in a clone of the repository run "npx tls-resumption-tools bench"/);
  });
});
