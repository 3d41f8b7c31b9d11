"""Stage 1: dense float training of deit-micro on Fashion-MNIST (seeded, resumable)."""
import argparse
import math
import os
import sys
import time

import torch

from training.common import load_ckpt, log, check_resume_precision, atomic_write_bytes
from training.data import load_split
from training.model.backbone import DeitMicro, check_backbone_state
from training.stages.step import augment, evaluate, warmup_cosine, train_step


def adopt(a):
    """--from FILE: check that FILE is a finished deit-micro dense checkpoint (every backbone
    tensor with the right shape; test accuracy, epochs and precision recorded, the precision
    that of --precision) and write its bytes, unchanged, as NAME.pt in --ckpt-dir
    (atomically; an existing NAME.pt is refused)."""
    src = a.from_
    out_path = os.path.join(a.ckpt_dir, a.name + ".pt")
    if os.path.exists(out_path):
        raise ValueError(f"{out_path}: exists; --from does not overwrite a checkpoint")
    try:
        with open(src, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{src}: checkpoint not found") from None
    ck = load_ckpt(src, data=data)   # the bytes checked are the bytes written
    check_backbone_state(ck["model"], src)
    for field in ("test_acc", "precision", "epochs"):
        if field not in ck:
            raise ValueError(f"{src}: field '{field}' missing: not a finished dense checkpoint "
                             "(the dense stage writes it at the end of a run)")
    if not isinstance(ck["test_acc"], float) or not 0.0 <= ck["test_acc"] <= 1.0:
        raise ValueError(f"{src}: field 'test_acc' is {ck['test_acc']!r}, not a fraction")
    if not isinstance(ck["epochs"], int) or ck["epochs"] < 1:
        raise ValueError(f"{src}: field 'epochs' is {ck['epochs']!r}, not a positive integer")
    if ck["precision"] != a.precision:
        raise ValueError(f"{src}: field 'precision' is {ck['precision']!r}, not --precision "
                         f"{a.precision} (the recipe of this checkpoint directory)")
    wall = ck.get("wall", 0.0)
    wall = float(wall) if isinstance(wall, (int, float)) else 0.0
    atomic_write_bytes(out_path, data)
    log(a.log, f"dense: '{a.name}' from {src} (not trained here: test_acc {ck['test_acc']:.4f}, "
               f"{ck['epochs']} epochs, precision {ck['precision']}, wall_s {wall:.0f})")


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.strip().split("\n\n")[0])
    ap.add_argument("--ckpt-dir", required=True)
    ap.add_argument("--data", default=None)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    ap.add_argument("--test-limit", type=int, default=None)
    ap.add_argument("--bs", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--warmup", type=float, default=0.5, help="warm-up epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (timing/smoke)")
    ap.add_argument("--log", default=None)
    ap.add_argument("--init", default=None,
                    help="start a new cosine cycle from this dense checkpoint's weights "
                         "(fresh optimiser state; warm restart)")
    ap.add_argument("--name", default="dense",
                    help="checkpoint stem: writes NAME.pt and resumes from NAME-last.pt")
    ap.add_argument("--teacher", default=None,
                    help="convolutional teacher checkpoint (python3 -m training teacher): hard distillation "
                         "through the CLS head, DeiT-style")
    ap.add_argument("--distill-w", type=float, default=0.5,
                    help="weight of the teacher's labels in the loss (the true labels get 1 - w)")
    ap.add_argument("--eval-every", type=int, default=1,
                    help="evaluate on the test set every N epochs (and after the last)")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="bf16: matrix products in bfloat16 under autocast (fp32 weights, optimiser "
                         "and loss); about 4x faster on CPUs with AVX-512 BF16 or AMX "
                         "(docs/deit-micro-training.md)")
    ap.add_argument("--from", dest="from_", default=None, metavar="FILE",
                    help="do not train: take the finished dense checkpoint FILE (for example "
                         "backbones/dense-bf16.pt) as NAME.pt in --ckpt-dir, after checking it")
    a = ap.parse_args(argv)
    if a.from_:
        if a.init or a.teacher:
            ap.error("--from takes a finished checkpoint: --init and --teacher do not apply")
        return adopt(a)
    if not 0.0 <= a.distill_w <= 1.0:
        ap.error(f"--distill-w {a.distill_w}: must lie in [0, 1]")
    if a.epochs < 1 or a.bs < 1 or a.eval_every < 1:
        ap.error("--epochs, --bs and --eval-every must be at least 1")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.ckpt_dir, exist_ok=True)
    out_path = os.path.join(a.ckpt_dir, a.name + ".pt")
    last_path = os.path.join(a.ckpt_dir, a.name + "-last.pt")

    xtr, ytr = load_split("train", a.data, a.limit)
    xte, yte = load_split("t10k", a.data, a.test_limit)
    xtr, ytr = torch.from_numpy(xtr.copy()), torch.from_numpy(ytr)
    xte, yte = torch.from_numpy(xte.copy()), torch.from_numpy(yte)

    teacher = None
    # provenance of the distillation, kept in every checkpoint: a resumed run must use the same
    tinfo = (os.path.basename(a.teacher), a.distill_w) if a.teacher else None
    if a.teacher:
        from training.model.teacher import load_teacher
        teacher = load_teacher(a.teacher)
        log(a.log, f"dense: hard distillation from {a.teacher} (weight {a.distill_w})")
    model = DeitMicro()
    prior_wall = 0.0
    if a.init:
        try:
            ck = load_ckpt(a.init)
            sd = ck["model"]
            check_backbone_state(sd, a.init)
        except (OSError, KeyError, TypeError, ValueError) as e:
            print(f"error: {a.init}: cannot start a new cycle from this dense checkpoint: {e}",
                  file=sys.stderr)
            sys.exit(2)
        model.load_state_dict(sd)
        prior_wall = float(ck.get("wall", 0.0))
        log(a.log, f"dense: new cycle '{a.name}' from {a.init} (test_acc {ck.get('test_acc')})")
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.wd)
    steps_per_epoch = math.ceil(len(xtr) / a.bs)
    total = a.epochs * steps_per_epoch
    warm = int(a.warmup * steps_per_epoch)

    start_epoch, wall = 0, 0.0
    if os.path.exists(last_path):
        ck = load_ckpt(last_path, "opt")
        if ck.get("teacher") != tinfo:
            raise ValueError(f"{last_path}: written with teacher {ck.get('teacher')}, this run asks for "
                             f"{tinfo} (same --teacher/--distill-w, or another --name)")
        check_resume_precision(ck, last_path, a.precision, "same --precision, or another --name")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        start_epoch, wall = ck["epoch"], ck["wall"]
        log(a.log, f"dense: resumed from {last_path} at epoch {start_epoch}")
    if a.precision != "fp32":
        log(a.log, f"dense: {a.precision} matrix products (autocast)")

    step = start_epoch * steps_per_epoch
    for ep in range(start_epoch, a.epochs):
        t0 = time.time()
        model.train()
        gen = torch.Generator().manual_seed(a.seed * 1000 + ep)
        perm = torch.randperm(len(xtr), generator=gen)
        tl, tc, n = 0.0, 0, 0
        for i in range(steps_per_epoch):
            idx = perm[i * a.bs:(i + 1) * a.bs]
            xb = augment(xtr[idx], gen)
            yb = ytr[idx]
            for g in opt.param_groups:
                g["lr"] = warmup_cosine(step, a.lr, warm, total)
            loss, out = train_step(model, opt, xb, yb, a.precision, teacher, a.distill_w)
            step += 1
            tl += loss.item() * len(idx)
            tc += (out.argmax(-1) == yb).sum().item()
            n += len(idx)
            if a.max_steps and step >= a.max_steps:
                dt = time.time() - t0
                log(a.log, f"dense: {step} steps in {dt:.1f}s ({dt / step:.3f} s/step, "
                           f"{dt / step * steps_per_epoch / 60:.1f} min/epoch est.)")
                return
        dt = time.time() - t0
        wall += dt
        acc = None
        if (ep + 1) % a.eval_every == 0 or ep + 1 == a.epochs:
            acc = evaluate(model, xte, yte)
        log(a.log, f"dense: epoch {ep + 1}/{a.epochs} loss {tl / n:.4f} train_acc {tc / n:.4f} "
                   f"test_acc {'-' if acc is None else f'{acc:.4f}'} epoch_s {dt:.0f} total_s {wall:.0f}")
        tmp = last_path + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": ep + 1,
                    "wall": wall, "teacher": tinfo, "precision": a.precision}, tmp)
        os.replace(tmp, last_path)
    if start_epoch >= a.epochs:     # resumed after the last epoch: nothing evaluated above
        acc = evaluate(model, xte, yte)
    tmp = out_path + ".tmp"
    torch.save({"model": model.state_dict(), "test_acc": acc, "wall": wall + prior_wall,
                "epochs": a.epochs, "precision": a.precision,
                "teacher": tinfo}, tmp)
    os.replace(tmp, out_path)
    log(a.log, f"dense: done '{a.name}' test_acc {acc:.4f} wall_s {wall:.0f}"
               + (f" (with earlier cycles {wall + prior_wall:.0f})" if a.init else ""))
