#!/usr/bin/env bash
# `heatvit dse` over MPI (docs/scale-out.md) on a small deit-micro space:
#   1. 1 process and 2 ranks give byte-identical points.csv, front.csv, front.json and
#      winner.json;
#   2. kill -9 of the whole job (mpirun and every rank), then a resume with another
#      number of ranks: identical again;
#   3. a worker killed with SIGKILL mid-run: the job ends (non-zero, rank 0 says what is
#      kept), the store keeps what finished, and a resume in one process completes it
#      and re-evaluates only what was lost.
#   quick: only 1 process vs 2 and 3 ranks on a latency-only DeiT-S space (seconds;
#   runs under the sanitizers too).
# Usage: mpi.sh HEATVIT SOURCE_DIR WORK [quick]
set -eu
hv=$1; src=$2; work=$3; mode=${4:-full}
space=$src/tests/dse/data/mpi.json
rm -rf "$work"; mkdir -p "$work"
# Open MPI refuses to start as root unless told; CI runs as root. Only this test sets it.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# No shared hwloc topology file (see scripts/mpi_netns.sh: it can segfault the daemon).
export OMPI_MCA_rtc_hwloc_vmhole=none
# Sanitized builds: Open MPI's own allocations at exit are not this project's leaks.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
mpi() { n=$1; shift; mpirun -np "$n" --oversubscribe --bind-to none "$@"; }
args=(dse --model deit-micro --hw zcu102-heatvit --space "$space" --threads 1 -q --no-plot)
fail() { echo "FAIL: $*"; exit 1; }
rows() { python3 -c "import sqlite3,sys
try: print(sqlite3.connect(sys.argv[1]).execute('select count(*) from points').fetchone()[0])
except Exception: print(0)" "$1/dse.sqlite" 2>/dev/null || echo 0; }
same() {  # same DIR_A DIR_B WHAT
  for f in points.csv front.csv front.json winner.json; do
    cmp -s "$1/$f" "$2/$f" || fail "$f differs: $3"
  done
}
wait_rows() {  # until the store at $1 has rows
  for _ in $(seq 1 600); do
    [ "$(rows "$1")" -gt 0 ] && return 0
    sleep 0.05
  done
  fail "no rows appeared in $1/dse.sqlite"
}

if [ "$mode" = quick ]; then
  q=(dse --model deit-small --hw zcu102-heatvit --space "$src/tests/dse/data/imagenet.json" -q --no-plot)
  "$hv" "${q[@]}" --out "$work/one" || fail "one process"
  mpi 2 "$hv" "${q[@]}" --out "$work/two" || fail "two ranks"
  mpi 3 "$hv" "${q[@]}" --out "$work/three" || fail "three ranks"
  same "$work/one" "$work/two" "latency-only, 1 process vs 2 ranks"
  same "$work/one" "$work/three" "latency-only, 1 process vs 3 ranks"
  # a bad space: every rank fails the same way, the job exits 2, nothing is written
  set +e; mpi 2 "$hv" dse --model deit-small --hw zcu102-heatvit --space "$src/tests/dse/data/bad-keep.json" \
    --out "$work/bad" -q > /dev/null 2> "$work/bad.err"; rc=$?; set -e
  [ "$rc" = 2 ] || fail "bad space under mpirun: exit $rc"
  grep -q "bad-keep.json.*schedule.keep" "$work/bad.err" || fail "bad space under mpirun: $(cat "$work/bad.err")"
  [ ! -e "$work/bad" ] || fail "bad space under mpirun wrote $work/bad"
  # a worker that reads other inputs, or whose setup fails: rank 0 names it, exit 2
  set +e; mpirun --oversubscribe -np 1 "$hv" "${q[@]}" --out "$work/mixed" : \
    -np 1 "$hv" dse --model deit-small --hw zcu102-heatvit --space "$src/tests/dse/data/imagenet2.json" -q --no-plot \
    --out "$work/mixed" > /dev/null 2> "$work/mixed.err"; rc=$?; set -e
  [ "$rc" = 2 ] || fail "a rank with another space: exit $rc"
  grep -q "rank 1 sees other inputs" "$work/mixed.err" || fail "a rank with another space: $(cat "$work/mixed.err")"
  [ ! -e "$work/mixed" ] || fail "a rank with another space: $work/mixed written"
  set +e; mpirun --oversubscribe -np 1 "$hv" "${args[@]}" --out "$work/lame" : \
    -np 1 "$hv" "${args[@]}" --out "$work/lame" --data "$work/no-such-dataset" > /dev/null 2> "$work/lame.err"
  rc=$?; set -e
  [ "$rc" = 2 ] || fail "a rank whose setup fails: exit $rc"
  grep -q "rank 1: .*no-such-dataset" "$work/lame.err" || fail "a rank whose setup fails: $(cat "$work/lame.err")"
  [ ! -e "$work/lame" ] || fail "a rank whose setup fails: $work/lame written"
  echo "dse over MPI (quick): latency-only results identical with 1, 2 and 3 ranks; bad input, a rank with other" \
       "inputs and a rank that cannot start exit 2: OK"
  exit 0
fi

# 1. one process vs two ranks
"$hv" "${args[@]}" --out "$work/one" || fail "one process"
mpi 2 "$hv" "${args[@]}" --out "$work/two" || fail "two ranks"
same "$work/one" "$work/two" "1 process vs 2 ranks"
python3 - "$work/two/summary.json" <<'PY' || fail "summary of the 2-rank run"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["ranks"] == 2, s["ranks"]
per = s["farm"]["per_rank"]
assert len(per) == 2 and all(r["candidates"] > 0 for r in per), per
PY

# 2. kill -9 of the whole job, resume with another rank count
mpi 3 "$hv" "${args[@]}" --out "$work/killed" > /dev/null 2>&1 &
job=$!
wait_rows "$work/killed"
pkill -9 -f -- "--out $work/killed" || true
wait "$job" 2>/dev/null || true
[ ! -e "$work/killed/front.json" ] || echo "note: the job finished before it was killed"
kept=$(rows "$work/killed")
mpi 2 "$hv" "${args[@]}" --out "$work/killed" || fail "resume after kill -9 of the job"
same "$work/one" "$work/killed" "after kill -9 of the job and a 2-rank resume"
python3 - "$work/killed/summary.json" "$kept" <<'PY' || fail "resume after kill -9 reused nothing"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["resumed_rows"] == int(sys.argv[2]) > 0, (s["resumed_rows"], sys.argv[2])
PY

# 3. a worker killed with SIGKILL mid-run
mpi 3 "$hv" "${args[@]}" --out "$work/lost" > "$work/lost.out" 2> "$work/lost.err" &
job=$!
wait_rows "$work/lost"
victim=""
for p in $(pgrep -f -- "--out $work/lost" || true); do
  if tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then victim=$p; fi
done
[ -n "$victim" ] || fail "rank 1 not found"
kill -9 "$victim"
set +e; wait "$job"; rc=$?; set -e
if [ -e "$work/lost/front.json" ]; then
  echo "note: the job finished before rank 1 was killed"
else
  [ "$rc" != 0 ] || fail "the job went on without a rank (exit 0)"
  grep -q "run the same command again" "$work/lost.err" || fail "rank 0 did not say how to resume: $(cat "$work/lost.err")"
fi
kept=$(rows "$work/lost")
[ "$kept" -gt 0 ] || fail "nothing kept after losing a worker"
"$hv" "${args[@]}" --out "$work/lost" || fail "resume in one process"
same "$work/one" "$work/lost" "after losing a worker and a 1-process resume"
python3 - "$work/lost/summary.json" "$kept" "$(rows "$work/one")" "$(rows "$work/lost")" <<'PY' || fail "resume after a lost worker"
import json, sys
s = json.load(open(sys.argv[1]))
kept, total_ref, total = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
assert s["resumed_rows"] == kept, (s["resumed_rows"], kept)
assert total == total_ref, (total, total_ref)
# only what was lost was evaluated again: every row it wrote is new
assert s["store_rows_rewritten"] == 0 and s["store_rows_added"] == total - kept, s
PY
echo "dse over MPI: identical results with 1 and 2 ranks, after kill -9 and after a lost worker: OK"
