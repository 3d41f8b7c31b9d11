#!/usr/bin/env bash
# Train and export deit-micro: every stage in order, skipping stages whose output exists.
# Resumable: a killed stage restarts from its last checkpoint in the checkpoint directory.
#
#   models/deit-micro/run_training.sh            # full run (what `make train` calls)
#   DM_RECIPE=bf16 ...       # the default and the committed export's recipe: one 40-epoch
#                            # dense cycle and bf16 autocast in every stage but qat
#                            # (docs/deit-micro-training.md)
#   DM_RECIPE=fp32 ...       # the earlier recipe: two fp32 dense cycles (16 + 8 epochs),
#                            # fp32 everywhere (about 4.7 h on 2 cores)
#   DM_DENSE=FILE ...        # take a finished dense checkpoint (backbones/dense-bf16.pt)
#                            # instead of training stage 1
#   DM_CKPT=/tmp/x DM_OUT=/tmp/y DM_QUICK=1 ...  # tiny smoke run (tests use it)
#   DM_DRY_RUN=1 ...         # print each stage's command instead of running it
#
# Checkpoints go to checkpoints/bf16/ (bf16) or checkpoints/ (fp32) unless DM_CKPT is set;
# the export to DM_OUT, by default CHECKPOINTS/export: the committed export in export/ is
# never written by a run (copy a finished run's export there to replace it). A checkpoint
# directory belongs to one recipe (CHECKPOINTS/recipe); another recipe is refused.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PY=/usr/bin/python3
RECIPE="${DM_RECIPE:-bf16}"
case "$RECIPE" in
  fp32) PREC=(); CK="${DM_CKPT:-$HERE/checkpoints}" ;;
  bf16) PREC=(--precision bf16); CK="${DM_CKPT:-$HERE/checkpoints/bf16}" ;;
  *) echo "error: DM_RECIPE: unknown recipe '$RECIPE' (fp32 or bf16)" >&2; exit 2 ;;
esac
OUT="${DM_OUT:-$CK/export}"
LOG="${DM_LOG:-$CK/train.log}"
# the stages run from the repository root: relative paths are the caller's, made absolute
CK="$(realpath -m -- "$CK")"; OUT="$(realpath -m -- "$OUT")"; LOG="$(realpath -m -- "$LOG")"
DATA_ARGS=()
[[ -n "${HEATVIT_FMNIST:-}" ]] && DATA_ARGS=(--data "$(realpath -m -- "$HEATVIT_FMNIST")")
[[ -n "${HEATVIT_BIN:-}" ]] && HEATVIT_BIN="$(realpath -m -- "$HEATVIT_BIN")"
if [[ -n "${DM_DENSE:-}" ]]; then
  if [[ ! -f "$DM_DENSE" ]]; then echo "error: DM_DENSE: $DM_DENSE: no such file" >&2; exit 2; fi
  DM_DENSE="$(realpath -- "$DM_DENSE")"
  if [[ -e "$CK/dense.pt" ]] && ! cmp -s "$DM_DENSE" "$CK/dense.pt"; then
    echo "error: $CK/dense.pt: exists and is not DM_DENSE=$DM_DENSE; use another DM_CKPT" >&2
    exit 2
  fi
fi
# a checkpoint directory from before the adapt stage had two cycles: its adapt.pt is the
# first cycle, and skipping stage adapt2 because it exists would be wrong
if [[ -e "$CK/adapt.pt" && ! -e "$CK/adapt-c1.pt" ]]; then
  echo "error: $CK/adapt.pt: written by a one-cycle adapt stage (there is no adapt-c1.pt);" \
       "rename it to adapt-c1.pt to run the second cycle from it, or remove it" >&2
  exit 2
fi
# a checkpoint directory holds the stages of one recipe (CK/recipe). Without that file (a
# directory from before recipes, or one where the dense stage was run by hand) the recipe
# is the precision its dense checkpoint records; a directory with only dense-c1 is fp32.
if [[ -f "$CK/recipe" ]]; then
  have="$(cat "$CK/recipe")"
elif [[ -e "$CK/dense.pt" || -e "$CK/dense-last.pt" ]]; then
  f="$CK/dense.pt"; [[ -e "$f" ]] || f="$CK/dense-last.pt"
  have="$($PY -c 'import sys, torch; ck = torch.load(sys.argv[1]); print(ck.get("precision", "fp32") if isinstance(ck, dict) else "unknown")' "$f" 2>/dev/null || echo unknown)"
