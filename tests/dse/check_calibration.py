#!/usr/bin/python3
"""The committed residual table (results/calibration/residuals.json) is what the
committed presets give today: re-times configs/hw/*-published.json with
`heatvit calibrate --evaluate` and compares every figure row (published value, ours by
SystemC and by the analytic model, residual, within) with the committed one.

  check_calibration.py HEATVIT SOURCE_DIR OUT_DIR
"""
import json
import os
import shutil
import subprocess
import sys


def same(x, y):
    """Equal, numbers within 1e-9 relative (another compiler may round differently)."""
    if isinstance(x, float) or isinstance(y, float):
        return (isinstance(x, (int, float)) and isinstance(y, (int, float))
                and abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1e-300))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(same(p, q) for p, q in zip(x, y))
    return x == y


def main(argv):
    hv, src, out = argv[1], argv[2], argv[3]
    shutil.rmtree(out, ignore_errors=True)
    cmd = [hv, "calibrate", "--evaluate", "--space", os.path.join(src, "configs/calibrate/zcu102.json"),
           "--presets-dir", os.path.join(src, "configs/hw"), "--out", out, "--no-plot", "-q"]
    subprocess.run(cmd, check=True)
    new = json.load(open(os.path.join(out, "residuals.json")))
    old = json.load(open(os.path.join(src, "results/calibration/residuals.json")))
    keys = ["id", "model", "published", "ours", "ours_analytic", "residual", "within", "fit", "tolerance"]
    a = [{k: r.get(k) for k in keys} for r in old["figures"]]
    b = [{k: r.get(k) for k in keys} for r in new["figures"]]
    if not same(a, b):
        for x, y in zip(a, b):
            if x != y:
                print("committed:   ", x, "\nregenerated: ", y)
        if len(a) != len(b):
            print(f"{len(a)} committed rows, {len(b)} regenerated")
        print("FAIL: results/calibration/residuals.json is not what the committed presets give; regenerate it "
              "with the command in docs/validation.md")
        return 1
    if not same(old["presets"], new["presets"]):
        print("FAIL: preset resources or latencies differ:", old["presets"], new["presets"])
        return 1
    print(f"ok: {len(b)} rows, {new['fitted_within_tolerance']} of {new['fitted_rows']} fitted rows within tolerance")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
