"""Which part of the selectors loses accuracy when fake-quantised (measurement).

  python3 -m training selector-quantization [--ckpt CK/latency.pt] [--fracs CK/qat-fracs.json]
              [--schedule default|B:K,...] [--limit 1000]

The backbone runs in float; each row fake-quantises one part of every selector
(net.SEL_PARTS: LayerNorm output, the four per-head layers with their pre-GELU Q10 and
8-bit outputs (l4: weight and the Q8 head delta), the head-importance path m / hb1 /
hb2, the final Q8 score), with the activation fractions of the QAT stage. Thresholds are
calibrated sequentially in the same mode on the first 1,000 training images; accuracy
on the first --limit test images. docs/deit-micro-training.md (stage 2b) quotes it.
"""
import argparse
import json
import os
import sys

import torch

from training.common import ARTIFACTS
from training.data import load_split
from training.model.pruned import QCtx, SEL_PARTS
from training.model.evaluation import build_model, evaluate, seq_thresholds
from training.model.schedules import load_sched_json, parse_sched


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.strip().split("\n\n")[0])
    ap.add_argument("--ckpt", default=os.path.join(ARTIFACTS, "checkpoints", "latency.pt"))
    ap.add_argument("--fracs", default=os.path.join(ARTIFACTS, "checkpoints", "qat-fracs.json"))
    ap.add_argument("--schedule", default="default")
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--data", default=None)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    for f in (a.ckpt, a.fracs):
        if not os.path.exists(f):
            print(f"selector-quantization: {f}: no such file", file=sys.stderr)
            sys.exit(2)
    sched = (load_sched_json(os.path.join(ARTIFACTS, "export", "schedule-default.json"))
             if a.schedule == "default" else parse_sched(a.schedule))
    qq = QCtx("qat", json.load(open(a.fracs)))
    model, _ = build_model(a.ckpt)
    xtr, _ = load_split("train", a.data)
    xte, yte = load_split("t10k", a.data, a.limit)
    cal = torch.from_numpy(xtr[:1000].copy())
    x, y = torch.from_numpy(xte.copy()), torch.from_numpy(yte)
    rows = [()] + [(p,) for p in SEL_PARTS] + [("m", "hb1", "hb2"), ("ln", "l1", "l2", "l3", "l4"), SEL_PARTS]
    for parts in rows:
        for s in model.selectors.values():
            s.qpart = (set(parts), qq)
        th = seq_thresholds(model, cal, sched)
        acc, _ = evaluate(model, x, y, sched=sched, thresholds=th)
        print(f"{'+'.join(parts) or 'float':>28}: {100 * acc:.1f} %  thresholds "
              + ", ".join(f"{b}: {t:.1f}" for b, t in sorted(th.items())), flush=True)
