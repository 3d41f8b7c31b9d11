"""Stage `adapt` (run twice, adapt-c1 then adapt): pruning-aware joint fine-tuning of the
backbone and the whole bank."""
import os

import torch

from training.common import log
from training.model.pruned import QCtx
from training.model.schedules import random_sched, sched_mac_reduction
from training.model.evaluation import build_model, evaluate
from training.stages.selector_training import train_steps, save_final, run_stage


RECENTRE_FLOOR = 16.0


@torch.no_grad()
def recentre_selectors(model, x, floor=RECENTRE_FLOOR, bs=250):
    """Shift every selector's score so that its 0.1 % quantile over the dense pass on
    images x sits at `floor`; returns {block: shift}. With the inference decision rule
    (S > batch quantile) a common offset of the scores changes no decision, so training
    lets it drift: after the adapt stage some selectors scored every token above 128
    log-odds, where the Q8 int16 score saturates and the integer thresholds cannot
    separate tokens. Subtracting c from the keep-logit bias of every head subtracts
    exactly c from S (a head-weighted mean). Decisions are unchanged (thresholds are
    calibrated afterwards), and the package weight sigmoid(S) stays at its saturated
    value for scores >= 4, where the integer sigmoid is exactly 1. The scale of the
    selector's internal values is bounded during training by the range penalty
    (train_steps range_w; docs/deit-micro-training.md, stage 2b), not here."""
    model.eval()
    sc = {}
    for i in range(0, len(x), bs):
        _, aux = model(x[i:i + bs], probe=True, return_aux=True)
        for b, v in aux["scores"].items():
            sc.setdefault(b, []).append(v.flatten())
    shifts = {}
    for b, v in sorted(sc.items()):
        c = float(torch.quantile(torch.cat(v), 0.001)) - floor
        for l4 in model.selectors[str(b)].l4:
            l4.bias[1] -= c
        shifts[b] = c
    return shifts


MAC_BAND_TRIES = 1000


def adapt_sched(gen, step, dense_every=4, p_on=0.3, band=None):
    """The adapt stage's schedule of training step `step`: dense ([]) on every
    dense_every-th step (never when dense_every is 0), otherwise a random bank subset
    with each candidate block on with probability p_on (random_sched). band (lo, hi):
    a non-empty subset is drawn again until the fraction of MACs it saves is inside
    [lo, hi]; the empty subset (10 % of the subsets) is drawn once, before."""
    if dense_every and step % dense_every == 0:
        return []
    if band is None:
        return random_sched(gen, p_on=p_on)
    if torch.rand(1, generator=gen).item() < 0.1:   # random_sched's empty subset, once
        return []
    for _ in range(MAC_BAND_TRIES):
        s = random_sched(gen, p_on=p_on, p_empty=0.0)
        if band[0] <= sched_mac_reduction(s) <= band[1]:
            return s
    raise ValueError(f"--mac-band {band[0]},{band[1]}: no random subset inside it in "
                     f"{MAC_BAND_TRIES} draws")


def stage_adapt(a, xtr, ytr, xte, yte, teacher):
    """Pruning-aware joint fine-tuning of the backbone and the whole bank. The dense
    model leans on its background (all-zero) patch tokens: removing only those before
    block 1 costs more than 30 points (docs/deit-micro-training.md). Here the backbone
    learns to do without them: three steps in four run a random bank subset (as in the
    bank stage) with the inference decision rule (deterministic S > batch quantile, no
    Gumbel noise, straight-through), one step in four is dense (by default; adapt_sched,
    --dense-every, --p-on); distillation from the dense teacher throughout. The last --val
    training images are held out (the schedule search's validation set). --init (default
    bank.pt) and --name (default adapt) let a second cycle start from the first
    (run_training.sh: adapt-c1 -> adapt)."""
    model, _ = build_model(os.path.join(a.ckpt_dir, a.init))
    nval = a.val

    def fn(g, s):
        return adapt_sched(g, s, a.dense_every, a.p_on, a.mac_band)
    wall = train_steps(model, xtr[:-nval], ytr[:-nval], a.steps, fn, QCtx("float"), a.lr_bb,
                       a.lr_sel, os.path.join(a.ckpt_dir, f"{a.name}-last.pt"), a.seed, a.log,
                       a.name, bs=a.bs, ckpt_every=a.ckpt_every, teacher=teacher, kd_w=a.kd,
                       rule=a.rule, range_w=a.range_w, precision=a.precision)
    shifts = recentre_selectors(model, xtr[:1000])
    log(a.log, f"{a.name}: selector score offsets removed (log-odds): "
               + ", ".join(f"{b}: {c:.1f}" for b, c in shifts.items()))
    acc, _ = evaluate(model, xte, yte)
    save_final(os.path.join(a.ckpt_dir, f"{a.name}.pt"), model, wall=wall, dense_acc=acc)
    log(a.log, f"{a.name}: done dense test_acc {acc:.4f} wall_s {wall:.0f}")


def main(argv=None, prog=None):
    run_stage("adapt", stage_adapt, argv, prog)
