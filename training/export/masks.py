"""Export stage `masks`: the default schedule's integer thresholds (sequential
calibration), its token masks, selector scores, predictions and token counts on the test
set (E/masks-default.hvt), and the reference outputs of the first 16 test images, dense
and on the default schedule (E/reference-outputs.json), that the C++ functional model is
checked against. The fast integer path is checked against the pure one on the way.

  python3 -m training masks --ckpt-dir D --out-dir E
"""
import os

import numpy as np

from training.common import atomic_write_json, log
from training.data import load_split
from training import hvt
from training.export import parse_args
from training.export.calibration import sched_to_thresholds
from training.intref import fast as intref_fast
from training.intref import reference as intref
from training.model.schedules import load_sched_json


def run(a):
    intref_fast.enable()
    im = intref.load(os.path.join(a.out_dir, "deit-micro-int8.hvt"))
    sched = load_sched_json(os.path.join(a.out_dir, "schedule-default.json"))
    th = sched_to_thresholds(im, sched, data=a.data)
    xte, yte = load_split("t10k", a.data, a.test_limit)
    # bit-exactness of the BLAS path on a few images
    o_fast = im.run(xte[:8], th)
    intref_fast.disable()
    o_int = im.run(xte[:8], th)
    intref_fast.enable()
    if not np.array_equal(o_fast["logits"], o_int["logits"]):
        raise RuntimeError("the fast integer path (intref/fast.py) differs from the pure integer path")
    B = len(xte)
    masks = {b: np.zeros((B, 49), np.uint8) for b, _ in th}
    scores = {b: np.full((B, 49), intref.INT32_MIN, np.int32) for b, _ in th}
    preds = np.zeros(B, np.int32)
    toks = np.zeros((B, 12), np.int16)
    for i in range(0, B, 500):
        o = im.run(xte[i:i + 500], th)
        for b, _ in th:
            masks[b][i:i + 500] = o["masks"][b]
            sc = o["scores"][b]
            scores[b][i:i + 500] = sc
        preds[i:i + 500] = o["pred"]
        toks[i:i + 500] = o["tokens"]
    # tokens not reaching a selector (pruned earlier) get INT32_MIN as score
    prev = np.ones((B, 49), bool)
    for b, _ in th:
        scores[b][~prev] = intref.INT32_MIN
        prev = masks[b].astype(bool)
    T = {"labels": yte.astype(np.uint8), "pred": preds, "tokens": toks}
    for b, t in th:
        T[f"mask.b{b}"] = masks[b]
        T[f"score.b{b}"] = scores[b]
    acc = float((preds == yte).mean())
    meta = {"model": "deit-micro", "dataset": "fashion-mnist t10k", "images": int(B),
            "schedule": [{"block": b, "keep": k} for b, k in sched],
            "thresholds": [{"block": b, "threshold": int(t)} for b, t in th],
            "calibration": "sequential",
            "mask_semantics": "mask.bB[i, p] = 1 iff patch token p (absolute index 0..48, "
                              "p = row*7+col) is kept after the selector before block B; "
                              "progressive (a 0 stays 0 at later selectors)",
            "score_semantics": "score.bB = selector score S (Q8 log-odds) of each patch token "
                               "reaching the selector; INT32_MIN for tokens pruned earlier",
            "tokens": "tokens entering each block (CLS and package token included)",
            "accuracy": acc}
    path = os.path.join(a.out_dir, "masks-default.hvt")
    hvt.write(path, "token-masks", meta, T)
    log(a.log, f"export: wrote {path}, int8 accuracy under default schedule {acc:.4f}")
    # reference outputs for the first 16 test images
    intref_fast.disable()
    ref = {"model": "deit-micro-int8.hvt", "images": "fashion-mnist t10k[0:16]",
           "labels": yte[:16].tolist()}
    for name, s in (("dense", []), ("default", th)):
        o = im.run(xte[:16], s)
        ref[name] = {"thresholds": [{"block": b, "threshold": int(t)} for b, t in s],
                     "logits": o["logits"].tolist(), "pred": o["pred"].tolist(),
                     "tokens": o["tokens"].tolist(),
                     "masks": {str(b): [np.flatnonzero(m).tolist() for m in o["masks"][b]]
                               for b, _ in s}}
    atomic_write_json(os.path.join(a.out_dir, "reference-outputs.json"), ref, indent=None)
    log(a.log, "export: wrote reference-outputs.json")


def main(argv=None, prog=None):
    run(parse_args(argv, prog, "masks"))
