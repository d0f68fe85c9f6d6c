/**
 * `npx tls-resumption` in a clone: the package's bin is a committed executable file, so a dist/
 * rebuilt by tsc (which writes 0644 files) does not turn it into "Permission denied".
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ensureDist, repoRoot } from '../support/build';

jest.setTimeout(120_000);

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { bin: Record<string, string>; files: string[] };
const bin = pkg.bin['tls-resumption']!;

beforeAll(() => ensureDist());

describe('the tls-resumption bin', () => {
  test('is committed with its execute bit, outside dist/, and ships', () => {
    expect(bin.startsWith('dist/')).toBe(false);
    const mode = execFileSync('git', ['ls-files', '-s', '--', bin], { cwd: repoRoot, encoding: 'utf8' });
    expect(mode).toMatch(/^100755 /);
    expect(pkg.files).toContain(bin.split('/')[0]);
  });

  test('runs as an executable over a freshly compiled dist/', () => {
    const out = execFileSync(path.join(repoRoot, bin), ['--help'], { cwd: repoRoot, encoding: 'utf8' });
    expect(out).toMatch(/^usage: tls-resumption <command>[\s\S]*inspect[\s\S]*keygen[\s\S]*probe/);
    const bench = spawnSync(path.join(repoRoot, bin), ['bench'], { cwd: repoRoot, encoding: 'utf8' });
    expect(bench.status).toBe(2);
    expect(bench.stderr).toMatch(/npx tls-resumption-tools bench/);
  });

  test('npx tls-resumption --help in the repository (an npm cache of its own, offline)', () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-resumption-npx-'));
    try {
      const r = spawnSync('npx', ['--offline', 'tls-resumption', '--help'], {
        cwd: repoRoot,
        encoding: 'utf8',
        env: { ...process.env, npm_config_cache: cache, npm_config_update_notifier: 'false' },
      });
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      expect(r.stdout).toMatch(/^usage: tls-resumption <command>/);
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });
});