elif [[ -e "$CK/dense-c1.pt" || -e "$CK/dense-c1-last.pt" ]]; then
  have=fp32
elif [[ -d "$CK" ]] && [[ -n "$(find "$CK" -maxdepth 1 -name '*.pt' -print -quit)" ]]; then
  have=unknown
else
  have="$RECIPE"
fi
if [[ "$have" == unknown ]]; then
  echo "error: $CK: holds checkpoints of an unknown recipe; write fp32 or bf16 into $CK/recipe" >&2
  exit 2
fi
if [[ "$have" != "$RECIPE" ]]; then
  echo "error: $CK: holds checkpoints of recipe '$have', not DM_RECIPE=$RECIPE;" \
       "use another DM_CKPT" >&2
  exit 2
fi

if [[ -z "${DM_DRY_RUN:-}" ]]; then
  mkdir -p "$CK" "$OUT"
  echo "$RECIPE" > "$CK/recipe"
fi

if [[ -n "${DM_QUICK:-}" ]]; then
  # smoke configuration: a few steps on a few hundred images
  Q=(--limit 400 --test-limit 200)
  DENSE=(--epochs 1 --bs 64); DENSE2=(--epochs 1 --bs 64); BANK=(--steps 4 --bs 32 --ckpt-every 2)
  ADAPT=(--steps 4 --bs 32 --ckpt-every 2 --val 100 --rule hard --range-w 1)
  ADAPT2=(--steps 2 --bs 32 --ckpt-every 2 --val 100 --rule hard --range-w 1 --seed 1)
  DED=(--steps 2 --bs 32 --ckpt-every 2); LAT=(--steps 2 --bs 32 --ckpt-every 2 --val 100 --stages 2 --target 0.7)
  QAT=(--steps 2 --bs 32 --ckpt-every 2 --rule hard --range-w 1); EXP=(--calib 100 --test-limit 100); EVAL=(--test-limit 100 --quick)
  T1=1; T2=1
else
  Q=()
  # dense: two cosine cycles (16 epochs at peak lr 1.5e-3, then a warm restart of 8 at 1e-3)
  DENSE=(--epochs 16); DENSE2=(--epochs 8 --lr 1e-3 --warmup 0.3); BANK=(--steps 700); DED=(--steps 300)
  # adapt: two cosine cycles as well (5e-4, then a warm restart at 2e-4 with other batches)
  ADAPT=(--steps 2400 --lr-bb 5e-4 --lr-sel 5e-4 --rule hard --range-w 1)
  ADAPT2=(--steps 2400 --lr-bb 2e-4 --lr-sel 2e-4 --rule hard --range-w 1 --seed 1)
  # the search aims at 0.70 of the dense cycles (about 40-45 % fewer MACs on this table)
  LAT=(--steps 0 --stages 3 --target 0.70 --val 1000 --keep-cands 0.5,0.6,0.7,0.8,0.9 --lr-bb 0)
  QAT=(--steps 200 --rule hard --range-w 1); EXP=(--calib 1000); EVAL=(--curve-limit 1000)
  T1=1; T2=2
  # bf16: one cosine cycle of 40 epochs (peak lr 1.5e-3, one warm-up epoch) in place of
  # the two fp32 cycles; a test evaluation every 5 epochs (each costs about a quarter epoch)
  if [[ "$RECIPE" == bf16 ]]; then DENSE=(--epochs 40 --warmup 1 --eval-every 5); fi
fi

stage() {  # stage NAME OUTPUT CMD...
  local name="$1" out="$2"; shift 2
  if [[ -n "${DM_DRY_RUN:-}" ]]; then
    local note=""
    [[ -e "$out" ]] && note=" (exists: would be skipped)"
    echo "[$name] -> $out$note: $(printf '%q ' "$@")"
    return 0
  fi
  if [[ -e "$out" ]]; then echo "[$name] $out exists, skipped"; return 0; fi
  local t0=$SECONDS
  "$@"
  echo "$(date -u +%FT%TZ) stage $name wall_s $((SECONDS - t0))" | tee -a "$LOG"
}

cd "$HERE/../.."   # the stages are `python3 -m training STAGE` from the repository root
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"   # (also with PYTHONSAFEPATH set)
if [[ -n "${DM_DENSE:-}" ]]; then
  stage dense "$CK/dense.pt" $PY -m training dense --ckpt-dir "$CK" --log "$LOG" --name dense \
    --from "$DM_DENSE" --precision "$RECIPE"
