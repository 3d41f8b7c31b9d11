#!/usr/bin/env bash
# Smoke test of the training pipeline that `make train` runs: every stage of
# models/deit-micro/run_training.sh in its quick configuration (DM_QUICK: a few steps on
# a few hundred images), then the C++ functional model loads the export and must give
# the Python integer reference's thresholds and predictions, dense and on the schedule
# the quick latency search chose.
#   tests/deit_micro_smoke.sh HEATVIT_BINARY WORK_DIR
set -euo pipefail
HV="$1"; WORK="$2"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
rm -rf "$WORK"; mkdir -p "$WORK"
# an old checkpoint directory (one adapt cycle) is refused before any stage runs
mkdir -p "$WORK/old"; : > "$WORK/old/adapt.pt"
set +e
DM_CKPT="$WORK/old" DM_OUT="$WORK/old-out" DM_QUICK=1 bash "$ROOT/models/deit-micro/run_training.sh" 2> "$WORK/old.err"
rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q "adapt.pt: written by a one-cycle adapt stage" "$WORK/old.err" \
  && [[ "$(ls "$WORK/old")" == "adapt.pt" ]] || { echo "old checkpoint directory: rc $rc"; cat "$WORK/old.err"; exit 1; }
# recipes: the bf16 one is a single dense stage and passes --precision bf16 to every
# stage but qat; an unknown recipe is refused before anything is written
TR="$ROOT/models/deit-micro/run_training.sh"
DM_RECIPE=bf16 DM_DRY_RUN=1 DM_CKPT="$WORK/dry" DM_OUT="$WORK/dry-out" bash "$TR" > "$WORK/dry-bf16.out"
DM_DRY_RUN=1 DM_CKPT="$WORK/dry" DM_OUT="$WORK/dry-out" bash "$TR" > "$WORK/dry-fp32.out"
/usr/bin/python3 - "$WORK" <<'PY'
import sys
w = sys.argv[1]
def stages(name):
    out = {}
    for line in open(f"{w}/{name}"):
        if line.startswith("["):
            tag, cmd = line.split("] -> ", 1)
            out[tag[1:]] = cmd
    return out
b, f = stages("dry-bf16.out"), stages("dry-fp32.out")
assert "dense2" not in b and "dense2" in f, (sorted(b), sorted(f))
assert b["dense"].startswith(f"{w}/dry/dense.pt: ") and "--epochs 40 --warmup 1" in b["dense"], b["dense"]
for s in ("dense", "bank", "adapt", "adapt2", "latency", "dedicated"):
    assert b[s].rstrip().endswith("--precision bf16"), (s, b[s])
assert not any("--precision" in c for c in f.values()), f
assert "--precision" not in b["qat"] and "--precision" not in b["quantize"], b["qat"]
print("recipes: bf16 and fp32 stage commands as documented")
PY
set +e
DM_RECIPE=fp16 DM_CKPT="$WORK/bad" DM_OUT="$WORK/bad-out" bash "$TR" > /dev/null 2> "$WORK/bad.err"
rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q "DM_RECIPE: unknown recipe 'fp16'" "$WORK/bad.err" && [[ ! -e "$WORK/bad" && ! -e "$WORK/dry" ]] \
  || { echo "unknown recipe: rc $rc"; cat "$WORK/bad.err"; exit 1; }
DM_CKPT="$WORK/ck" DM_OUT="$WORK/out" DM_QUICK=1 \
  bash "$ROOT/models/deit-micro/run_training.sh" > "$WORK/train.out" 2>&1 || { cat "$WORK/train.out"; exit 1; }
for f in deit-micro-int8.hvt masks-default.hvt schedule-default.json results.json reference-outputs.json; do
  [[ -s "$WORK/out/$f" ]] || { echo "run_training.sh wrote no $f"; exit 1; }
done
for s in dense dense2 bank adapt adapt2 latency dedicated qat quantize masks evaluate; do
  grep -q "stage $s wall_s" "$WORK/ck/train.log" || { echo "stage $s did not run"; exit 1; }
done
for sch in dense default; do
  "$HV" eval --model deit-micro --weights "$WORK/out/deit-micro-int8.hvt" --schedule $sch --limit 16 \
    --threads 1 --report "$WORK/eval-$sch.json" -q
done
/usr/bin/python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
ref = json.load(open(f"{w}/out/reference-outputs.json"))
for name in ("dense", "default"):
    r = json.load(open(f"{w}/eval-{name}.json"))
    assert r["images"] == 16, r["images"]
    assert r["predictions"][:16] == ref[name]["pred"][:16], (name, r["predictions"], ref[name]["pred"])
    got = [(s["block"], s["threshold"]) for s in (r["schedule"].get("selectors") or [])]
    want = [(t["block"], t["threshold"]) for t in ref[name]["thresholds"]]
    assert got == want, (name, got, want)
    print(f"{name}: 16 predictions and thresholds {want} equal the Python reference")
PY
