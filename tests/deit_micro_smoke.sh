#!/usr/bin/env bash
# Smoke test of the training pipeline that `make train` runs: every stage of
# models/deit-micro/run_training.sh in its quick configuration of the default recipe
# (bf16, the committed export's; DM_QUICK: a few steps on
# a few hundred images), then the C++ functional model loads the export and must give
# the Python integer reference's thresholds and predictions, dense and on the schedule
# the quick latency search chose. Before that, dry runs (DM_DRY_RUN) check the stage
# commands of both recipes (DM_RECIPE fp32 / bf16, DM_DENSE), and bad settings must be
# refused with exit 2 before anything is written.
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
# stage but qat; an unknown recipe, a checkpoint directory of the other recipe and a
# missing DM_DENSE file are refused before anything is written
TR="$ROOT/models/deit-micro/run_training.sh"
DM_RECIPE=bf16 DM_DRY_RUN=1 DM_CKPT="$WORK/dry" bash "$TR" > "$WORK/dry-bf16.out"
DM_RECIPE=fp32 DM_DRY_RUN=1 DM_CKPT="$WORK/dry" bash "$TR" > "$WORK/dry-fp32.out"
DM_DRY_RUN=1 DM_CKPT="$WORK/dry" bash "$TR" > "$WORK/dry-default.out"   # the export's recipe
# (sorted: the dedicated stage runs in the background next to qat, so the two dry-run
# lines come in either order)
cmp -s <(sort "$WORK/dry-default.out") <(sort "$WORK/dry-bf16.out") || { echo "the default recipe is not bf16"; exit 1; }
DM_RECIPE=bf16 DM_DRY_RUN=1 DM_QUICK=1 DM_CKPT="$WORK/dry" bash "$TR" > "$WORK/dry-bf16-quick.out"
DM_RECIPE=bf16 DM_DRY_RUN=1 DM_DENSE="$TR" DM_CKPT="$WORK/dry" bash "$TR" > "$WORK/dry-bf16-from.out"
/usr/bin/python3 - "$WORK" <<'PY'
import shlex, sys
w = sys.argv[1]
def stages(name):
    out = {}
    for line in open(f"{w}/{name}"):
        if line.startswith("["):
            tag, rest = line.split("] -> ", 1)
            path, cmd = rest.split(": ", 1)
            out[tag[1:]] = (path, shlex.split(cmd))
    return out
def opts(argv):   # {--option: its value, or True for a flag}
    return {a: (argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else True)
            for i, a in enumerate(argv) if a.startswith("--")}
every = ["bank", "adapt", "adapt2", "latency", "qat", "dedicated", "quantize", "masks", "evaluate", "sweep"]
b, f = stages("dry-bf16.out"), stages("dry-fp32.out")
q, fr = stages("dry-bf16-quick.out"), stages("dry-bf16-from.out")
assert sorted(b) == sorted(["dense"] + every), sorted(b)
assert sorted(f) == sorted(["dense", "dense2"] + every), sorted(f)
assert sorted(q) == sorted(["dense"] + every[:-1]), sorted(q)       # no sweep in the quick run
for run in (b, f, q):   # every stage is a command of the one entry point
    for s, (_, cmd) in run.items():
        want = {"dense2": "dense", "adapt2": "adapt"}.get(s, s)
        assert cmd[1:4] == ["-m", "training", want], (s, cmd)
bd = opts(b["dense"][1])
assert b["dense"][0] == f"{w}/dry/dense.pt", b["dense"]
assert (bd["--name"], bd["--epochs"], bd["--warmup"], bd["--eval-every"], bd["--precision"]) == \
    ("dense", "40", "1", "5", "bf16") and "--init" not in bd and "--lr" not in bd, bd
fd, fd2 = opts(f["dense"][1]), opts(f["dense2"][1])
assert (fd["--name"], fd["--epochs"]) == ("dense-c1", "16") and "--warmup" not in fd, fd
assert (fd2["--name"], fd2["--epochs"], fd2["--lr"], fd2["--warmup"], fd2["--init"]) == \
    ("dense", "8", "1e-3", "0.3", f"{w}/dry/dense-c1.pt"), fd2
for s in ("dense", "bank", "adapt", "adapt2", "latency", "dedicated"):
    assert opts(b[s][1]).get("--precision") == "bf16", (s, b[s])
    assert opts(q[s][1]).get("--precision") == "bf16", (s, q[s])
for s in ("qat", "quantize", "masks", "evaluate", "sweep"):
    assert "--precision" not in opts(b[s][1]), (s, b[s])
assert not any("--precision" in c for _, c in f.values()), f
assert opts(q["dense"][1])["--epochs"] == "1", q["dense"]
assert b["masks"][0] == f"{w}/dry/export/masks-default.hvt", b["masks"]   # the run's own export
for s, png in (("evaluate", "accuracy_vs_macs.png"), ("sweep", "accuracy_vs_macs_bank.png")):
    for run in (b, f):   # plots go to the run's export too, not to the model card's
        assert opts(run[s][1])["--plot"] == f"{w}/dry/export/{png}", (s, run[s])
