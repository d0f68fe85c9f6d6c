#!/usr/bin/env bash
# `npm run test:asan`: rebuild the addon with AddressSanitizer + UBSan, run the whole test suite
# with Node preloading the sanitizer runtimes, then rebuild the normal addon. Any sanitizer report
# fails the run (halt_on_error / UBSan abort), and the report files are printed.
set -uo pipefail
cd "$(dirname "$0")/.."

asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
[ -f "$asan" ] && [ -f "$ubsan" ] || { echo "test:asan needs gcc's libasan and libubsan (Debian: gcc)"; exit 1; }
logdir=$(mktemp -d)

restore() { npx node-gyp rebuild >/dev/null 2>&1 || echo "warning: could not rebuild the normal addon; run npx node-gyp rebuild"; }
trap restore EXIT

CXXFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1" \
LDFLAGS="-fsanitize=address,undefined" \
  npx node-gyp rebuild >/dev/null || { echo "sanitizer build failed"; exit 1; }
npx tsc -p tsconfig.json && npx tsc -p tools/tsconfig.json || exit 1

# Node itself is not instrumented: leaks are checked separately (issue 7's valgrind/LSan run),
# so detect_leaks=0 here keeps V8's own allocations out of the report.
LD_PRELOAD="$asan $ubsan" \
ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:log_path=$logdir/asan" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logdir/ubsan" \
  npx jest --runInBand "$@"
status=$?

if compgen -G "$logdir/*" >/dev/null; then
  echo "sanitizer reports:"; cat "$logdir"/*; status=1
else
  echo "sanitizers: no report"
fi
rm -rf "$logdir"
exit $status
