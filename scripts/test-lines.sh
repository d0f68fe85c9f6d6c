#!/usr/bin/env bash
# Runs the whole suite (`npm test`) on every tested Node line, each against a build made with that
# line's own headers, and ends with one line over all of them: "N passed, N failed".
#
#   scripts/test-lines.sh                 all lines (20 22 24 26)
#   scripts/test-lines.sh 22 26           some lines
#   scripts/test-lines.sh 24 -- test/attach.test.ts    jest arguments after --
#
# build/ holds one line's binary at a time; at the end it is rebuilt (through npm, which passes
# its configured nodedir) for the node that started
# the script, so a developer's `npm test` keeps working.
set -uo pipefail
cd "$(dirname "$0")/.."
majors=(); jest_args=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; jest_args=("$@"); break; fi
  majors+=("$1"); shift
done
[ ${#majors[@]} -gt 0 ] || majors=(20 22 24 26)

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
passed=0; failed=0; status=0
for m in "${majors[@]}"; do
  dir=$(scripts/node-lines.sh dir "$m") || { failed=$((failed + 1)); status=1; continue; }
  echo "=== Node $m: $("$dir/bin/node" --version), OpenSSL $("$dir/bin/node" -p process.versions.openssl)"
  (
    export PATH="$dir/bin:$PATH" npm_config_nodedir="$dir" TLS_RESUMPTION_TEST_LINE="$m"
    node node_modules/node-gyp/bin/node-gyp.js rebuild -j 2 --loglevel=warn >"$out/build-$m.log" 2>&1 ||
      { cat "$out/build-$m.log"; exit 3; }
    npm test -- --json --outputFile="$out/$m.json" --forceExit ${jest_args[@]+"${jest_args[@]}"}
  )
  rc=$?
  [ $rc -eq 0 ] || status=1
  counts=$(node -e '
    const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    console.log(r.numPassedTests, r.numFailedTests + (r.numRuntimeErrorTestSuites || 0));
  ' "$out/$m.json" 2>/dev/null || echo "0 1")
  read -r p f <<<"$counts"
  echo "=== Node $m: $p passed, $f failed"
  passed=$((passed + p)); failed=$((failed + f))
done
npm run --silent build:native -- -j 2 --loglevel=warn >"$out/build-restore.log" 2>&1 || cat "$out/build-restore.log"
echo "$passed passed, $failed failed"
exit $status
