"""Stage `dedicated`: selectors trained for one fixed schedule only (the comparison the
model card reports against the bank)."""
import os

from training.common import log
from training.model.pruned import QCtx
from training.model.schedules import parse_sched
from training.model.evaluation import build_model
from training.stages.selector_training import train_steps, save_final, run_stage


def stage_dedicated(a, xtr, ytr, xte, yte, teacher):
    sched = parse_sched(a.sched)
    model, _ = build_model(os.path.join(a.ckpt_dir, "dense.pt"))
    wall = train_steps(model, xtr, ytr, a.steps, lambda g, s: sched, QCtx("float"), a.lr_bb,
                       a.lr_sel, os.path.join(a.ckpt_dir, "dedicated-last.pt"), a.seed + 1,
                       a.log, "dedicated", bs=a.bs, ckpt_every=a.ckpt_every,
                       trainable_sel=[b for b, _ in sched], teacher=teacher, kd_w=a.kd,
                       precision=a.precision)
    save_final(os.path.join(a.ckpt_dir, "dedicated.pt"), model, wall=wall, sched=sched)
    log(a.log, f"dedicated: done wall_s {wall:.0f}")


def main(argv=None, prog=None):
    run_stage("dedicated", stage_dedicated, argv, prog)
