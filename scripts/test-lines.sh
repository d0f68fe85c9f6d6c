#!/usr/bin/env bash
# Runs the whole suite (`npm test`) on every tested Node line, each against a build made with that
# line's own headers, and ends with the plain line "N passed, N failed" over all of them (after a
# line per Node line and one total that also count skipped tests).
#
#   scripts/test-lines.sh                 all lines (20 22 24 26)
#   scripts/test-lines.sh 22 26           some lines
#   scripts/test-lines.sh 24 -- test/attach.test.ts    jest arguments after --
#   TEST_LINES_JOBS=1 scripts/test-lines.sh            one line at a time (default: 2 at once)
#
# Each line runs in a copy of the tree of its own (build/, dist/ and the test's scratch files are
# per line), so two lines run side by side: most of a line's wall time is spent waiting on
# sockets, timers and child processes, not on the CPU. node_modules and .node-lines are shared
# (read only). The tree the script was started in is not rebuilt, so a developer's `npm test`
# keeps working.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
majors=(); jest_args=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; jest_args=("$@"); break; fi
  majors+=("$1"); shift
done
[ ${#majors[@]} -gt 0 ] || majors=(20 22 24 26)
jobs=${TEST_LINES_JOBS:-2}

out=$(mktemp -d)
# The trees in here must be readable by the other local users some tests run a child as.
chmod 755 "$out"
trap 'rm -rf "$out"' EXIT

run_line() {
  local m=$1 dir copy="$out/tree-$1"
  dir=$(scripts/node-lines.sh dir "$m") || return 3
  mkdir -p "$copy"
  # Everything but what is per line (build outputs) or shared read-only (dependencies, Node lines).
  tar -C "$root" --exclude=./node_modules --exclude=./.node-lines --exclude=./build \
    --exclude=./fuzz/build -cf - . | tar -C "$copy" -xf -
  ln -s "$root/node_modules" "$copy/node_modules"
  [ -e "$root/.node-lines" ] && ln -s "$(readlink -f "$root/.node-lines")" "$copy/.node-lines"
  cd "$copy" || return 3
  echo "=== Node $m: $("$dir/bin/node" --version), OpenSSL $("$dir/bin/node" -p process.versions.openssl)"
  export PATH="$dir/bin:$PATH" npm_config_nodedir="$dir" TLS_RESUMPTION_TEST_LINE="$m"
  node node_modules/node-gyp/bin/node-gyp.js rebuild -j 2 --loglevel=warn >"$out/build-$m.log" 2>&1 ||
    { cat "$out/build-$m.log"; return 3; }
  # `npm test` without its pretest, which ran once above (its output is the same on every line):
  # the test script itself, run as npm runs it. Not `npm test --ignore-scripts`: npm hands that
  # setting to every npm the tests start (the pack test's install would then build nothing).
  PATH="$copy/node_modules/.bin:$PATH" sh -c "$(node -p 'require("./package.json").scripts.test') \"\$@\"" test --json --outputFile="$out/$m.json" --forceExit ${jest_args[@]+"${jest_args[@]}"}
}

counts_of() {
  node -e '
    const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    console.log(r.numPassedTests, r.numFailedTests + (r.numRuntimeErrorTestSuites || 0),
      r.numPendingTests + (r.numTodoTests || 0));
  ' "$out/$1.json" 2>/dev/null || echo "0 1 0"
}

# pretest (tsc for src, tools and tests, the test dependencies, the format check) does not
# depend on the Node line: run it once, here, and copy its output into each line's tree.
npm run --silent pretest || { echo "pretest failed"; echo "0 passed, 1 failed"; exit 1; }

# Start up to $jobs lines at once; print each line's whole log when it ends, so logs never
# interleave.
declare -A pid_of
pending=("${majors[@]}")
running=()
passed=0; failed=0; skipped=0; status=0
finish() {
  local m=$1 rc p f s
  wait "${pid_of[$m]}" 2>/dev/null
  rc=$(cat "$out/rc-$m" 2>/dev/null || echo 1)
  cat "$out/line-$m.log"
  [ $rc -eq 0 ] || status=1
  read -r p f s <<<"$(counts_of "$m")"
  echo "=== Node $m: $p passed, $f failed, $s skipped"
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}
while [ ${#pending[@]} -gt 0 ] || [ ${#running[@]} -gt 0 ]; do
  while [ ${#pending[@]} -gt 0 ] && [ ${#running[@]} -lt "$jobs" ]; do
    m=${pending[0]}; pending=("${pending[@]:1}")
    ( run_line "$m"; echo $? >"$out/rc-$m" ) >"$out/line-$m.log" 2>&1 &
    pid_of[$m]=$!; running+=("$m")
  done
  # Wait for whichever line ends first, then report it.
  wait -n 2>/dev/null || true
  still=()
  for m in "${running[@]}"; do
    if kill -0 "${pid_of[$m]}" 2>/dev/null; then still+=("$m"); else finish "$m"; fi
  done
  running=(${still[@]+"${still[@]}"})
done
echo "$passed passed, $failed failed, $skipped skipped"
echo "$passed passed, $failed failed"
exit $status
