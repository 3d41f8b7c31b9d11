#!/usr/bin/python3
"""CI check of bit-exactness independent of the training run: export a randomly
initialised deit-micro (selector bank included) with the project's own export code
(training/export/quantize.py: quantization and threshold tables), then compare
`heatvit eval` with the integer reference (training/intref/reference.py) on the first 16 test images, dense and three schedules
(scripts/check_bitexact.py). Exit 77 (skipped) without the Fashion-MNIST files."""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)   # the training package


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--heatvit", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--images", type=int, default=16)
    a = ap.parse_args()
    from training.data import DEFAULT_DATA
    if not os.path.exists(os.path.join(DEFAULT_DATA, "t10k-images-idx3-ubyte.gz")):
        print("Fashion-MNIST not installed: skipped")
        return 77
    import numpy as np
    import torch
    from training.export import quantize as export
    from training.intref import fast as intref_fast
    from training import hvt
    from training.intref import reference as intref
    from training.data import load_split
    from training.model.pruned import PrunedDeit, QCtx

    torch.manual_seed(11)
    torch.set_num_threads(1)
    model = PrunedDeit()
    with torch.no_grad():  # spread the selector scores (untrained selectors score alike)
        for p in model.selectors.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    model.eval()
    x, _ = load_split("train", None, 128)
    xt = torch.from_numpy(x.copy())
    sched = [(2, 0.7), (5, 0.6), (8, 0.5)]
    qc = QCtx("calib")
    with torch.no_grad():
        model(xt, qc=qc, probe=True)
        model(xt, sched=sched, qc=qc)
    intref_fast.enable()
    T, meta = export.quantize(model, qc.finish_calib())
    tabs = export.calibrate_tables(intref.IntModel(T, meta), x[:64])
    for b, row in tabs.items():
        T[f"s{b}.thr"] = row
    T["calib.index"] = np.arange(64, dtype=np.int32)
    os.makedirs(a.work, exist_ok=True)
    w = os.path.join(a.work, "deit-micro-int8.hvt")
    hvt.write(w, "deit-micro-int8", meta, T)
    scheds = []
    for name, s in (("default", sched), ("all", [(b, 0.9) for b in range(1, 11)]),
                    ("low", [(1, 0.1), (6, 0.5), (10, 1.0)])):
        p = os.path.join(a.work, f"schedule-{name}.json")
        with open(p, "w") as f:
            json.dump({"selectors": [{"block": b, "keep": k} for b, k in s], "note": "random export"}, f)
        scheds += ["--schedule", p]
    cmd = [sys.executable, os.path.join(ROOT, "scripts", "check_bitexact.py"), "--heatvit", a.heatvit,
           "--weights", w, "--limit", str(a.images)] + scheds
    return subprocess.run(cmd).returncode


if __name__ == "__main__":
    sys.exit(main())
