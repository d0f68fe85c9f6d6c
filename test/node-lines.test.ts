/**
 * Every tested Node line, from a user's side: the packed tarball installs into a fresh project
 * and loads on 20, 22, 24 and 26 from its prebuilds with no compiler involved, and a binary or a
 * runtime the addon does not support is refused with an Error that names the runtime and the
 * supported lines (never a dead process: the binary binds its symbols at load, -z now).
 *
 * The other lines' node binaries come from the npm registry (scripts/node-lines.sh); the
 * prebuilds from `npm run prebuild` (scripts/prebuild.sh), which this test runs when they are
 * missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureDist, repoRoot } from './support/build';
import { cert } from './support/tls';

const ALL_LINES = ['20', '22', '24', '26'] as const;
const ABI: Record<(typeof ALL_LINES)[number], string> = { '20': '115', '22': '127', '24': '137', '26': '147' };
// scripts/test-lines.sh runs the suite once per line and names it here, so each line's run
// covers its own line; a plain `npm test` covers all four.
const only = process.env.TLS_RESUMPTION_TEST_LINE;
const LINES = ALL_LINES.filter((m) => only === undefined || m === only);

function lineDir(major: string): string {
  return execFileSync('bash', [path.join(repoRoot, 'scripts/node-lines.sh'), 'dir', major], { encoding: 'utf8' }).trim();
}

function prebuild(major: string): string {
  return path.join(repoRoot, 'prebuilds', 'linux-x64', `node.abi${ABI[major as (typeof ALL_LINES)[number]]}.glibc.node`);
}

let work: string;
let tarball: string;
const nodeOf: Record<string, string> = {};

beforeAll(() => {
  ensureDist();
  for (const m of ALL_LINES) nodeOf[m] = path.join(lineDir(m), 'bin', 'node');
  // A prebuild older than the native sources is rebuilt: the tarball must carry today's code.
  const sources = fs.readdirSync(path.join(repoRoot, 'native')).map((f) => fs.statSync(path.join(repoRoot, 'native', f)).mtimeMs);
  const newest = Math.max(fs.statSync(path.join(repoRoot, 'binding.gyp')).mtimeMs, ...sources);
  const missing = ALL_LINES.filter((m) => !fs.existsSync(prebuild(m)) || fs.statSync(prebuild(m)).mtimeMs < newest);
  if (missing.length > 0) execFileSync('bash', [path.join(repoRoot, 'scripts/prebuild.sh'), ...missing], { stdio: 'inherit' });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-resumption-lines-'));
  const name = execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', work], {
    cwd: repoRoot,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop()!;
  tarball = path.join(work, name);
}, 900_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** A user's script: attach to an https server, connect twice, print what the user would check. */
const USER_SCRIPT = `
const https = require('node:https');
const tls = require('node:tls');
const { attach } = require('tls-resumption');
const { key, cert } = JSON.parse(process.env.TEST_CERT); // the test's certificate: the main entry has no certificate maker
const server = https.createServer({ key, cert, secureOptions: require('node:constants').SSL_OP_NO_TICKET, maxVersion: 'TLSv1.2' }, (q, s) => s.end('ok'));
const cache = attach(server, { cache: { enabled: true } });
server.listen(0, '127.0.0.1', async () => {
  const connect = (session) => new Promise((resolve, reject) => {
    const s = tls.connect({ port: server.address().port, host: '127.0.0.1', rejectUnauthorized: false, session }, () => {
      const reused = s.isSessionReused();
      const got = s.getSession();
      s.end();
      resolve({ reused, got });
    });
    s.on('error', reject);
  });
  const first = await connect();
  const second = await connect(first.got);
  console.log(JSON.stringify({ version: process.version, first: first.reused, second: second.reused, hits: cache.stats().hits }));
  server.close();
});
`;

describe.each(LINES)('Node %s', (major) => {
  test('the packed tarball installs from its prebuild (no compiler) and resumes', () => {
    const project = path.join(work, `project-${major}`);
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: `user-${major}`, version: '1.0.0', private: true }));
    const dir = path.dirname(path.dirname(nodeOf[major]));
    // A compiler that always fails: if node-gyp-build fell back to a source build, install fails.
    const env = {
      ...process.env,
      PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`,
      npm_config_nodedir: dir,
      CC: '/bin/false',
      CXX: '/bin/false',
      MAKE: '/bin/false',
    };
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: project, env, stdio: 'pipe' });
    const installed = path.join(project, 'node_modules', 'tls-resumption');
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
    fs.writeFileSync(path.join(project, 'user.js'), USER_SCRIPT);
    const out = execFileSync(nodeOf[major], ['user.js'], {
      cwd: project,
      env: { ...env, TEST_CERT: JSON.stringify(cert) },
      encoding: 'utf8',
    });
    const result = JSON.parse(out.trim().split('\n').pop()!);
    expect(result).toMatchObject({ first: false, second: true, hits: 1 });
    expect(result.version.startsWith(`v${major}.`)).toBe(true);
  }, 300_000);

  test('a binary built for another line is refused with an Error naming both, the process lives on', () => {
    const other = major === '26' ? '22' : '26';
    const root = fs.mkdtempSync(path.join(work, `mismatch-${major}-`));
    fs.mkdirSync(path.join(root, 'build', 'Release'), { recursive: true });
    fs.copyFileSync(prebuild(other), path.join(root, 'build', 'Release', 'tls_resumption.node'));
    const script = `
      const { loadBinding } = require(${JSON.stringify(path.join(repoRoot, 'dist', 'common', 'binding-loader.js'))});
      try { loadBinding(${JSON.stringify(root)}); console.log('loaded'); }
      catch (e) { console.log(JSON.stringify({ message: e.message })); }
      console.log('alive');
    `;
    const r = spawnSync(nodeOf[major], ['-e', script], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const [line, alive] = r.stdout.trim().split('\n').slice(-2);
    expect(alive).toBe('alive');
    const { message } = JSON.parse(line) as { message: string };
    expect(message).toContain(`Node.js v${major}.`);
    expect(message).toContain('supported: Node.js 20, 22, 24, 26 (ABIs 115, 127, 137, 147)');
  }, 60_000);
});

test('a runtime that is not Node (Deno, Bun) gets an Error naming it and the supported lines', () => {
  const script = `
    globalThis.Deno = { version: { deno: '2.1.4' } };
    try { require(${JSON.stringify(path.join(repoRoot, 'dist', 'index.js'))}); console.log('loaded'); }
    catch (e) { console.log(e.message); }
  `;
  const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim();
  expect(out).toBe('tls-resumption: Deno 2.1.4 is not supported; supported: Node.js 20, 22, 24, 26 (ABIs 115, 127, 137, 147)');
});
