#!/usr/bin/env node
/**
 * The prebuilt addons a tarball carries: prebuilds/linux-x64/node.abi<ABI>.glibc.node for every
 * Node line the package supports, each built from the native sources in the tree. A user then
 * installs with no compiler (node-gyp-build picks the one matching the running node).
 *
 *   node scripts/prebuilds.js check          npm's prepack: exit 1 naming every prebuild that is
 *                                            missing or was built from other sources
 *   node scripts/prebuilds.js stale          the Node lines (20 22 ...) whose prebuild is missing
 *                                            or stale, one line, for scripts/prebuild.sh
 *   node scripts/prebuilds.js digest <dir>   the digest of <dir>'s binding.gyp and native/
 *   node scripts/prebuilds.js record <abi> <digest>   scripts/prebuild.sh, after a build
 *
 * "Built from the tree's sources" is a digest of binding.gyp and every file under native/,
 * recorded per ABI in prebuilds/linux-x64/sources.json when scripts/prebuild.sh builds (file times
 * are no evidence: a checkout or a copy resets them).
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const dir = path.join(root, 'prebuilds', 'linux-x64');
const manifest = path.join(dir, 'sources.json');

/**
 * ABI -> Node line, read from the one list the loader refuses by (SUPPORTED_LINES in
 * src/common/binding-loader.ts), so the two cannot disagree; read from the source, since prepack
 * runs before dist/ exists in a fresh clone.
 */
function supportedLines() {
  const file = path.join(root, 'src', 'common', 'binding-loader.ts');
  const m = /SUPPORTED_LINES[^=]*=\s*\{([^}]*)\}/.exec(fs.readFileSync(file, 'utf8'));
  const pairs = m ? [...m[1].matchAll(/'(\d+)':\s*'(\d+)'/g)] : [];
  if (pairs.length === 0) throw new Error(`${file}: SUPPORTED_LINES not found; scripts/prebuilds.js reads the supported ABIs from it`);
  return Object.fromEntries(pairs.map((p) => [p[1], p[2]]));
}

function filesUnder(base, rel) {
  const out = [];
  for (const e of fs.readdirSync(path.join(base, rel), { withFileTypes: true })) {
    const r = path.posix.join(rel, e.name);
    if (e.isDirectory()) out.push(...filesUnder(base, r));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

/** SHA-256 over binding.gyp and native/**, each file's path and bytes, in path order. */
function sourceDigest(base) {
  const h = crypto.createHash('sha256');
  for (const f of ['binding.gyp', ...filesUnder(base, 'native')].sort()) {
    h.update(`${f}\0`);
    h.update(fs.readFileSync(path.join(base, f)));
    h.update('\0');
  }
  return h.digest('hex');
}

function readManifest() {
  try {
    return JSON.parse(fs.readFileSync(manifest, 'utf8'));
  } catch {
    return {};
  }
}

/** Each supported ABI with what is wrong with its prebuild ('missing', 'stale') or null. */
function problems() {
  const lines = supportedLines();
  const built = readManifest();
  const digest = sourceDigest(root);
  return Object.keys(lines).map((abi) => {
    const file = path.join(dir, `node.abi${abi}.glibc.node`);
    const problem = !fs.existsSync(file) ? 'missing' : built[abi] !== digest ? 'stale' : null;
    return { abi, line: lines[abi], file: path.relative(root, file), problem };
  });
}

function check() {
  const bad = problems().filter((p) => p.problem !== null);
  if (bad.length === 0) return 0;
  const what = bad.map((p) =>
    p.problem === 'missing'
      ? `  Node.js ${p.line} (ABI ${p.abi}): ${p.file} is missing`
      : `  Node.js ${p.line} (ABI ${p.abi}): ${p.file} was built from other native sources than these (binding.gyp, native/)`,
  );
  process.stderr.write(
    [
      'tls-resumption: refusing to pack without a current prebuilt addon for every supported Node line',
      '(a tarball without them compiles on install and fails where there is no compiler):',
      ...what,
      'Build them with `npm run prebuild` (scripts/prebuild.sh; it needs the four Node lines:',
      '`bash scripts/node-lines.sh fetch`), then pack again.',
      '',
    ].join('\n'),
  );
  return 1;
}

function main(argv) {
  const [command, ...args] = argv;
  switch (command) {
    case 'check':
      return check();
    case 'stale':
      process.stdout.write(
        `${problems()
          .filter((p) => p.problem !== null)
          .map((p) => p.line)
          .join(' ')}\n`,
      );
      return 0;
    case 'digest':
      process.stdout.write(`${sourceDigest(path.resolve(args[0] ?? root))}\n`);
      return 0;
    case 'record': {
      const [abi, digest] = args;
      if (!supportedLines()[abi] || !/^[0-9a-f]{64}$/.test(digest ?? '')) {
        process.stderr.write('usage: node scripts/prebuilds.js record <supported ABI> <sha-256 hex digest>\n');
        return 2;
      }
      fs.mkdirSync(dir, { recursive: true });
      const built = readManifest();
      built[abi] = digest;
      const sorted = Object.fromEntries(
        Object.keys(built)
          .sort()
          .map((k) => [k, built[k]]),
      );
      fs.writeFileSync(manifest, `${JSON.stringify(sorted, null, 2)}\n`);
      return 0;
    }
    default:
      process.stderr.write('usage: node scripts/prebuilds.js check | stale | digest [dir] | record <abi> <digest>\n');
      return 2;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));

module.exports = { problems, sourceDigest, supportedLines };