elif [[ "$RECIPE" == bf16 ]]; then
  stage dense "$CK/dense.pt" $PY -m training dense --ckpt-dir "$CK" --log "$LOG" --threads $T2 \
    --name dense "${Q[@]}" "${DATA_ARGS[@]}" "${DENSE[@]}" "${PREC[@]}"
else
  stage dense "$CK/dense-c1.pt" $PY -m training dense --ckpt-dir "$CK" --log "$LOG" --threads $T2 \
    --name dense-c1 "${Q[@]}" "${DATA_ARGS[@]}" "${DENSE[@]}"
  stage dense2 "$CK/dense.pt" $PY -m training dense --ckpt-dir "$CK" --log "$LOG" --threads $T2 \
    --name dense --init "$CK/dense-c1.pt" "${Q[@]}" "${DATA_ARGS[@]}" "${DENSE2[@]}"
fi
stage bank "$CK/bank.pt" $PY -m training bank --ckpt-dir "$CK" --log "$LOG" --threads $T2 \
  "${Q[@]}" "${DATA_ARGS[@]}" "${BANK[@]}" "${PREC[@]}"
# pruning-aware joint fine-tuning of the backbone and the bank, inside the integer ranges
stage adapt "$CK/adapt-c1.pt" $PY -m training adapt --ckpt-dir "$CK" --log "$LOG" --threads $T2 \
  --name adapt-c1 "${Q[@]}" "${DATA_ARGS[@]}" "${ADAPT[@]}" "${PREC[@]}"
stage adapt2 "$CK/adapt.pt" $PY -m training adapt --ckpt-dir "$CK" --log "$LOG" --threads $T2 \
  --init adapt-c1.pt "${Q[@]}" "${DATA_ARGS[@]}" "${ADAPT2[@]}" "${PREC[@]}"
stage latency "$CK/latency.pt" $PY -m training latency --ckpt-dir "$CK" --log "$LOG" --init adapt.pt \
  --threads $T2 --latency-table "$HERE/latency_table.json" --schedule-out "$OUT/schedule-default.json" \
  "${Q[@]}" "${DATA_ARGS[@]}" "${LAT[@]}" "${PREC[@]}"
# the dedicated-schedule comparison runs next to quantisation-aware training (one core each)
stage dedicated "$CK/dedicated.pt" $PY -m training dedicated --ckpt-dir "$CK" --log "$LOG" \
  --threads $T1 --sched 3:0.7,6:0.7,9:0.7 "${Q[@]}" "${DATA_ARGS[@]}" "${DED[@]}" "${PREC[@]}" &
DPID=$!
stage qat "$CK/qat.pt" $PY -m training qat --ckpt-dir "$CK" --log "$LOG" --threads $T1 \
  --schedule-out "$OUT/schedule-default.json" "${Q[@]}" "${DATA_ARGS[@]}" "${QAT[@]}"
wait $DPID
stage quantize "$OUT/deit-micro-int8.hvt" $PY -m training quantize --ckpt-dir "$CK" --out-dir "$OUT" \
  --log "$LOG" "${DATA_ARGS[@]}" "${EXP[@]}"
stage masks "$OUT/masks-default.hvt" $PY -m training masks --ckpt-dir "$CK" --out-dir "$OUT" \
  --log "$LOG" "${DATA_ARGS[@]}" "${EXP[@]}"
stage evaluate "$OUT/results.json" $PY -m training evaluate --ckpt-dir "$CK" --out-dir "$OUT" \
  --log "$LOG" --plot "$OUT/accuracy_vs_macs.png" "${DATA_ARGS[@]}" "${EVAL[@]}"
# full-test-set schedule sweep through the C++ functional model (needs `make build`)
HEATVIT_BIN="${HEATVIT_BIN:-$HERE/../../build/bin/heatvit}"
if [[ -z "${DM_QUICK:-}" ]]; then
  stage sweep "$OUT/sweep.json" $PY -m training sweep --heatvit "$HEATVIT_BIN" \
    --weights "$OUT/deit-micro-int8.hvt" --out "$OUT/sweep.json" --plot "$OUT/accuracy_vs_macs_bank.png"
fi
if [[ -n "${DM_DRY_RUN:-}" ]]; then
  echo "dry run (recipe $RECIPE): nothing was run or written"
else
  echo "done: artifacts in $OUT, log in $LOG"
fi
