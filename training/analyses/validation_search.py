"""Whole-schedule search on held-out validation images, integer model (measurement).

  python3 -m training validation-search [--min-red 0.40] [--max-red 0.47] [--pick-red 0.41] [--top 5]
               [--out export/valsearch.json]

The latency stage builds its schedule greedily, one selector per stage. This script
instead scores whole schedules of the bank: every single selector at keep 0.2-0.4, every
pair at 0.5-0.7, every triple at 0.6-0.8 and every 4-selector set (gaps >= 2) at
0.8/0.85 whose *expected* MAC reduction (costs.expected_tokens, from the keep rates) lies
in [--min-red, --max-red]. Each runs through `heatvit eval` (the C++ functional model,
bit-exact with training/intref/reference.py, sequential calibration on the export's calibration images) on
the last --val training images, the schedule search's validation set, which the adapt
and later stages held out (stages 1 and 2 trained on them, so validation accuracy is
optimistic and understates the cost of pruning; docs/deit-micro-training.md). Only then are the --top schedules with the best validation
accuracy and an achieved validation MAC reduction >= --pick-red evaluated on the 10k test
images; the first of them is the validation pick. Test accuracy plays no part in the
ranking.
"""
import argparse
import itertools
import os
import struct
import sys
import tempfile
import time

import numpy as np

from training.common import ROOT, command_line, ARTIFACTS, atomic_write_json
from training.data import DEFAULT_DATA, load_split
from training.model.costs import DENSE_MACS, expected_tokens, model_macs
from training.stages import sweep

BLOCKS = range(1, 11)


def candidates(lo, hi):
    c = [[(b, k)] for k in (0.2, 0.3, 0.4) for b in BLOCKS]
    c += [[(b, k) for b in s] for k in (0.5, 0.6, 0.7) for s in itertools.combinations(BLOCKS, 2)]
    c += [[(b, k) for b in s] for k in (0.6, 0.7, 0.8) for s in itertools.combinations(BLOCKS, 3)]
    c += [[(b, k) for b in s] for k in (0.8, 0.85) for s in itertools.combinations(BLOCKS, 4)
          if all(s[i + 1] - s[i] >= 2 for i in range(3))]

    def red(s):
        t, sel = expected_tokens(s)
        return 1 - model_macs(t, sel) / DENSE_MACS
    return [s for s in c if lo <= red(s) <= hi]


def write_val_dir(d, data, n):
    """A dataset directory whose t10k split is the last n training images (train: links)."""
    x, y = load_split("train", data)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        for ext in (".gz", ""):
            p = os.path.join(data, stem + ext)
            if os.path.exists(p):
                os.symlink(os.path.abspath(p), os.path.join(d, stem + ext))
                break
    with open(os.path.join(d, "t10k-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28))
        f.write(np.ascontiguousarray(x[-n:]).tobytes())
    with open(os.path.join(d, "t10k-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, n))
        f.write(y[-n:].astype(np.uint8).tobytes())


def run_eval(exe, weights, sched, data, tmp):
    r = sweep.run_eval(exe, weights, sched, tmp, 2, data)
    return {"accuracy": r["accuracy"], "mac_reduction": r["mac_reduction"]}


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.strip().split("\n\n")[0])
    ap.add_argument("--heatvit", default=os.path.join(ROOT, "build", "bin", "heatvit"))
    ap.add_argument("--weights", default=os.path.join(ARTIFACTS, "export", "deit-micro-int8.hvt"))
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--val", type=int, default=1000)
    ap.add_argument("--min-red", type=float, default=0.40)
    ap.add_argument("--max-red", type=float, default=0.47)
    ap.add_argument("--pick-red", type=float, default=0.41)
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(ARTIFACTS, "export", "valsearch.json"))
    a = ap.parse_args(argv)
    if not os.access(a.heatvit, os.X_OK):
        print(f"{a.heatvit}: heatvit binary not found (run `make build` first)", file=sys.stderr)
        sys.exit(2)
    if not (0 < a.val <= 10000) or not (0 <= a.min_red <= a.max_red < 1) or a.top < 1:
        ap.error("need 0 < --val <= 10000, 0 <= --min-red <= --max-red < 1, --top >= 1")
    t0 = time.time()
    cands = candidates(a.min_red, a.max_red)
    with tempfile.TemporaryDirectory() as tmp:
        vdir = os.path.join(tmp, "val")
        os.mkdir(vdir)
        write_val_dir(vdir, a.data, a.val)   # a bad dataset: DataError, exit 2 in common.cli
        dense_val = run_eval(a.heatvit, a.weights, [], vdir, tmp)
        rows = []
        for s in cands:
            r = run_eval(a.heatvit, a.weights, s, vdir, tmp)
            rows.append({"schedule": [{"block": b, "keep": k} for b, k in s], "val": r})
        print(f"{len(rows)} schedules on {a.val} validation images ({time.time() - t0:.0f} s); "
              f"dense {100 * dense_val['accuracy']:.1f} %", flush=True)
        ranked = sorted((r for r in rows if r["val"]["mac_reduction"] >= a.pick_red),
                        key=lambda r: -r["val"]["accuracy"])[:a.top]
        dense_test = run_eval(a.heatvit, a.weights, [], a.data, tmp)
        for r in ranked:
            r["test"] = run_eval(a.heatvit, a.weights, [(s["block"], s["keep"]) for s in r["schedule"]],
                                 a.data, tmp)
            name = ",".join(f"{s['block']}:{s['keep']}" for s in r["schedule"])
            print(f"{name:>22}: val {100 * r['val']['accuracy']:.1f} % (-{100 * r['val']['mac_reduction']:.1f} % MACs)"
                  f"  test {100 * r['test']['accuracy']:.2f} % (-{100 * r['test']['mac_reduction']:.1f} % MACs, "
                  f"{100 * (r['test']['accuracy'] - dense_test['accuracy']):+.2f} points)", flush=True)
    out = {"command": command_line(prog, "validation-search", argv),
           "evaluator": "heatvit eval (C++ functional model, bit-exact with the integer reference, training/intref/reference.py)",
           "weights": os.path.relpath(a.weights, ROOT), "validation_images": a.val,
           "expected_mac_reduction_window": [a.min_red, a.max_red], "pick_min_mac_reduction": a.pick_red,
           "dense": {"val": dense_val, "test": dense_test}, "pick": ranked[0] if ranked else None,
           "top_by_validation": ranked, "all": rows, "wall_s": round(time.time() - t0, 1)}
    atomic_write_json(a.out, out)
    print(f"wrote {a.out} ({out['wall_s']} s)")
