#!/usr/bin/env bash
# Golden end-to-end `heatvit dse` runs on a small deit-micro space, and resume after
# kill -9: the resumed run's points.csv, front.json and winner.json must be
# byte-identical to an uninterrupted run's. Usage: resume.sh HEATVIT SOURCE_DIR WORK
set -eu
hv=$1; src=$2; work=$3
space=$src/tests/dse/data/small.json
rm -rf "$work"; mkdir -p "$work"
run() { "$hv" dse --model deit-micro --hw zcu102-heatvit --space "$space" --threads 2 "$@"; }
fail() { echo "FAIL: $*"; exit 1; }

# 1. uninterrupted
run --out "$work/a" -q
for f in points.csv front.csv front.json winner.json winner.hw.json winner.schedule.json report.md \
         space.resolved.json summary.json pareto.png dse.sqlite; do
  [ -s "$work/a/$f" ] || fail "missing $f"
done
head -1 "$work/a/points.csv" | grep -q '^id,schedule,accelerator.pe.to,feasible,fits,accuracy_val,images_val,latency_ms_mean,latency_ms_p50,latency_ms_p99,macs_per_image,dsp,bram36,lut,ff' \
  || fail "points.csv header"
# 19 schedules x 2 hw points, one row each
[ "$(($(wc -l < "$work/a/points.csv") - 1))" = 38 ] || fail "points.csv rows: $(wc -l < "$work/a/points.csv")"
python3 - "$work/a" <<'PY' || fail "front/winner contents"
import json, sys
d = sys.argv[1]
front = json.load(open(d + "/front.json")); win = json.load(open(d + "/winner.json"))
assert front["objectives"] == ["accuracy", "latency_ms_mean"], front["objectives"]
assert front["points"], "empty front"
for p in front["points"]:
    for k in ("schedule", "hw", "accuracy_val", "accuracy_test", "latency_ms_systemc", "macs_per_image", "dsp", "feasible"):
        assert k in p, k
    assert p["feasible"] and p["images_val"] == 200 and p["images_test"] == 400
    assert set(p["latency_ms_systemc"]) >= {"mean", "p50", "p99"}
    assert abs(p["systemc_vs_analytic"]) < 0.10, p["systemc_vs_analytic"]
# sorted by accuracy descending: latencies too (a front)
acc = [p["accuracy_val"] for p in front["points"]]; lat = [p["latency_ms_mean"] for p in front["points"]]
assert acc == sorted(acc, reverse=True) and lat == sorted(lat, reverse=True), (acc, lat)
m = win["metrics"]
for k in ("accuracy_val", "accuracy_test", "images_val", "images_test", "latency_ms", "latency_ms_analytic", "macs_per_image", "resources"):
    assert k in m, k
assert win["model"] == "deit-micro" and win["hw"]["accelerator"]["pe"]["to"] in (32, 64)
assert len(win["thresholds"]) == len(win["schedule"]["selectors"])
labels = {b["label"] for b in front["baselines"]}
assert "trained default" in labels and "greedy" in labels, labels
PY

# 2. the winner files are usable as --hw and --schedule
"$hv" sim --model deit-micro --hw "$work/a/winner.hw.json" --schedule "$work/a/winner.schedule.json" \
  --images 4 --report "$work/sim.json" -q || fail "winner files not usable by heatvit sim"

# 3. kill -9 mid-run, then the same command again
run --out "$work/b" -q --no-plot &
pid=$!
for _ in $(seq 1 200); do
  n=$(python3 -c "import sqlite3,sys
try: print(sqlite3.connect(sys.argv[1]).execute('select count(*) from points').fetchone()[0])
except Exception: print(0)" "$work/b/dse.sqlite" 2>/dev/null || echo 0)
  [ "$n" -gt 0 ] && break
  sleep 0.1
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[ ! -e "$work/b/front.json" ] || echo "note: the run finished before it was killed"
run --out "$work/b" --no-plot 2> "$work/b.err" > /dev/null || fail "resume failed: $(cat "$work/b.err")"
for f in points.csv front.json winner.json front.csv; do
  cmp -s "$work/a/$f" "$work/b/$f" || fail "$f differs after kill -9 and resume"
done

# 3b. Ctrl-C: stops after the batch in flight with exit 130, keeps what it has; resumes
run --out "$work/c" -q --no-plot &
pid=$!
for _ in $(seq 1 200); do
  [ -s "$work/c/dse.sqlite" ] && break
  sleep 0.1
done
sleep 0.5
kill -INT "$pid" 2>/dev/null || true
set +e; wait "$pid"; rc=$?; set -e
if [ "$rc" = 130 ]; then
  [ ! -e "$work/c/front.json" ] || fail "an interrupted run wrote front.json"
elif [ "$rc" != 0 ]; then
  fail "SIGINT: exit $rc"
fi
run --out "$work/c" -q --no-plot || fail "resume after SIGINT"
cmp -s "$work/a/front.json" "$work/c/front.json" || fail "front.json differs after SIGINT and resume"

# 4. a finished run again: nothing evaluated again, same outputs
rows=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from points').fetchone()[0])" "$work/a/dse.sqlite")
cp "$work/a/front.json" "$work/front.before"
run --out "$work/a" -q
rows2=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from points').fetchone()[0])" "$work/a/dse.sqlite")
[ "$rows" = "$rows2" ] || fail "rerun added rows ($rows -> $rows2)"
cmp -s "$work/a/front.json" "$work/front.before" || fail "rerun changed front.json"

# 5. the other strategies on the same space
for s in greedy nsga2; do
  run --out "$work/$s" --strategy "$s" --budget 16 --seed 3 -q --no-plot || fail "strategy $s"
  [ -s "$work/$s/winner.json" ] || fail "strategy $s wrote no winner"
done
python3 - "$work" <<'PY' || fail "greedy path"
import json, sys
s = json.load(open(sys.argv[1] + "/greedy/summary.json"))
g = s["notes"]["greedy"]
assert len(g) == 2 and all(len(x["stages"]) >= 1 for x in g), g
PY
echo "dse golden runs and resume: OK"
