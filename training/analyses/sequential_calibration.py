"""Per-schedule sequential calibration versus the stored table rule (measurement).

  python3 -m training sequential-calibration [--test-limit 1000] [--out models/deit-micro/export/seqcal.json]

`heatvit eval` and the exported masks use the sequential rule; this script shows what it
buys over the stored tables. The stored tables (export/quantize.py calibrate_tables) map a selector's *cumulative* keep rate to
a threshold measured in a dense pass. In a multi-selector schedule the later selectors'
scores shift once earlier selectors have removed tokens, so the table over-prunes them.
This script calibrates a schedule sequentially instead: selector by selector, with the
earlier selectors active at their already calibrated thresholds, the threshold keeping
the asked fraction of the tokens that reach the selector (same quantile rule,
export.quantile_threshold), on the same training images as the tables (calib.index). Both rules
are then evaluated with the integer reference on the first test images.
"""
import argparse
import os
import sys
import time

from training.intref import fast as intref_fast
from training.intref import reference as intref
from training import hvt
from training.common import command_line, ARTIFACTS, atomic_write_json
from training.data import DataError, load_split
from training.export.calibration import calibration_images, sequential_thresholds, table_thresholds
from training.stages.evaluate import int_eval

SCHEDULES = {
    "3-6-9@0.7": [(3, 0.7), (6, 0.7), (9, 0.7)],
    "3-6-9@0.6": [(3, 0.6), (6, 0.6), (9, 0.6)],
    "2-5-8@0.7": [(2, 0.7), (5, 0.7), (8, 0.7)],
}


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.strip().split("\n\n")[0])
    ap.add_argument("--weights", default=os.path.join(ARTIFACTS, "export", "deit-micro-int8.hvt"))
    ap.add_argument("--test-limit", type=int, default=1000)
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", default=os.path.join(ARTIFACTS, "export", "seqcal.json"))
    a = ap.parse_args(argv)
    intref_fast.enable()
    t0 = time.time()
    try:
        im = intref.load(a.weights)
        xte, yte = load_split("t10k", a.data, a.test_limit)
        cal = calibration_images(im, a.data)      # the tables' calibration images
    except (hvt.HvtError, DataError, ValueError) as e:   # messages name the file
        print(f"sequential-calibration: {e}", file=sys.stderr)
        sys.exit(2)
    dense = int_eval(im, xte, yte, [])
    rows = []
    for name, sched in SCHEDULES.items():
        r = {"name": name, "schedule": [{"block": b, "keep": k} for b, k in sched]}
        for rule, th in (("table", table_thresholds(im, sched)),
                         ("sequential", sequential_thresholds(im, cal, sched))):
            e = int_eval(im, xte, yte, th)
            e["thresholds"] = {str(b): int(t) for b, t in th}
            e["mac_reduction"] = 1 - e["macs_per_image"] / dense["macs_per_image"]
            r[rule] = e
            print(f"{name:>10} {rule:>10}: acc {100 * e['accuracy']:.2f} %  -{100 * e['mac_reduction']:.1f} % MACs  "
                  f"keep {[round(v, 2) for v in e['achieved_keep'].values()]}", flush=True)
        rows.append(r)
    out = {"command": command_line(prog, "sequential-calibration", argv),
           "test_images": int(len(xte)), "calibration_images": int(len(cal)),
           "dense_int8_accuracy": dense["accuracy"], "schedules": rows,
           "wall_s": round(time.time() - t0, 1)}
    atomic_write_json(a.out, out)
    print(f"wrote {a.out} ({out['wall_s']} s)")
