"""How much a checkpoint leans on its background patch tokens (measurement).

  python3 -m training background [--ckpts dense.pt,bank.pt,adapt.pt] [--val 1000] [--out models/deit-micro/export/background.json]

Fashion-MNIST images have a black background: about 31 % of the 4x4 patches of the
training images are all zero. A model that only uses the garment should lose little when
those tokens go. This script replaces every selector by a fixed, training-free score (the
pixel standard deviation of the patch plus its mean brightness, so all-zero patches rank
last) and keeps the top-k patch tokens by it (DynamicViT-style, pruned tokens dropped),
for a few schedules, on the last --val training images (the schedule search's
validation set). It does the same with the checkpoint's own trained selectors for
comparison. Float PyTorch models; no test images are used.
"""
import argparse
import os

import numpy as np
import torch

from training.common import command_line, ARTIFACTS, atomic_write_json
from training.data import load_split
from training.model.shape import CANDIDATE_BLOCKS
from training.model.evaluation import build_model
from training.model.schedules import parse_sched, schedule_macs

SCHEDULES = ["1:0.6", "6:0.5", "3:0.6,6:0.6,9:0.6", "1:0.8,3:0.8,5:0.8,7:0.8,9:0.8"]


class PixelScore(torch.nn.Module):
    """Stands in for a selector: the score of a patch token is a function of its pixels."""
    current = None

    def forward(self, xp, keep, qc, name):  # signature of net.Selector.forward
        return PixelScore.current


def raw_patches(xb):
    """uint8 images [B,28,28] -> raw pixel patches [B,49,16] (model.patchify's layout,
    without its normalisation)."""
    return xb.float().view(-1, 7, 4, 7, 4).permute(0, 1, 3, 2, 4).reshape(-1, 49, 16)


def pixel_score(xb):
    p = raw_patches(xb)
    # + a tiny position term so that ties (all-zero patches) break deterministically
    return p.std(-1) + p.mean(-1) / 255.0 + 1e-3 * torch.arange(49).float()


@torch.no_grad()
def topk_eval(model, x, y, sched, pixel, bs=250):
    model.eval()
    ks, cum = {}, 49.0
    for b, k in sched:
        cum *= k
        ks[b] = max(1, int(round(cum)))
    correct, toks = 0, np.zeros(12)
    for i in range(0, len(x), bs):
        xb = x[i:i + bs]
        if pixel:
            PixelScore.current = pixel_score(xb)
        out, aux = model(xb, topk=ks, return_aux=True)
        correct += (out.argmax(-1) == y[i:i + bs]).sum().item()
        toks += np.array(aux["tokens"]) * len(xb)
    toks /= len(x)
    dense = schedule_macs(np.full(12, 50.0), [])
    return correct / len(x), float(1 - schedule_macs(toks, sched) / dense)


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.strip().split("\n\n")[0])
    ap.add_argument("--ckpt-dir", default=os.path.join(ARTIFACTS, "checkpoints", "bf16"),
                    help="checkpoint directory (default: the bf16 recipe's, the export's)")
    ap.add_argument("--ckpts", default="dense.pt,bank.pt,adapt.pt",
                    help="checkpoints in --ckpt-dir; missing ones are skipped (all missing: exit 2)")
    ap.add_argument("--val", type=int, default=1000)
    ap.add_argument("--data", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ARTIFACTS, "export", "background.json"))
    a = ap.parse_args(argv)
    names = a.ckpts.split(",")
    if not any(os.path.exists(os.path.join(a.ckpt_dir, n)) for n in names):
        raise FileNotFoundError(f"{a.ckpt_dir}: none of the checkpoints {a.ckpts} found "
                                "(--ckpt-dir, --ckpts); nothing written")
    torch.set_num_threads(a.threads)
    xtr, ytr = load_split("train", a.data)
    x, y = torch.from_numpy(xtr[-a.val:].copy()), torch.from_numpy(ytr[-a.val:])
    p = raw_patches(x)
    R = {"images": int(len(x)), "zero_patch_fraction": float((p.abs().sum(-1) == 0).float().mean()),
         "command": command_line(prog, "background", argv),
         "checkpoints": {}}
    print(f"all-zero patch tokens: {100 * R['zero_patch_fraction']:.1f} %")
    for name in names:
        if not os.path.exists(os.path.join(a.ckpt_dir, name)):
            print(f"{name}: not found in {a.ckpt_dir}, skipped")
            continue
        model, ck = build_model(os.path.join(a.ckpt_dir, name))
        trained = any(k.startswith("selectors.") for k in ck["model"])
        own = {}
        for s in SCHEDULES if trained else []:  # a dense checkpoint has no selectors
            acc, red = topk_eval(model, x, y, parse_sched(s), pixel=False)
            own[s] = {"accuracy": acc, "mac_reduction": red}
        for b in CANDIDATE_BLOCKS:
            model.selectors[str(b)] = PixelScore()
        dense_acc, _ = topk_eval(model, x, y, [], pixel=True)
        pix = {}
        for s in SCHEDULES:
            acc, red = topk_eval(model, x, y, parse_sched(s), pixel=True)
            pix[s] = {"accuracy": acc, "mac_reduction": red}
            mine = f", own selectors top-k {100 * own[s]['accuracy']:.1f} %" if s in own else ""
            print(f"{name}: {s}: pixel top-k {100 * acc:.1f} %{mine} ({100 * red:.1f} % fewer "
                  f"MACs; dense {100 * dense_acc:.1f} %)")
        R["checkpoints"][name] = {"dense": dense_acc, "pixel_topk": pix, "selector_topk": own}
    atomic_write_json(a.out, R)
