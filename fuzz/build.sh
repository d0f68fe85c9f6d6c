#!/usr/bin/env bash
# Builds the libFuzzer targets into fuzz/build/ (clang from Debian: apt-get install clang
# libclang-rt-14-dev; libssl-dev for linking). Each target links the native sources it fuzzes
# and the system libssl/libcrypto: standalone executables, never loaded into Node (the addon
# itself links no OpenSSL; it uses the one inside node).
#   fuzz/build.sh            build every target (skips those already newer than their sources)
#   fuzz/build.sh --seeds    also rewrite the seeds in fuzz/corpus/ from real handshakes and stores
set -euo pipefail
cd "$(dirname "$0")/.."

CXX=${CXX:-}
if [ -z "$CXX" ]; then
  for c in clang++ clang++-14 clang++-15 clang++-16; do command -v "$c" >/dev/null 2>&1 && { CXX=$c; break; }; done
fi
[ -n "$CXX" ] || { echo "fuzz/build.sh: clang++ not found (Debian: apt-get install -y clang libclang-rt-14-dev libssl-dev)" >&2; exit 127; }

out=fuzz/build
mkdir -p "$out"
flags=(-std=c++17 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter
       -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED -Inative -Ifuzz)
san=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
libs=(-lssl -lcrypto -pthread)

# target name -> native sources it links (the code under test)
declare -A sources=(
  [ticket_ring]="native/server/ticket_ring.cc"
  [store_header]="native/common/shared_store.cc native/common/shared_store_file.cc native/common/shared_store_fault.cc native/common/shared_store_lock.cc"
  [store_entry]="native/common/shared_store.cc native/common/shared_store_file.cc native/common/shared_store_fault.cc native/common/shared_store_lock.cc native/common/session_der.cc"
  [session_inspect]="native/common/session_der.cc native/common/shared_store.cc native/common/shared_store_file.cc native/common/shared_store_fault.cc native/common/shared_store_lock.cc"
)

build() {  # build <output> <sanitizers...> -- <sources...>
  local output=$1; shift
  local opts=(); while [ "$1" != "--" ]; do opts+=("$1"); shift; done; shift
  local newest
  newest=$(ls -t "$@" fuzz/*.h native/*/*.h 2>/dev/null | head -1)
  if [ -x "$output" ] && [ "$output" -nt "$newest" ] && [ "$output" -nt fuzz/build.sh ]; then return 0; fi
  echo "building $output"
  "$CXX" "${flags[@]}" "${opts[@]}" "$@" -o "$output" "${libs[@]}"
}

for t in "${!sources[@]}"; do
  # shellcheck disable=SC2086
  build "$out/$t" -fsanitize=fuzzer "${san[@]}" -- "fuzz/$t.cc" ${sources[$t]}
done

if [ "${1:-}" = "--seeds" ]; then
  build "$out/seeds" "${san[@]}" -- fuzz/seeds.cc native/server/ticket_ring.cc native/common/shared_store.cc native/common/shared_store_file.cc native/common/shared_store_fault.cc native/common/shared_store_lock.cc native/common/session_der.cc
  # Seeds are rewritten by name; inputs merged in from fuzzing runs (hash names) stay.
  "$out/seeds" fuzz/corpus
fi
