#!/usr/bin/env node
// `npm test` runs this first (pretest): the tree must be formatted and lint-clean, or the test run
// fails here with the files named. `npm run format` rewrites everything in place.
//   TypeScript / JavaScript / JSON: biome (biome.json): `biome ci` formats and lints without writing.
//   C++ (native/, tools/native/, fuzz/): clang-format (.clang-format), Debian's clang-format.
//   --write: format instead of checking (biome's safe fixes included).
const { execFileSync, spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const write = process.argv.includes('--write');
const biome = path.join(root, 'node_modules', '@biomejs', 'biome', 'bin', 'biome');

function cxxFiles() {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', 'native', 'tools/native', 'fuzz'], {
    cwd: root,
    encoding: 'utf8',
  });
  return out.split('\n').filter((f) => /\.(cc|h)$/.test(f) && !f.startsWith('fuzz/corpus/'));
}

let failed = false;
const b = spawnSync(process.execPath, [biome, write ? 'check' : 'ci', ...(write ? ['--write'] : []), '.'], { cwd: root, stdio: 'inherit' });
if (b.status !== 0) failed = true;

const files = cxxFiles();
const c = spawnSync('clang-format', [...(write ? ['-i'] : ['--dry-run', '--Werror']), ...files], { cwd: root, stdio: 'inherit' });
if (c.error) {
  process.stderr.write('check-format: clang-format not found (Debian: apt-get install clang-format; npm test installs it when root)\n');
  failed = true;
} else if (c.status !== 0) {
  failed = true;
}

if (failed && !write) process.stderr.write('check-format: run `npm run format` to fix formatting; lint findings need a code change\n');
process.exit(failed ? 1 : 0);
