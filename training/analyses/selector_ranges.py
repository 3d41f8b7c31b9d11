"""Largest selector values against their integer formats (measurement).

  python3 -m training selector-ranges CKPT [CKPT ...] [--images 500] [--data DIR]

Runs every selector of the bank on a dense pass (probe) over the first --images training
images and prints, per checkpoint, the largest |pre-GELU value| of the selector MLPs
(`l1`, `l2`, `l3` of both heads and the head-importance `hb1`; the integer model holds
|x| < 32 in int16 Q10, the range penalty starts at net.GELU_IN_LIM) and the largest
|head delta| (int16 Q8 holds |x| < 128, penalty from net.DELTA_LIM).
"""
import argparse

import torch

from training.model import pruned as net
from training.data import load_split
from training.model.evaluation import build_model


@torch.no_grad()
def selector_ranges(model, x, bs=100):
    """{'pre': max |pre-GELU|, 'delta': max |head delta|} over the images x, all selectors."""
    model.eval()
    rec = {}
    for s in model.selectors.values():
        s.range_max = rec
    try:
        for i in range(0, len(x), bs):
            model(x[i:i + bs], probe=True, return_aux=True)
    finally:
        for s in model.selectors.values():
            s.range_max = None
    return rec


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.strip().split("\n\n")[0])
    ap.add_argument("ckpts", nargs="+")
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--data", default=None)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    if a.images < 1:
        ap.error(f"--images {a.images}: must be >= 1")
    torch.set_num_threads(a.threads)
    xtr, _ = load_split("train", a.data, a.images)
    x = torch.from_numpy(xtr.copy())
    for path in a.ckpts:
        r = selector_ranges(build_model(path)[0], x)
        print(f"{path}: max |pre-GELU| {r['pre']:.1f} (limit {net.GELU_IN_LIM}), "
              f"max |head delta| {r['delta']:.1f} (limit {net.DELTA_LIM})", flush=True)
