#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang++, ASan+UBSan, -DHEATVIT_FUZZ=ON) into
# build-fuzz/ (or $HEATVIT_FUZZ_BUILD) and runs each for a bounded time on its seed corpus
# (tests/fuzz/corpus/<harness>/). Any crash, sanitizer report, leak, timeout or
# uncaught exception fails the script; the input that caused it is left in
# build-fuzz/findings/ (turn it into a regression test).
#
# Usage: scripts/fuzz.sh [SECONDS_PER_HARNESS (default 20)] [HARNESS...]
# Environment: HEATVIT_FUZZ_JOBS (build jobs, default 2), HEATVIT_FUZZ_BUILD (build
# directory, default build-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(json_config schedule model hw_config hvt idx threshold_cache space design published calibrate_space farm_wire)
build=${HEATVIT_FUZZ_BUILD:-build-fuzz}
HEATVIT_FUZZ_DEPS=1 scripts/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DHEATVIT_FUZZ=ON -DHEATVIT_BENCH=OFF >/dev/null
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
cmake --build "$build" -j"${HEATVIT_FUZZ_JOBS:-2}" --target "${targets[@]}"

mkdir -p "$build/findings" "$build/logs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
# cov: instrumented edges reached of all edges in the binary (libFuzzer's "inline
# 8-bit counters": every library linked in, most of it unreachable from one reader);
# ft: features (edges with hit-count buckets)
printf '%-16s %10s %10s %14s %8s %s\n' harness execs exec/s cov/edges ft result
for h in "${harnesses[@]}"; do
  work="$build/corpus/$h"   # grows across runs; the committed seeds stay as they are
  mkdir -p "$work"
  seeds=(tests/fuzz/corpus/"$h")
  # the trained model's weights: the only seed that reaches the integer model loader
  if [ "$h" = hvt ] && [ -f models/deit-micro/export/deit-micro-int8.hvt ]; then
    mkdir -p "$build/seeds-hvt"
    cp -u models/deit-micro/export/deit-micro-int8.hvt models/deit-micro/export/masks-default.hvt "$build/seeds-hvt/"
    seeds+=("$build/seeds-hvt")
  fi
  # calibrate's readers: the live files (the committed seeds are snapshots of them), and
  # the space with its references made absolute (the harness also resolves relative ones)
  if [ "$h" = published ] && [ -f configs/published/heatvit.json ]; then
    mkdir -p "$build/seeds-published"
    cp configs/published/*.json "$build/seeds-published/"
    seeds+=("$build/seeds-published")
  fi
  if [ "$h" = calibrate_space ] && [ -d configs/calibrate ]; then
    mkdir -p "$build/seeds-calibrate_space"
    for f in configs/calibrate/*.json; do
      cp "$f" "$build/seeds-calibrate_space/"
      sed "s|\"\\.\\./|\"$PWD/configs/|g" "$f" >"$build/seeds-calibrate_space/abs-$(basename "$f")"
    done
    seeds+=("$build/seeds-calibrate_space")
  fi
  log="$build/logs/$h.log"
  if "$build/bin/fuzz_$h" "$work" "${seeds[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$build/findings/$h-" >"$log" 2>&1; then
    result=ok
  else
    result="FAILED (see $log and $build/findings/)"
    status=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  edges=$(sed -n 's/^INFO: Loaded [0-9]* modules *(\([0-9]*\) inline 8-bit counters).*/\1/p' "$log" | head -1)
  printf '%-16s %10s %10s %14s %8s %s\n' "$h" "${execs:-?}" "${rate:-?}" "${cov:-?}/${edges:-?}" "${ft:-?}" "$result"
done
exit $status
