#!/usr/bin/python3
"""The picture of a `heatvit sim` report (`heatvit sim --plot FILE.png` calls it):
per-block latency split into compute and stall cycles (first image), PE and DDR
bandwidth utilization, resources against the device, and the per-image latency
histogram of a multi-image run.

  plot_sim.py DIR OUT.png     (DIR holds report.json)
"""
import json
import os
import sys
from collections import OrderedDict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    r = json.load(open(os.path.join(argv[1], "report.json")))
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), dpi=110)
    # per block: compute and stall cycles, summed over the block's layers
    blocks = OrderedDict()
    depth = len(r["tokens"])
    for layer in r["layers"]:
        b = layer["block"]
        key = "stem" if b < 0 else ("head" if b >= depth else str(b))
        c, s = blocks.get(key, (0, 0))
        blocks[key] = (c + layer["compute_cycles"], s + layer["stall_cycles"])
    ax = axes[0][0]
    names = list(blocks)
    comp = [blocks[k][0] / 1e3 for k in names]
    stall = [blocks[k][1] / 1e3 for k in names]
    ax.bar(names, comp, color="tab:blue", label="compute")
    ax.bar(names, stall, bottom=comp, color="tab:orange", label="stall (memory)")
    ax.set_xlabel("block")
    ax.set_ylabel("k cycles (first image)")
    ax.set_title("latency per block")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax = axes[0][1]
    u = [100 * r["pe_utilization"], 100 * r["ddr_bandwidth_utilization"]]
    ax.bar(["PE array", "DDR bandwidth"], u, color=["tab:green", "tab:purple"])
    for i, v in enumerate(u):
        ax.text(i, v + 1, f"{v:.1f} %", ha="center", fontsize=9)
    ax.set_ylim(0, 110)
    ax.set_ylabel("utilization, %")
    ax.set_title("utilization (all images)")
    ax = axes[1][0]
    res, dev = r["resources"], r["device"]
    keys = ["dsp", "bram36", "lut", "ff"]
    pct = [100 * res[k] / dev[k] for k in keys]
    ax.barh(keys, pct, color="tab:gray")
    for i, k in enumerate(keys):
        ax.text(pct[i] + 1, i, f"{res[k]:,} / {dev[k]:,}", va="center", fontsize=8)
    ax.set_xlim(0, max(110, max(pct) + 30))
    ax.set_xlabel("% of the device")
    ax.set_title("resources")
    ax = axes[1][1]
    h = r.get("latency_histogram_ms")
    if r["images"] > 1 and h:
        e, c = h["edges"], h["counts"]
        ax.bar(e[:-1], c, width=[e[i + 1] - e[i] for i in range(len(c))] if e[-1] > e[0] else 0.001,
               align="edge", color="tab:cyan", edgecolor="k", lw=0.3)
        lat = r["latency_ms"]
        for name, style in (("mean", "-"), ("p99", "--")):
            ax.axvline(lat[name], color="k", ls=style, lw=1, label=f"{name} {lat[name]:.4f} ms")
        ax.legend(fontsize=8)
        ax.set_xlabel("latency per image, ms")
        ax.set_ylabel("images")
        ax.set_title(f"per-image latency ({r['images']} images)")
    else:
        ax.axis("off")
        ax.text(0.5, 0.5, f"one image: {r['latency_ms']['mean']:.4f} ms\n{r['fps']:.0f} FPS", ha="center",
                va="center", fontsize=12)
    fig.suptitle(f"heatvit sim: {r['model']} on {r['hw']} ({os.path.basename(str(r.get('schedule', '')))}), {r['frequency_mhz']:.0f} MHz",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
