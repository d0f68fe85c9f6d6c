#!/usr/bin/env bash
# `npm run leak-check [-- --handshakes N --rounds R]`: LeakSanitizer over ~50,000 handshakes
# (scripts/leak-check.js: attach/detach, ring rotation, a shared store, flushes, setSecureContext).
#
# The addon is built with -fsanitize=address in a scratch copy of the package (the normal build in
# build/ is left alone), Node runs with gcc's libasan preloaded and detect_leaks=1, and at exit
# scripts/lsan-filter.js fails the run on any leak whose allocation stack has a frame in
# tls_resumption.node (Node and V8 leave allocations of their own at exit; those are counted,
# not failed) and on any AddressSanitizer error. Set LEAK_CHECK_DIR to keep/reuse the scratch
# build (e.g. to add a deliberate leak to its native/ and rebuild there, see docs/hardening.md);
# src/, tools/ and scripts/ are copied from this checkout on every run, the addon is built only once.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

asan=$(gcc -print-file-name=libasan.so)
[ -f "$asan" ] || { echo "leak-check needs gcc's libasan (Debian: gcc)"; exit 1; }

work=${LEAK_CHECK_DIR:-}
if [ -z "$work" ]; then
  work=$(mktemp -d /tmp/tsc-leak-check.XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
if [ ! -f "$work/build/Release/tls_resumption.node" ]; then
  echo "leak-check: building the addon with AddressSanitizer in $work"
  mkdir -p "$work"
  tar --exclude=./node_modules --exclude=./build --exclude=./.git -cf - . | (cd "$work" && tar xf -) || exit 1
  ln -sfn "$root/node_modules" "$work/node_modules"
  (cd "$work" && CXXFLAGS="-fsanitize=address -fno-omit-frame-pointer -g -O1" LDFLAGS="-fsanitize=address" \
    npx node-gyp rebuild >"$work/build.log" 2>&1) || { tail -30 "$work/build.log"; echo "leak-check: sanitizer build failed"; exit 1; }
fi
# TypeScript and scripts always come fresh from this checkout; the native build is reused.
tar --exclude=./tools/dist -cf - src scripts tsconfig.json tools | (cd "$work" && tar xf -) || exit 1
(cd "$work" && npx tsc -p tsconfig.json && npx tsc -p tools/tsconfig.json) || exit 1

reports="$work/lsan-reports"
rm -rf "$reports" && mkdir -p "$reports"
# The "<%m>" (module) at the end of each frame is what lsan-filter.js matches on. exitcode=0:
# the verdict on leaks and sanitizer errors is the filter's (it reads every report); the exit
# status left is the traffic script's own.
(cd "$work" && LD_PRELOAD="$asan" \
  ASAN_OPTIONS="detect_leaks=1:exitcode=0:malloc_context_size=40:log_path=$reports/lsan:stack_trace_format=\"    #%n %p %F %L <%m>\"" \
  node --expose-gc scripts/leak-check.js "$@")
traffic=$?
node scripts/lsan-filter.js "$reports"
leaks=$?
if [ $traffic -ne 0 ]; then echo "leak-check: the traffic run failed (exit $traffic)"; exit 1; fi
[ $leaks -eq 0 ] && echo "leak-check: no leak in tls_resumption.node" || echo "leak-check: FAILED"
exit $leaks
