#!/usr/bin/env bash
# `npm run fuzz -- [seconds] [target...]`: builds the fuzz targets and runs each for `seconds`
# (default 60) of wall time, FUZZ_PARALLEL (default 2) targets at a time, one libFuzzer process
# each. Every run starts from the committed seeds (fuzz/corpus/<target>) plus what earlier runs
# found (fuzz/build/work/<target>, not committed). A crash, leak or timeout leaves a reproducer in
# fuzz/build/artifacts/<target>/ and makes this script exit 1. Logs: fuzz/build/logs/<target>.log.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=60
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then seconds=$1; shift; fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(ticket_ring store_header store_entry session_inspect)
parallel=${FUZZ_PARALLEL:-2}

bash fuzz/build.sh || exit $?

run_one() {
  local t=$1
  mkdir -p "fuzz/build/work/$t" "fuzz/build/artifacts/$t" fuzz/build/logs
  local log="fuzz/build/logs/$t.log"
  echo "$t: fuzz/build/$t -max_total_time=$seconds -timeout=10 -rss_limit_mb=2048 fuzz/build/work/$t fuzz/corpus/$t"
  fuzz/build/"$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="fuzz/build/artifacts/$t/" "fuzz/build/work/$t" "fuzz/corpus/$t" >"$log" 2>&1
  local rc=$?
  local runs
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  local cov
  cov=$(grep -E '^#[0-9]+.*DONE' "$log" | grep -oE 'cov: [0-9]+ ft: [0-9]+' | tail -1)
  if [ $rc -eq 0 ]; then
    echo "$t: ok, ${runs:-?} executions in ${seconds}s, ${cov:-}, no crash"
  else
    echo "$t: FAILED (exit $rc) after ${runs:-?} executions; reproducer in fuzz/build/artifacts/$t/, log $log"
    grep -m5 -E 'ERROR|SUMMARY|deadly|timeout' "$log"
  fi
  return $rc
}

status=0
pids=()
for t in "${targets[@]}"; do
  [ -f "fuzz/$t.cc" ] || { echo "unknown target $t"; exit 2; }
  run_one "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$parallel" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
