/**
 * What a user gets: `npm pack` the package as `npm publish` would (prepack: the four lines'
 * prebuilds are there and current, a clean dist/), install the tarball into a fresh project from
 * the npm cache (--prefer-offline: only metadata the cache lacks is asked of the registry) with no
 * compiler on PATH, so the addon must come from the tarball's prebuild for the running line; then
 * use every public entry the way a user would: require() and import, types through tsc, the CLI,
 * and a resumed TLS 1.2 connection through the installed package. scripts/test-lines.sh runs this
 * file once per Node line, each installing with that line's node and npm.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensurePrebuilds, repoRoot } from './support/build';
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
    'ErrorCodes',
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

/** The tools an `npm install` needs and nothing else: this node, its npm, a shell; no cc, c++, g++ or make. */
function pathWithoutCompiler(): string {
  const bin = path.join(work, 'bin');
  fs.mkdirSync(bin);
  const npm = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
  const tools: Record<string, string> = { node: process.execPath, npm: fs.realpathSync(npm) };
  for (const t of ['sh', 'bash', 'env', 'uname']) tools[t] = spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim();
  for (const [name, target] of Object.entries(tools)) fs.symlinkSync(target, path.join(bin, name));
  return bin;
}

let noCompilerPath: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-resumption-pack-'));
  ensurePrebuilds();
  // prepack (the prebuilds check, a dist/ rebuilt from nothing so no stale file ships), then pack without scripts.
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
  noCompilerPath = pathWithoutCompiler();
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], project, { PATH: noCompilerPath });
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

  test('the tarball carries a prebuild for each of the four lines, and nothing else under prebuilds/ but their source digests', () => {
    expect(files.filter((f) => f.startsWith('prebuilds/'))).toEqual([
      'prebuilds/linux-x64/node.abi115.glibc.node',
      'prebuilds/linux-x64/node.abi127.glibc.node',
      'prebuilds/linux-x64/node.abi137.glibc.node',
      'prebuilds/linux-x64/node.abi147.glibc.node',
      'prebuilds/linux-x64/sources.json',
    ]);
  });

  test(`installs with no compiler on PATH (Node ${process.versions.node}): the addon is this line's prebuild, nothing was built; a handful of packages`, () => {
    // The PATH the install ran with has no compiler and no make: a fallback to a source build would have failed the install.
    const found = spawnSync('sh', ['-c', 'for t in cc c++ gcc g++ make; do command -v $t; done; true'], {
      encoding: 'utf8',
      env: { PATH: noCompilerPath },
    });
    expect(found.stdout).toBe('');
    const modules = path.join(work, 'app', 'node_modules');
    const installed = fs
      .readdirSync(modules)
      .filter((n) => !n.startsWith('.'))
      .sort();
    expect(installed).toEqual(['node-addon-api', 'node-gyp-build', 'tls-resumption']);
    const pkg = path.join(modules, 'tls-resumption');
    expect(fs.existsSync(path.join(pkg, 'build'))).toBe(false);
    const loaded = run(
      process.execPath,
      ['-e', `console.log(require('node-gyp-build').resolve(${JSON.stringify(pkg)}))`],
      path.join(work, 'app'),
    );
    expect(loaded.trim()).toBe(path.join(pkg, 'prebuilds', 'linux-x64', `node.abi${process.versions.modules}.glibc.node`));
  });

  test('npm pack refuses without a current prebuild for every line, naming each missing or stale one and the command that builds them', () => {
    // A copy of what the check reads: package.json (its prepack), the script, the loader's ABI
    // list, binding.gyp and native/; with two prebuilds of today's sources, one of other sources, one missing.
    const copy = path.join(work, 'refuse');
    for (const f of ['package.json', 'binding.gyp', 'scripts/prebuilds.js', 'src/common/binding-loader.ts']) {
      fs.mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
      fs.copyFileSync(path.join(repoRoot, f), path.join(copy, f));
    }
    fs.cpSync(path.join(repoRoot, 'native'), path.join(copy, 'native'), { recursive: true });
    fs.cpSync(path.join(repoRoot, 'prebuilds'), path.join(copy, 'prebuilds'), { recursive: true });
    fs.rmSync(path.join(copy, 'prebuilds/linux-x64/node.abi147.glibc.node'));
    const manifest = path.join(copy, 'prebuilds/linux-x64/sources.json');
    fs.writeFileSync(manifest, JSON.stringify({ ...JSON.parse(fs.readFileSync(manifest, 'utf8')), '127': '0'.repeat(64) }));
    const r = spawnSync('npm', ['pack', '--dry-run'], { cwd: copy, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('tls-resumption: refusing to pack without a current prebuilt addon for every supported Node line');
    expect(r.stderr).toContain('Node.js 26 (ABI 147): prebuilds/linux-x64/node.abi147.glibc.node is missing');
    expect(r.stderr).toContain('Node.js 22 (ABI 127): prebuilds/linux-x64/node.abi127.glibc.node was built from other native sources');
    expect(r.stderr).not.toMatch(/ABI 115|ABI 137/);
    expect(r.stderr).toContain('npm run prebuild');
  });

  test('the shipped package.json prepares (git install, npm pack) by compiling the library only, not tools/', () => {
    const shipped = JSON.parse(fs.readFileSync(path.join(work, 'app', 'node_modules', 'tls-resumption', 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    // prepare runs when the package is installed from git or packed: the library only (tools/ is not shipped).
    expect(shipped.scripts.prepare).toBe('tsc -p tsconfig.json');
  });

  // Skipped (and counted so) on the other lines: the sources and binding.gyp are the same for every line.
  const onNode20 = process.versions.node.startsWith('20.') ? test : test.skip;
  onNode20('the native sources in the tarball build the addon with a compiler (on Node 20 only)', () => {
    const project = path.join(work, 'source');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'source', version: '1.0.0', private: true }));
    // One job: the machine is shared; the build is the user's `npm install --build-from-source`.
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], project, {
      npm_config_jobs: '1',
      npm_config_build_from_source: 'true',
    });
    // Only the library's target: the tarball has no tools/.
    const release = path.join(project, 'node_modules', 'tls-resumption', 'build', 'Release');
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
