"""Stage 0 (optional): a small convolutional teacher for the dense stage's distillation.

DeiT (Touvron et al., ICML 2021, section 5) trains its ViTs with a convnet teacher: the
student learns the teacher's decisions on the same augmented images, and the convnet's
inductive bias makes the ViT more data-efficient. deit-micro has no distillation token
(its shape is fixed, the simulator relies on it), so `python3 -m training dense --teacher` applies
the teacher through the CLS head (DeiT's hard distillation without a distillation token,
their Table 3 "hard distillation, class token").

The teacher is used only in training: it is not exported and never runs on the
accelerator. Seeded and resumable like the other stages.
"""
import argparse
import math
import os
import time

import torch
import torch.nn.functional as F

from training.common import load_ckpt, log
from training.data import load_split
from training.model.teacher import ConvTeacher
from training.stages.step import augment, evaluate, warmup_cosine


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.strip().split("\n\n")[0])
    ap.add_argument("--ckpt-dir", required=True)
    ap.add_argument("--data", default=None)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--test-limit", type=int, default=None)
    ap.add_argument("--bs", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=5e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log", default=None)
    a = ap.parse_args(argv)
    if a.epochs < 1 or a.bs < 1 or a.lr <= 0:
        ap.error("--epochs and --bs must be at least 1 and --lr positive")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.ckpt_dir, exist_ok=True)
    out_path = os.path.join(a.ckpt_dir, "teacher.pt")
    last_path = os.path.join(a.ckpt_dir, "teacher-last.pt")
    xtr, ytr = load_split("train", a.data, a.limit)
    xte, yte = load_split("t10k", a.data, a.test_limit)
    xtr, ytr = torch.from_numpy(xtr.copy()), torch.from_numpy(ytr)
    xte, yte = torch.from_numpy(xte.copy()), torch.from_numpy(yte)

    model = ConvTeacher()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.wd)
    spe = math.ceil(len(xtr) / a.bs)
    total, warm = a.epochs * spe, max(1, spe // 4)

    start, wall = 0, 0.0
    if os.path.exists(last_path):
        ck = load_ckpt(last_path, "opt")
        model.load_state_dict(ck["teacher"])
        opt.load_state_dict(ck["opt"])
        start, wall = ck["epoch"], ck["wall"]
        log(a.log, f"teacher: resumed from {last_path} at epoch {start}")
    step = start * spe
    for ep in range(start, a.epochs):
        t0 = time.time()
        model.train()
        gen = torch.Generator().manual_seed(a.seed * 1000 + ep)
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(spe):
            idx = perm[i * a.bs:(i + 1) * a.bs]
            xb, yb = augment(xtr[idx], gen), ytr[idx]
            for g in opt.param_groups:
                g["lr"] = warmup_cosine(step, a.lr, warm, total)
            loss = F.cross_entropy(model(xb), yb, label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        dt = time.time() - t0
        wall += dt
        acc = evaluate(model, xte, yte)
        log(a.log, f"teacher: epoch {ep + 1}/{a.epochs} test_acc {acc:.4f} epoch_s {dt:.0f} "
                   f"total_s {wall:.0f}")
        tmp = last_path + ".tmp"
        torch.save({"teacher": model.state_dict(), "opt": opt.state_dict(), "epoch": ep + 1,
                    "wall": wall}, tmp)
        os.replace(tmp, last_path)
    acc = evaluate(model, xte, yte)
    tmp = out_path + ".tmp"
    torch.save({"teacher": model.state_dict(), "test_acc": acc, "wall": wall}, tmp)
    os.replace(tmp, out_path)
    log(a.log, f"teacher: done test_acc {acc:.4f} wall_s {wall:.0f}")
