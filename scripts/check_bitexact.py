#!/usr/bin/python3
"""Bit-exactness of the C++ functional model (`heatvit eval`) against the pure-integer
golden model training/intref/reference.py, image by image, on the Fashion-MNIST test set.

For each schedule (dense and every --schedule given), runs
  heatvit eval --model deit-micro --weights W --schedule S --logits-out L.json --masks-out M.hvt
and intref.IntModel.run on the same images with the thresholds heatvit reports (checked
against training.export.calibration.sched_to_thresholds under the same --calibration rule:
'sequential', the default, calibrates each schedule on the export's calib.index training
images), then compares logits, predictions, tokens per block, and every selector's keep
mask and scores. intref runs with the exact BLAS products of its fast path by default
(bit-identical, see training/intref/fast.py); --pure-int uses NumPy integer products only
(slow). Exit status 0 when everything is identical, 1 otherwise.

  /usr/bin/python3 scripts/check_bitexact.py [--weights W] [--limit N] [--schedule S]...
                                             [--calibration sequential|table]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DM = os.path.join(ROOT, "models", "deit-micro")
sys.path.insert(0, ROOT)   # the training package

from training.intref import fast as intref_fast
from training import hvt
from training.intref import reference as intref
from training.data import load_split
from training.export.calibration import calibration_images, sched_to_thresholds
from training.model.schedules import load_sched_json


def run_heatvit(exe, weights, sched, limit, threads, tmp, calibration):
    lo, mo, ro = (os.path.join(tmp, n) for n in ("l.json", "m.hvt", "r.json"))
    cmd = [exe, "eval", "--model", "deit-micro", "--weights", weights, "--report", ro,
           "--logits-out", lo, "--masks-out", mo, "-q", "--threads", str(threads),
           "--calibration", calibration]
    if sched:
        cmd += ["--schedule", sched]
    if limit:
        cmd += ["--limit", str(limit)]
    t0 = time.time()
    subprocess.run(cmd, check=True)
    dt = time.time() - t0
    _, _, masks = hvt.read(mo, "token-masks")
    return json.load(open(lo)), masks, json.load(open(ro)), dt


def check(im, x, name, sched_path, cpp, masks, bs, rule, cal):
    if sched_path:
        sched = load_sched_json(sched_path)
        th = sched_to_thresholds(im, sched, rule=rule, cal=cal)
    else:
        th = []
    th_cpp = [(t["block"], t["threshold"]) for t in cpp["thresholds"]]
    bad = []
    if th != th_cpp:
        bad.append(f"thresholds differ: intref {th}, heatvit {th_cpp}")
    n = len(x)
    logits, pred, toks = [], [], []
    mk = {b: [] for b, _ in th}
    sc = {b: [] for b, _ in th}
    for i in range(0, n, bs):
        o = intref.IntModel.run(im, x[i:i + bs], th)
        logits.append(o["logits"])
        pred.append(o["pred"])
        toks.append(o["tokens"])
        prev = np.ones((len(o["pred"]), 49), bool)
        for b, _ in th:
            mk[b].append(o["masks"][b])
            s = o["scores"][b].copy()
            s[~prev] = intref.INT32_MIN
            sc[b].append(s)
            prev = o["masks"][b]
    logits, pred, toks = np.concatenate(logits), np.concatenate(pred), np.concatenate(toks)
    cl = np.array(cpp["logits"], dtype=np.int64)
    diff_img = np.flatnonzero((cl != logits).any(1))
    if len(diff_img):
        bad.append(f"logits differ on {len(diff_img)} images, first {diff_img[:10].tolist()}")
    if not np.array_equal(np.array(cpp["pred"]), pred):
        bad.append("predictions differ")
    if not np.array_equal(np.array(cpp["tokens"]), toks):
        bad.append("tokens per block differ")
    for b, _ in th:
        m = np.concatenate(mk[b]).astype(np.uint8)
        if not np.array_equal(masks[f"mask.b{b}"], m):
            bad.append(f"masks of the selector before block {b} differ")
        if not np.array_equal(masks[f"score.b{b}"].astype(np.int64), np.concatenate(sc[b]).astype(np.int64)):
            bad.append(f"scores of the selector before block {b} differ")
    return bad, logits


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default=os.path.join(DM, "export", "deit-micro-int8.hvt"))
    ap.add_argument("--heatvit", default=os.path.join(ROOT, "build", "bin", "heatvit"))
    ap.add_argument("--schedule", action="append", default=None,
                    help="schedule JSON to check besides dense (repeatable; 'default' = "
                         "schedule-default.json next to the weights)")
    ap.add_argument("--limit", type=int, default=None, help="first N test images (default all 10,000)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bs", type=int, default=500)
    ap.add_argument("--pure-int", action="store_true", help="intref with NumPy integer products only")
    ap.add_argument("--calibration", choices=["sequential", "table"], default="sequential",
                    help="how keep rates become thresholds (heatvit eval --calibration)")
    ap.add_argument("--json", default=None, help="write a summary JSON here")
    a = ap.parse_args()
    if not a.pure_int:
        intref_fast.enable()
    default = os.path.join(os.path.dirname(a.weights), "schedule-default.json")
    if a.schedule is None:  # dense, plus the default schedule when there is one
        a.schedule = ["default"] if os.path.exists(default) else []
    scheds = [None] + [default if s == "default" else s for s in a.schedule]
    im = intref.load(a.weights)
    x, _ = load_split("t10k", None, a.limit)
    cal = calibration_images(im) if a.calibration == "sequential" and any(scheds[1:]) else None
    summary = {"weights": a.weights, "images": int(len(x)), "calibration": a.calibration, "intref_products": "numpy-int" if a.pure_int else
               "training.intref.fast (exact float64 BLAS)", "runs": []}
    ok = True
    with tempfile.TemporaryDirectory(prefix="hv-bitexact-") as tmp:
        for s in scheds:
            name = s or "dense"
            cpp, masks, rep, dt = run_heatvit(a.heatvit, a.weights, s, a.limit, a.threads, tmp,
                                              a.calibration)
            t0 = time.time()
            bad, _ = check(im, x, name, s, cpp, masks, a.bs, a.calibration, cal)
            dti = time.time() - t0
            ok = ok and not bad
            summary["runs"].append({"schedule": name, "identical": not bad, "problems": bad,
                                    "accuracy": rep["accuracy"], "tokens_mean": rep["tokens_mean"],
                                    "heatvit_s": round(dt, 2), "intref_s": round(dti, 2)})
            status = "IDENTICAL" if not bad else "DIFFERENT: " + "; ".join(bad)
            print(f"{name}: {len(x)} images: logits, predictions, tokens, masks, scores {status} "
                  f"(accuracy {rep['accuracy']:.4f}; heatvit {dt:.1f} s, intref {dti:.1f} s)", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
