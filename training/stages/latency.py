"""Stage `latency`: HeatViT-style latency-aware multi-stage search and fine-tuning that
chooses the default schedule."""
import json
import os
import time

from training.common import log, atomic_write_json, load_ckpt
from training.model.shape import CANDIDATE_BLOCKS
from training.model.pruned import QCtx
from training.model.costs import LatencyTable
from training.model.schedules import random_sched
from training.model.evaluation import build_model, evaluate, seq_thresholds
from training.stages.selector_training import train_steps, save_final, run_stage


def stage_latency(a, xtr, ytr, xte, yte, teacher):
    """HeatViT-style latency-aware multi-stage training on top of the bank. Stage k of K
    inserts one more selector so that the expected cycles of the schedule (latency
    table) reach the stage's target, 1 - (1 - target) * k / K of dense: among every
    free candidate block and keep rate whose schedule meets it (and, before the last
    stage, does not already go below the final target), the one with the best
    accuracy on held-out training images (thresholds by sequential calibration), then
    fine-tunes with the latency-weighted keep-ratio loss and distillation."""
    lat = LatencyTable(a.latency_table)
    model, _ = build_model(os.path.join(a.ckpt_dir, a.init))
    state_path = os.path.join(a.ckpt_dir, "latency-state.json")
    st = {"stage": 0, "sched": [], "history": [], "wall": 0.0}
    if os.path.exists(state_path):
        st = json.load(open(state_path))
        model.load_state_dict(load_ckpt(os.path.join(a.ckpt_dir, "latency-stage.pt"))["model"])
        log(a.log, f"latency: resumed after stage {st['stage']}")
    nval = a.val
    xv, yv = xtr[-nval:], ytr[-nval:]
    dense_cyc = lat.schedule_cycles([])
    base_acc, _ = evaluate(model, xv, yv)
    log(a.log, f"latency: table {a.latency_table} ({lat.source}), dense cycles {dense_cyc:.0f}, "
               f"target {a.target:.3f} of dense in {a.stages} stages, val acc dense {base_acc:.4f} "
               f"on {nval} held-out training images")
    while st["stage"] < a.stages:
        t0 = time.time()
        k = st["stage"] + 1
        goal = 1.0 - (1.0 - a.target) * k / a.stages
        sched = [tuple(s) for s in st["sched"]]
        used = {b for b, _ in sched}
        cands = [b for b in CANDIDATE_BLOCKS if b not in used]
        if sched and a.progressive:
            cands = [b for b in cands if b < min(used)]
        best, fallback = None, None
        for b in cands:
            for rho in a.keep_cands:
                cand = sorted(sched + [(b, rho)])
                cyc = lat.schedule_cycles(cand) / dense_cyc
                if k < a.stages and cyc < a.target:  # leave the later stages something to add
                    continue
                if cyc > goal:
                    if fallback is None or cyc < fallback[2]:
                        fallback = (b, rho, cyc, None)
                    continue
                acc, _ = evaluate(model, xv, yv, sched=cand, thresholds=seq_thresholds(model, xv, cand))
                if best is None or (acc, -cyc) > (best[3], -best[2]):
                    best = (b, rho, cyc, acc)
        if best is None:
            if fallback is None:
                log(a.log, f"latency: stage {k}: no free candidate block; stop")
                break
            cand = sorted(sched + [(fallback[0], fallback[1])])
            acc, _ = evaluate(model, xv, yv, sched=cand, thresholds=seq_thresholds(model, xv, cand))
            best = fallback[:3] + (acc,)
            log(a.log, f"latency: stage {k}: no candidate reaches {goal:.3f}; the fastest one")
        sched = sorted(sched + [(best[0], best[1])])
        log(a.log, f"latency: stage {k}: add selector before block {best[0]} keep {best[1]} -> "
                   f"schedule {sched} cycles {best[2]:.3f} of dense (goal {goal:.3f}) "
                   f"val acc {best[3]:.4f} before fine-tuning (dense {base_acc:.4f})")
        # latency weight of a selector: cycles saved per pruned token in the blocks it governs
        rw = {}
        for b, _ in sched:
            saved = sum(lat.cycles(j, 50) - lat.cycles(j, 49) for j in range(b, 12))
            rw[b] = saved
        mx = max(rw.values())
        rw = {b: 1.0 + v / mx for b, v in rw.items()}
        cur = list(sched)

        def fn(g, s, cur=cur):  # the schedule half the time; a random subset; dense
            r = s % 4
            return cur if r < 2 else random_sched(g) if r == 2 else []
        ck = os.path.join(a.ckpt_dir, f"latency-stage{k}-last.pt")
        w = train_steps(model, xtr[:-nval], ytr[:-nval], a.steps, fn, QCtx("float"), a.lr_bb,
                        a.lr_sel, ck, a.seed + 10 + k, a.log, f"latency-stage{k}", bs=a.bs,
                        ckpt_every=a.ckpt_every, ratio_weights=rw, teacher=teacher, kd_w=a.kd,
                        precision=a.precision)
        acc_ft, _ = evaluate(model, xv, yv, sched=sched, thresholds=seq_thresholds(model, xv, sched))
        acc_dense, _ = evaluate(model, xv, yv)
        log(a.log, f"latency: stage {k}: after fine-tuning val acc {acc_ft:.4f} (dense {acc_dense:.4f})")
        st["sched"] = sched
        st["stage"] = k
        st["history"].append({"stage": k, "block": best[0], "keep": best[1], "goal": goal,
                              "cycles_ratio": best[2], "val_acc_before_ft": best[3],
                              "val_acc_after_ft": acc_ft, "val_acc_dense_after_ft": acc_dense,
                              "search_s": time.time() - t0 - w})
        st["wall"] += time.time() - t0
        save_final(os.path.join(a.ckpt_dir, "latency-stage.pt"), model)
        atomic_write_json(state_path, st)
    save_final(os.path.join(a.ckpt_dir, "latency.pt"), model, sched=st["sched"], wall=st["wall"])
    os.makedirs(os.path.dirname(a.schedule_out), exist_ok=True)
    atomic_write_json(a.schedule_out, {
        "selectors": [{"block": b, "keep": k} for b, k in st["sched"]],
        "note": "keep = target mean fraction of the patch tokens entering the selector that it "
                "keeps (CLS and package token excluded); chosen by latency-aware multi-stage "
                f"training for {a.target:.2f} of the dense cycles of " + os.path.basename(a.latency_table)
                + " (" + lat.source + ")",
        "stages": st["history"]})
    log(a.log, f"latency: done schedule {st['sched']} wall_s {st['wall']:.0f}")


def main(argv=None, prog=None):
    run_stage("latency", stage_latency, argv, prog)
