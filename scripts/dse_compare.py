#!/usr/bin/python3
"""Compare the fronts of two `heatvit dse` runs of the same space: hypervolume of
(validation accuracy, mean latency) against one common reference point, and the
evaluations each run spent.

  dse_compare.py REFERENCE_RUN_DIR OTHER_RUN_DIR [--json OUT]

The reference point is accuracy 0 and 1.1 x the largest mean latency among the points
evaluated in full by either run (points.csv), so both fronts are measured alike.
"""
import csv
import json
import sys


def load(d):
    front = json.load(open(f"{d}/front.json"))
    summary = json.load(open(f"{d}/summary.json"))
    with open(f"{d}/points.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["fits"] == "1" and r["accuracy_val"]]
    full = max(int(r["images_val"]) for r in rows)
    lat = max(float(r["latency_ms_mean"]) for r in rows if int(r["images_val"]) == full)
    pts = [(p["accuracy_val"], p["latency_ms_mean"]) for p in front["points"]]
    return pts, summary, lat


def hv2(points, ref_lat):
    """Area dominated by (maximize accuracy, minimize latency) points above accuracy 0
    and below ref_lat."""
    pts = sorted((l, a) for a, l in points if l < ref_lat and a > 0)
    area, best = 0.0, 0.0
    # sweep latency from the reference down: the accuracy reached at latency <= x
    xs = [l for l, _ in pts] + [ref_lat]
    for i, (l, a) in enumerate(pts):
        best = max(best, a)
        area += best * (xs[i + 1] - l)
    return area


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    a_pts, a_sum, a_lat = load(argv[1])
    b_pts, b_sum, b_lat = load(argv[2])
    ref = 1.1 * max(a_lat, b_lat)
    ha, hb = hv2(a_pts, ref), hv2(b_pts, ref)
    out = {"reference": {"accuracy": 0.0, "latency_ms_mean": ref},
           "runs": [{"dir": argv[1], "strategy": a_sum["strategy"], "hypervolume": ha, "front_points": len(a_pts),
                     "evaluated_full": a_sum["evaluated_full"], "store_rows": a_sum["store_rows"],
                     "candidates": a_sum["candidates"], "seconds": a_sum["seconds"]},
                    {"dir": argv[2], "strategy": b_sum["strategy"], "hypervolume": hb, "front_points": len(b_pts),
                     "evaluated_full": b_sum["evaluated_full"], "store_rows": b_sum["store_rows"],
                     "candidates": b_sum["candidates"], "seconds": b_sum["seconds"]}],
           "hypervolume_ratio": hb / ha if ha > 0 else None,
           "evaluation_ratio": b_sum["evaluated_full"] / max(1, a_sum["candidates"])}
    print(json.dumps(out, indent=2))
    if len(argv) > 4 and argv[3] == "--json":
        json.dump(out, open(argv[4], "w"), indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
