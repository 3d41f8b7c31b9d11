"""Stage `qat`: quantisation-aware fine-tuning in the integer formats of the export,
on the default schedule."""
import json
import os

import torch

from training.common import log, atomic_write_json
from training.model.pruned import QCtx
from training.model.schedules import load_sched_json, random_sched
from training.model.evaluation import build_model
from training.stages.selector_training import train_steps, save_final, run_stage


def stage_qat(a, xtr, ytr, xte, yte, teacher):
    model, _ = build_model(os.path.join(a.ckpt_dir, "latency.pt"))
    sched = load_sched_json(a.schedule_out)
    fr_path = os.path.join(a.ckpt_dir, "qat-fracs.json")
    if os.path.exists(fr_path):
        fracs = json.load(open(fr_path))
    else:
        qc = QCtx("calib")
        model.eval()
        with torch.no_grad():
            for i in range(4):
                xb = xtr[i * 250:(i + 1) * 250]
                model(xb, qc=qc, probe=True)
                model(xb, sched=sched, qc=qc)
        fracs = qc.finish_calib()
        atomic_write_json(fr_path, fracs)
    qc = QCtx("qat", fracs)

    def fn(g, s):
        r = s % 3
        return [] if r == 0 else sched if r == 1 else random_sched(g)
    wall = train_steps(model, xtr, ytr, a.steps, fn, qc, a.lr_bb, a.lr_sel,
                       os.path.join(a.ckpt_dir, "qat-last.pt"), a.seed + 100, a.log, "qat",
                       bs=a.bs, ckpt_every=a.ckpt_every, teacher=teacher, kd_w=a.kd, rule=a.rule,
                       range_w=a.range_w)
    save_final(os.path.join(a.ckpt_dir, "qat.pt"), model, fracs=fracs, wall=wall, sched=sched)
    log(a.log, f"qat: done wall_s {wall:.0f}")


def main(argv=None, prog=None):
    run_stage("qat", stage_qat, argv, prog)
