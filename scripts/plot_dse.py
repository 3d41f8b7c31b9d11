#!/usr/bin/python3
"""pareto.png of a `heatvit dse` run: every evaluated candidate (validation accuracy
vs analytic mean latency, colour = DSPs), the front, the winner and the baselines
(trained default, SPViT-style 3/6/9, greedy) at their test-set values.

  plot_dse.py DIR OUT.png     (DIR holds points.csv, front.json, winner.json)
"""
import csv
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    d, out = argv[1], argv[2]
    with open(os.path.join(d, "points.csv")) as f:
        rows = [r for r in csv.DictReader(f) if r["fits"] == "1"]
    front = json.load(open(os.path.join(d, "front.json")))
    winner = json.load(open(os.path.join(d, "winner.json")))
    has_acc = any(r["accuracy_val"] for r in rows)
    y_key = "accuracy_val" if has_acc else "macs_per_image"

    def yv(v):
        return 100 * float(v) if has_acc else float(v) / 1e6

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    full = max((int(r["images_val"]) for r in rows), default=1)
    done = [r for r in rows if int(r["images_val"]) == full and r[y_key]]
    part = [r for r in rows if int(r["images_val"]) < full and r[y_key]]
    if part:
        ax.scatter([float(r["latency_ms_mean"]) for r in part], [yv(r[y_key]) for r in part], s=4, c="0.8",
                   label=f"dropped by successive halving ({len(part)}, subset values)")
    if done:
        dsps = [int(r["dsp"]) for r in done]
        if len(set(dsps)) > 1:  # colour = resources when the hardware varies
            sc = ax.scatter([float(r["latency_ms_mean"]) for r in done], [yv(r[y_key]) for r in done], s=8,
                            c=dsps, cmap="viridis", label=f"evaluated in full ({len(done)})")
            fig.colorbar(sc, ax=ax, label="DSP48E2")
        else:
            ax.scatter([float(r["latency_ms_mean"]) for r in done], [yv(r[y_key]) for r in done], s=8,
                       c="tab:cyan", label=f"evaluated in full ({len(done)}; {dsps[0]} DSP48E2)")
    pts = sorted(front["points"], key=lambda p: p["latency_ms_mean"])
    fy = [yv(p[y_key]) for p in pts] if has_acc else [p["macs_per_image"] / 1e6 for p in pts]
    ax.plot([p["latency_ms_mean"] for p in pts], fy, "-o", color="tab:red", ms=4, lw=1.2,
            label="front (validation)")
    if has_acc:
        ax.plot([p["latency_ms_systemc"]["mean"] for p in pts],
                [100 * p["accuracy_test"] for p in pts if p["accuracy_test"] is not None], "s", mfc="none",
                color="tab:red", ms=6, label="front on test (SystemC latency)")
    wm = winner["metrics"]
    if has_acc and wm["accuracy_test"] is not None:
        ax.plot([wm["latency_ms"]["mean"]], [100 * wm["accuracy_test"]], "*", color="gold", mec="k", ms=16,
                label="winner (test, SystemC)")
    markers = {"trained default": ("D", "tab:blue"), "SPViT 3/6/9": ("^", "tab:purple"), "greedy": ("P", "tab:green")}
    seen = set()
    for b in front.get("baselines", []):
        if has_acc and b["accuracy_test"] is None:
            continue
        m, c = markers.get(b["label"], ("x", "k"))
        y = 100 * b["accuracy_test"] if has_acc else b["macs_per_image"] / 1e6
        ax.plot([b["latency_ms_mean_test"]], [y], m, color=c, mec="k", ms=7,
                label=None if b["label"] in seen else b["label"] + " (test)")
        seen.add(b["label"])
    ax.set_xlabel("mean latency per image, ms")
    ax.set_ylabel("accuracy, %" if has_acc else "MMACs per image")
    ax.set_title(f"heatvit dse: {winner['model']}, strategy {winner['strategy']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
