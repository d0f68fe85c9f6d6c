#!/usr/bin/env bash
# The shared store's multi-process micro-benchmark (build/Release/store_bench, from
# tools/native/store_bench.cc): P processes on distinct keys, each running Insert + Lookup rounds
# on one store, for P = 1 2 4 8 16. Prints one row per P: operations per second (wall), CPU ns
# per operation, instructions per operation under callgrind (the figure a loaded, shared machine
# does not move), hit ratio, lock waits and lock timeouts.
#   tools/store-bench.sh [rounds per process, default 100000] [callgrind rounds, default 20000]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/Release/store_bench
[ -x "$bin" ] || { echo "tools/store-bench.sh: $bin is missing (npx node-gyp rebuild in a clone)" >&2; exit 2; }
rounds=${1:-100000}
cg_rounds=${2:-20000}
procs=(1 2 4 8 16)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

native=$("$bin" --ops "$rounds" --procs "$(IFS=,; echo "${procs[*]}")")
echo "| processes | ops/s (wall) | CPU ns / op | instructions / op | hit ratio | lock waits | lock timeouts | ops |"
echo "|---|---|---|---|---|---|---|---|"
for p in "${procs[@]}"; do
  rm -f "$work"/cg.*
  cg=$(valgrind --tool=callgrind --trace-children=yes --toggle-collect='*RunOps*' \
    --callgrind-out-file="$work/cg.%p" "$bin" --ops "$cg_rounds" --procs "$p" 2>/dev/null)
  ir=$(cat "$work"/cg.* | awk '/^summary:/ { s += $2 } END { print s }')
  node -e '
    const [native, cg, p, ir] = [JSON.parse(process.argv[1]), JSON.parse(process.argv[2]), Number(process.argv[3]), Number(process.argv[4])];
    const r = native.runs.find((x) => x.processes === p);
    const c = cg.runs[0];
    console.log(`| ${p} | ${Math.round(r.opsPerSecond).toLocaleString("en-US")} | ${r.cpuNsPerOp.toFixed(0)} | ${(ir / c.ops).toFixed(0)} | ${r.hitRatio.toFixed(4)} | ${r.lockWaits} | ${r.lockTimeouts} | ${r.ops.toLocaleString("en-US")} |`);
  ' "$native" "$cg" "$p" "$ir"
done
echo
echo "stripes: $(node -p 'JSON.parse(process.argv[1]).runs[0].stripes' "$native"); rounds per process: $rounds (callgrind: $cg_rounds); store: $(node -p 'JSON.parse(process.argv[1]).sizeBytes' "$native") bytes"
