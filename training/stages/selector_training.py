"""The training loop and command line shared by the selector stages (bank, adapt,
latency, dedicated, qat; one module each beside this one).

All stages are seeded per step (the batch, the random subset and the Gumbel noise of
step s depend only on --seed and s), and checkpoint every --ckpt-every steps, so a
killed run resumes where it stopped and produces the same result.
"""
import argparse
import importlib
import math
import os
import re
import time

import torch
import torch.nn.functional as F

from training.common import ARTIFACTS, log, load_ckpt, autocast, check_resume_precision
from training.data import load_split
from training.model.pruned import SPREAD_MIN
from training.model.evaluation import load_dense_teacher
from training.stages.step import augment


def train_steps(model, xtr, ytr, steps, sched_fn, qc, lr_bb, lr_sel, ckpt, seed, logf, tag,
                bs=128, ckpt_every=100, ratio_w=2.0, ratio_weights=None, trainable_sel=None,
                teacher=None, kd_w=1.0, spread_w=1.0, rule="gumbel", range_w=0.0, precision="fp32"):
    """teacher: frozen dense model; when given, the loss adds kd_w * KL(teacher || model)
    on the same augmented batch (DynamicViT-style logit distillation). range_w > 0 adds
    range_w * the selectors' range excess (net.range_excess: pre-GELU values beyond
    net.GELU_IN_LIM, head deltas beyond net.DELTA_LIM), which keeps the selectors inside
    their integer formats. precision "bf16": the forward passes (model and teacher) run under
    bfloat16 autocast; weights, optimiser state and the loss stay fp32."""
    sel_params = [p for b, s in model.selectors.items()
                  if trainable_sel is None or int(b) in trainable_sel for p in s.parameters()]
    for p in model.selectors.parameters():  # lr_sel = 0: frozen selectors
        p.requires_grad_(lr_sel > 0)
    groups, base = [], []
    for p in model.backbone.parameters():   # lr_bb = 0: frozen backbone, no gradients computed
        p.requires_grad_(lr_bb > 0)
    if lr_bb > 0:
        groups.append({"params": model.backbone.parameters(), "lr": lr_bb, "weight_decay": 0.05})
        base.append(lr_bb)
    if lr_sel > 0:
        groups.append({"params": sel_params, "lr": lr_sel, "weight_decay": 0.0})
        base.append(lr_sel)
    if not groups:
        if steps > 0:
            raise ValueError(f"{tag}: --lr-bb and --lr-sel are both 0: nothing to train")
        return 0.0
    opt = torch.optim.AdamW(groups)
    start, wall = 0, 0.0
    if os.path.exists(ckpt):
        ck = load_ckpt(ckpt, "opt")
        check_resume_precision(ck, ckpt, precision, "same --precision, or remove the checkpoint")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        start, wall = ck["step"], ck["wall"]
        log(logf, f"{tag}: resumed at step {start}")
    t0 = time.time()
    model.train()
    run_loss, run_n = 0.0, 0
    for step in range(start, steps):
        gen = torch.Generator().manual_seed(seed * 1000003 + step)
        torch.manual_seed(seed * 7919 + step)
        idx = torch.randint(0, len(xtr), (bs,), generator=gen)
        xb = augment(xtr[idx], gen)
        yb = ytr[idx]
        sched = sched_fn(gen, step)
        f = 0.5 * (1 + math.cos(math.pi * step / steps)) * min(1.0, (step + 1) / max(1, min(50, steps // 5)))
        for g, b0 in zip(opt.param_groups, base):
            g["lr"] = b0 * max(f, 0.02)
        if range_w > 0:
            for s_ in model.selectors.values():
                s_.range_terms = []
        amp = autocast(precision)
        try:
            with amp:
                out, aux = model(xb, sched=sched, qc=qc, train_sel=True, return_aux=True, rule=rule)
            terms = [t.float() for s_ in model.selectors.values() for t in (s_.range_terms or [])]
        finally:
            for s_ in model.selectors.values():
                s_.range_terms = None
        out = out.float()
        loss = F.cross_entropy(out, yb, label_smoothing=0.1)
        if terms:
            loss = loss + range_w * torch.stack(terms).sum()
        if teacher is not None:
            with torch.no_grad(), amp:
                tl_ = teacher(xb)
            tp = F.softmax(tl_.float(), -1)
            loss = loss + kd_w * F.kl_div(F.log_softmax(out, -1), tp, reduction="batchmean")
        for (b, frac, rho) in aux["ratio"]:
            w = 1.0 if ratio_weights is None else ratio_weights.get(b, 1.0)
            loss = loss + ratio_w * w * (frac.float() - rho) ** 2
        for (b, sd) in aux["spread"]:
            loss = loss + spread_w * F.relu(SPREAD_MIN - sd.float()) ** 2
        opt.zero_grad(set_to_none=True)
        if loss.requires_grad:  # a dense step with a frozen backbone has nothing to train
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        run_loss += loss.item()
        run_n += 1
        if (step + 1) % ckpt_every == 0 or step + 1 == steps:
            wall += time.time() - t0
            t0 = time.time()
            log(logf, f"{tag}: step {step + 1}/{steps} loss {run_loss / run_n:.4f} wall_s {wall:.0f}")
            run_loss, run_n = 0.0, 0
            tmp = ckpt + ".tmp"
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step + 1,
                        "wall": wall, "precision": precision}, tmp)
            os.replace(tmp, ckpt)
            model.train()
    return wall


def save_final(path, model, **meta):
    tmp = path + ".tmp"
    torch.save(dict(model=model.state_dict(), **meta), tmp)
    os.replace(tmp, path)


RESERVED_NAMES = ("dense", "dense-c1", "bank", "dedicated", "latency", "latency-stage", "qat")


def parse_args(stage, argv=None, prog=None):
    """The selector stages share one set of options; some apply to one stage only and are
    refused for the others."""
    doc = importlib.import_module(f"training.stages.{stage}").__doc__
    ap = argparse.ArgumentParser(prog=prog, description=doc.strip().split("\n\n")[0])
    ap.add_argument("--ckpt-dir", required=True)
    ap.add_argument("--data", default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--test-limit", type=int, default=None)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--bs", type=int, default=128)
    ap.add_argument("--lr-bb", type=float, default=2e-5)
    ap.add_argument("--lr-sel", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--sched", default="3:0.7,6:0.7,9:0.7")
    ap.add_argument("--latency-table", default=os.path.join(ARTIFACTS, "latency_table.json"))
    ap.add_argument("--schedule-out", default=None)
    ap.add_argument("--stages", type=int, default=3)
    ap.add_argument("--target", type=float, default=0.58,
                    help="latency-aware stage: expected cycles of the final schedule as a fraction "
                         "of dense (latency table)")
    ap.add_argument("--val", type=int, default=1000)
    ap.add_argument("--keep-cands", default="0.5,0.7")
    ap.add_argument("--progressive", action="store_true")
    ap.add_argument("--kd", type=float, default=1.0,
                    help="weight of the distillation loss from the dense model (0: off)")
    ap.add_argument("--init", default="bank.pt",
                    help="latency and adapt stages: checkpoint (in --ckpt-dir) the stage starts from")
    ap.add_argument("--name", default="adapt",
                    help="adapt stage: output name (NAME.pt, NAME-last.pt in --ckpt-dir)")
    ap.add_argument("--rule", choices=["gumbel", "hard"], default="gumbel",
                    help="training decision rule of the active selectors (net.PrunedDeit.forward)")
    ap.add_argument("--range-w", type=float, default=0.0,
                    help="adapt and qat: weight of the penalty that keeps selector values inside "
                         "their integer formats (net.range_excess); 0 = off")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="bank, adapt, dedicated, latency: bf16 runs the training forward passes "
                         "under bfloat16 autocast (fp32 weights, optimiser and loss); qat is fp32 only")
    ap.add_argument("--dense-every", type=int, default=None,
                    help="adapt stage only: one training step in N is dense, the others run a "
                         "random bank subset; 0 = no dense steps (default 4)")
    ap.add_argument("--p-on", type=float, default=None,
                    help="adapt stage only: probability that a candidate selector is on in a "
                         "random bank subset (default 0.3)")
    ap.add_argument("--mac-band", default=None, metavar="LO,HI",
                    help="adapt stage only: random subsets save between LO and HI of the dense "
                         "MACs (fractions, drawn again until they do); default: any")
    ap.add_argument("--log", default=None)
    a = ap.parse_args(argv)
    a.stage = stage
    if a.stage != "adapt" and (a.dense_every is not None or a.p_on is not None
                               or a.mac_band is not None):
        ap.error(f"--dense-every, --p-on and --mac-band apply to the adapt stage only, "
                 f"not '{a.stage}'")
    if a.mac_band is not None:
        try:
            lo, hi = (float(v) for v in a.mac_band.split(","))
        except ValueError:
            ap.error(f"--mac-band {a.mac_band!r}: must be LO,HI (two fractions)")
        if not 0.0 <= lo < hi <= 1.0:   # also rejects nan
            ap.error(f"--mac-band {a.mac_band}: needs 0 <= LO < HI <= 1")
        a.mac_band = (lo, hi)
    a.dense_every = 4 if a.dense_every is None else a.dense_every
    a.p_on = 0.3 if a.p_on is None else a.p_on
    if a.dense_every < 0:
        ap.error(f"--dense-every {a.dense_every}: must be >= 0")
    if not 0.0 < a.p_on <= 1.0:   # also rejects nan
        ap.error(f"--p-on {a.p_on}: must be in (0, 1]")
    if a.stage == "qat" and a.precision != "fp32":
        ap.error("--precision bf16: the qat stage's fake quantisation must run in fp32")
    if not a.range_w >= 0:   # also rejects nan
        ap.error(f"--range-w {a.range_w}: must be >= 0")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", a.name) or a.name in RESERVED_NAMES:
        ap.error(f"--name {a.name!r}: must be letters, digits, '-' or '_' and not the output of "
                 f"another stage ({', '.join(RESERVED_NAMES)})")
    a.keep_cands = [float(v) for v in a.keep_cands.split(",")]
    if not 0.0 < a.target <= 1.0:
        ap.error(f"--target {a.target} is outside (0, 1]")
    if a.schedule_out is None:
        a.schedule_out = os.path.join(a.ckpt_dir, "schedule-default.json")
    return a


def run_stage(stage, fn, argv=None, prog=None):
    """Parse the stage's options, load the data (and the dense teacher unless --kd 0) and
    run fn(a, xtr, ytr, xte, yte, teacher)."""
    a = parse_args(stage, argv, prog)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load_split("train", a.data, a.limit)
    xte, yte = load_split("t10k", a.data, a.test_limit)
    xtr, ytr = torch.from_numpy(xtr.copy()), torch.from_numpy(ytr)
    xte, yte = torch.from_numpy(xte.copy()), torch.from_numpy(yte)
    teacher = load_dense_teacher(a.ckpt_dir) if a.kd > 0 else None
    fn(a, xtr, ytr, xte, yte, teacher)
