/**
 * Child processes (the load generator's runner, bench servers, the CLI) run compiled code from
 * dist/ and tools/dist/. Rebuild it once when any source is newer, so tests never run stale JavaScript.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');

function newest(dir: string, ext: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, ext));
    else if (e.name.endsWith(ext)) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}

function ensureCompiled(dir: string): void {
  const dist = path.join(dir, 'dist');
  const built = fs.existsSync(dist) ? newest(dist, '.js') : 0;
  if (built >= newest(path.join(dir, 'src'), '.ts')) return;
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(dir, 'tsconfig.json')], { stdio: 'inherit' });
}

/** The library's dist/, then the tools' tools/dist/ (which load the library from dist/). */
export function ensureDist(): void {
  ensureCompiled(root);
  ensureCompiled(path.join(root, 'tools'));
}

export const repoRoot = root;

/**
 * prebuilds/ holds a prebuild for every supported line, built from today's native sources: builds
 * those missing or stale with scripts/prebuild.sh (CI runs it before the tests, so there this
 * builds nothing).
 */
export function ensurePrebuilds(): void {
  const stale = execFileSync(process.execPath, [path.join(root, 'scripts', 'prebuilds.js'), 'stale'], { encoding: 'utf8' }).trim();
  if (stale !== '') execFileSync('bash', [path.join(root, 'scripts', 'prebuild.sh'), ...stale.split(' ')], { stdio: 'inherit' });
}