frd = opts(fr["dense"][1])
assert frd["--from"].endswith("run_training.sh") and "--epochs" not in frd, fr["dense"]
print("recipes: bf16 and fp32 stage commands as documented")
PY
# relative DM_CKPT and DM_DENSE are the caller's (the stages run from the repository root)
: > "$WORK/rel.pt"
(cd "$WORK" && DM_RECIPE=bf16 DM_DRY_RUN=1 DM_DENSE=rel.pt DM_CKPT=relck bash "$TR") > "$WORK/dry-rel.out"
RW="$(realpath "$WORK")"
grep -qF "[dense] -> $RW/relck/dense.pt: " "$WORK/dry-rel.out" && grep -qF -- "--from $RW/rel.pt" "$WORK/dry-rel.out" \
  && grep -qF "[masks] -> $RW/relck/export/masks-default.hvt: " "$WORK/dry-rel.out" \
  || { echo "relative paths not resolved:"; cat "$WORK/dry-rel.out"; exit 1; }
refused() {  # refused WHAT MESSAGE ENV... : run_training.sh must exit 2 with MESSAGE, writing nothing
  local what="$1" msg="$2"; shift 2
  set +e
  env "$@" DM_QUICK=1 bash "$TR" > /dev/null 2> "$WORK/refused.err"
  local rc=$?
  set -e
  [[ $rc -eq 2 ]] && grep -qF "$msg" "$WORK/refused.err" || { echo "$what: rc $rc"; cat "$WORK/refused.err"; exit 1; }
}
refused "unknown recipe" "DM_RECIPE: unknown recipe 'fp16'" DM_RECIPE=fp16 DM_CKPT="$WORK/bad"
refused "missing DM_DENSE" "DM_DENSE: $WORK/none.pt: no such file" DM_DENSE="$WORK/none.pt" DM_CKPT="$WORK/bad"
[[ ! -e "$WORK/bad" && ! -e "$WORK/dry" ]] || { echo "a refused or dry run wrote files"; exit 1; }
mkdir -p "$WORK/fp32dir"; : > "$WORK/fp32dir/dense-c1.pt"
refused "bf16 on an fp32 directory" "holds checkpoints of recipe 'fp32', not DM_RECIPE=bf16" \
  DM_RECIPE=bf16 DM_CKPT="$WORK/fp32dir"
mkdir -p "$WORK/bf16dir"; echo bf16 > "$WORK/bf16dir/recipe"
refused "fp32 on a bf16 directory" "holds checkpoints of recipe 'bf16', not DM_RECIPE=fp32" \
  DM_RECIPE=fp32 DM_CKPT="$WORK/bf16dir"
# without a recipe file: the precision the dense checkpoint records, else refused
mkdir -p "$WORK/handdir" "$WORK/unknowndir"; : > "$WORK/unknowndir/bank.pt"
/usr/bin/python3 -c 'import sys, torch; torch.save({"precision": "bf16"}, sys.argv[1])' "$WORK/handdir/dense-last.pt"
refused "fp32 on an unmarked bf16 directory" "holds checkpoints of recipe 'bf16', not DM_RECIPE=fp32" \
  DM_RECIPE=fp32 DM_CKPT="$WORK/handdir"
DM_DRY_RUN=1 DM_CKPT="$WORK/handdir" bash "$TR" > /dev/null
refused "unknown recipe directory" "unknown recipe; write fp32 or bf16 into $(realpath "$WORK")/unknowndir/recipe" \
  DM_CKPT="$WORK/unknowndir"
echo other > "$WORK/other.pt"; : > "$WORK/handdir/dense.pt"
refused "DM_DENSE beside another dense.pt" "dense.pt: exists and is not DM_DENSE=" \
  DM_RECIPE=bf16 DM_DENSE="$WORK/other.pt" DM_CKPT="$WORK/handdir"
[[ "$(ls "$WORK/fp32dir")" == "dense-c1.pt" && "$(ls "$WORK/bf16dir")" == "recipe" \
   && "$(ls "$WORK/handdir" | tr '\n' ' ')" == "dense-last.pt dense.pt " && "$(ls "$WORK/unknowndir")" == "bank.pt" ]] \
  || { echo "a refused run wrote files"; exit 1; }
DM_CKPT="$WORK/ck" DM_OUT="$WORK/out" DM_QUICK=1 \
  bash "$ROOT/models/deit-micro/run_training.sh" > "$WORK/train.out" 2>&1 || { cat "$WORK/train.out"; exit 1; }
for f in deit-micro-int8.hvt masks-default.hvt schedule-default.json results.json reference-outputs.json; do
  [[ -s "$WORK/out/$f" ]] || { echo "run_training.sh wrote no $f"; exit 1; }
done
[[ "$(cat "$WORK/ck/recipe")" == bf16 ]] || { echo "run_training.sh wrote no recipe file"; exit 1; }
refused "fp32 on the quick run's directory" "holds checkpoints of recipe 'bf16', not DM_RECIPE=fp32" \
  DM_RECIPE=fp32 DM_CKPT="$WORK/ck"
grep -q "dense: bf16 matrix products (autocast)" "$WORK/ck/train.log" || { echo "the quick run is not bf16"; exit 1; }
for s in dense bank adapt adapt2 latency dedicated qat quantize masks evaluate; do
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
