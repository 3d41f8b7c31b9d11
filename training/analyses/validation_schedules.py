"""Float accuracy of a few schedules for one or more checkpoints (measurement).

  python3 -m training validation-schedules CKPT [CKPT ...] [--split val|test] [--limit N] [--sched S [--sched S ...]]

val: the last 1,000 training images (the schedule search's validation set), thresholds
calibrated sequentially on those same images (model/evaluation.py seq_thresholds), as the
schedule search does. test: the first --limit test images, thresholds calibrated on the
first 1,000 training images. Checkpoints may be stage outputs or `*-last.pt` files.
"""
import argparse

import numpy as np
import torch

from training.data import load_split
from training.model.evaluation import build_model, evaluate, seq_thresholds
from training.model.schedules import parse_sched, schedule_macs

SCHEDULES = ["", "6:0.5", "3:0.6,6:0.6,9:0.6", "1:0.8,3:0.8,5:0.8,7:0.8,9:0.8", "2:0.7,5:0.7,8:0.7",
             "3:0.7,4:0.8,5:0.6", "3:0.5,6:0.5,9:0.5"]


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.strip().split("\n\n")[0])
    ap.add_argument("ckpts", nargs="+")
    ap.add_argument("--split", choices=["val", "test"], default="val")
    ap.add_argument("--limit", type=int, default=2000)
    ap.add_argument("--data", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sched", action="append", default=None,
                    help="a schedule such as 4:0.6,5:0.6,7:0.6 ('' = dense); repeatable; "
                         "default: the fixed list SCHEDULES")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    xtr, ytr = load_split("train", a.data)
    if a.split == "val":
        x, y = torch.from_numpy(xtr[-1000:].copy()), torch.from_numpy(ytr[-1000:])
        cal = x
    else:
        xte, yte = load_split("t10k", a.data, a.limit)
        x, y = torch.from_numpy(xte.copy()), torch.from_numpy(yte)
        cal = torch.from_numpy(xtr[:1000].copy())
    dense = schedule_macs(np.full(12, 50.0), [])
    for path in a.ckpts:
        model, ck = build_model(path)
        if "step" in ck:   # a *-last.pt training checkpoint holds the whole state_dict
            model.load_state_dict(ck["model"])
        for s in a.sched if a.sched is not None else SCHEDULES:
            sc = parse_sched(s)
            acc, toks = evaluate(model, x, y, sched=sc, thresholds=seq_thresholds(model, cal, sc) if sc else None)
            print(f"{path}: {s or 'dense'}: {100 * acc:.2f} % ({100 * (1 - schedule_macs(toks, sc) / dense):.1f} % fewer MACs)",
                  flush=True)
