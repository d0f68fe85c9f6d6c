/**
 * Every tested Node line, from a user's side: a binary or a runtime the addon does not support is
 * refused with an Error that names the runtime and the supported lines (never a dead process: the
 * binary binds its symbols at load, -z now). (That the packed tarball installs from its prebuild
 * with no compiler, on each line: test/pack.test.ts.)
 *
 * The other lines' node binaries come from the npm registry (scripts/node-lines.sh); the
 * prebuilds from `npm run prebuild` (scripts/prebuild.sh), which this test runs when they are
 * missing or stale.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureDist, ensurePrebuilds, repoRoot } from './support/build';

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
const nodeOf: Record<string, string> = {};

beforeAll(() => {
  ensureDist();
  for (const m of ALL_LINES) nodeOf[m] = path.join(lineDir(m), 'bin', 'node');
  ensurePrebuilds();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-resumption-lines-'));
}, 900_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe.each(LINES)('Node %s', (major) => {
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
