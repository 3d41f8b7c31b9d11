"""Stage `bank`: train the selector bank (one selector before each candidate block) on the
frozen-ish dense backbone, each step on a random subset of the bank."""
import os

from training.common import log
from training.model.pruned import QCtx
from training.model.schedules import random_sched
from training.model.evaluation import build_model, evaluate
from training.stages.selector_training import train_steps, save_final, run_stage


def stage_bank(a, xtr, ytr, xte, yte, teacher):
    model, _ = build_model(os.path.join(a.ckpt_dir, "dense.pt"))
    wall = train_steps(model, xtr, ytr, a.steps, lambda g, s: random_sched(g), QCtx("float"),
                       a.lr_bb, a.lr_sel, os.path.join(a.ckpt_dir, "bank-last.pt"), a.seed,
                       a.log, "bank", bs=a.bs, ckpt_every=a.ckpt_every, teacher=teacher, kd_w=a.kd,
                       precision=a.precision)
    acc, _ = evaluate(model, xte, yte)
    save_final(os.path.join(a.ckpt_dir, "bank.pt"), model, wall=wall, dense_acc=acc)
    log(a.log, f"bank: done dense test_acc {acc:.4f} wall_s {wall:.0f}")


def main(argv=None, prog=None):
    run_stage("bank", stage_bank, argv, prog)
