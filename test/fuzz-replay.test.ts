// Replays the committed fuzz corpus (fuzz/corpus/<target>) through each libFuzzer target built
// with ASan + UBSan: every input that ever mattered (seeds, edge cases, crash reproducers) must
// still run clean. This is the short replay of issue 7; the long runs are `npm run fuzz` and
// their results are in docs/fuzzing.md. Without clang this fails: a replay that did not run must
// not look like one that passed (.ci/run installs clang).
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..');
const targets = ['ticket_ring', 'store_header', 'store_entry', 'session_inspect'];

function haveClang(): boolean {
  for (const cxx of ['clang++', 'clang++-14', 'clang++-15', 'clang++-16']) {
    try {
      execFileSync(cxx, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      // try the next name
    }
  }
  return false;
}

function run(file: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    // The fuzz targets carry clang's own sanitizer runtime: never the gcc libasan that
    // `npm run test:asan` preloads into Node (two ASan runtimes refuse to start).
    const { LD_PRELOAD: _preload, ASAN_OPTIONS: _asan, UBSAN_OPTIONS: _ubsan, ...env } = process.env;
    execFile(file, args, { cwd: root, env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

describe('fuzz corpus replay (libFuzzer targets, ASan + UBSan)', () => {
  beforeAll(async () => {
    if (!haveClang()) {
      throw new Error(
        'clang++ is not installed, so the fuzz targets cannot be built and the corpus was NOT replayed. ' +
          'Install it (Debian: apt-get install -y clang libclang-rt-14-dev libssl-dev); .ci/run does this.',
      );
    }
    const built = await run('bash', ['fuzz/build.sh'], 280_000);
    if (built.code !== 0) throw new Error(`fuzz/build.sh failed (exit ${built.code}):\n${built.output}`);
  }, 300_000);

  test.each(targets)(
    '%s: every committed input runs clean',
    async (target) => {
      const corpus = path.join('fuzz', 'corpus', target);
      const inputs = fs.readdirSync(path.join(root, corpus)).filter((f) => fs.statSync(path.join(root, corpus, f)).size > 0);
      expect(inputs.length).toBeGreaterThan(0);
      const r = await run(path.join(root, 'fuzz', 'build', target), ['-runs=0', '-timeout=10', corpus], 60_000);
      if (r.code !== 0) throw new Error(`${target} failed on its corpus (exit ${r.code}):\n${r.output.slice(-4000)}`);
      // libFuzzer ran every file (it reads them all before "INITED", then stops: -runs=0).
      expect(r.output).toMatch(new RegExp(`INFO: +${inputs.length} files found in ${corpus.replace(/\//g, '\\/')}`));
      expect(r.output).toMatch(/INITED/);
      expect(r.output).not.toMatch(/ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:/);
    },
    90_000,
  );
});
