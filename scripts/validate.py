#!/usr/bin/python3
"""Reproduces the validation figures of docs/validation.md.

For every ImageNet model: the 16-bit baseline without pruning, the INT8 HeatViT
configuration without pruning, and the INT8 configuration with its default schedule,
each simulated by `heatvit sim` (SystemC + DDR4 model, one image). Writes
results/validation/validation.json (with each run's report next to its resolved config),
results/validation/validation.md (the table) and results/validation/speedup.png.

Usage: scripts/validate.py [--heatvit build/bin/heatvit] [--out results/validation]
"""
import argparse
import json
import os
import subprocess
import sys

MODELS = ["deit-tiny", "deit-small", "deit-base", "lvvit-s", "lvvit-m"]
PUBLISHED = {"speedup": (3.46, 4.89), "dsp": (0.08, 0.11), "lut": (0.05, 0.08)}


def sim(hv, model, hw, schedule, out):
    tag = os.path.basename(schedule).replace(".schedule.json", "")
    report = os.path.join(out, f"{model}.{hw}.{tag}.json")
    subprocess.run([hv, "sim", "--model", model, "--hw", hw, "--schedule", schedule,
                    "--report", report, "-q"], check=True)
    with open(report) as f:
        return json.load(f)


def phase_cycles(report):
    out = {}
    for layer in report["layers"]:
        out[layer["phase"]] = out.get(layer["phase"], 0) + layer["cycles"]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--heatvit", default="build/bin/heatvit")
    ap.add_argument("--out", default="results/validation")
    a = ap.parse_args()
    runs = os.path.join(a.out, "runs")
    os.makedirs(runs, exist_ok=True)
    rows = []
    for m in MODELS:
        b = sim(a.heatvit, m, "zcu102-baseline", "dense", runs)
        d = sim(a.heatvit, m, "zcu102-heatvit", "dense", runs)
        p = sim(a.heatvit, m, "zcu102-heatvit", "default", runs)
        rb, rh = b["resources"], p["resources"]
        rows.append({
            "model": m,
            "baseline_ms": b["latency_ms"]["mean"], "int8_dense_ms": d["latency_ms"]["mean"],
            "heatvit_ms": p["latency_ms"]["mean"],
            "speedup": b["latency_ms"]["mean"] / p["latency_ms"]["mean"],
            "speedup_int8": b["latency_ms"]["mean"] / d["latency_ms"]["mean"],
            "speedup_pruning": d["latency_ms"]["mean"] / p["latency_ms"]["mean"],
            "mac_reduction": 1 - p["macs_per_image"] / d["macs_per_image"],
            "baseline_pe_util": b["pe_utilization"], "int8_dense_pe_util": d["pe_utilization"],
            "heatvit_pe_util": p["pe_utilization"],
            "dsp_overhead": rh["dsp"] / rb["dsp"] - 1, "lut_overhead": rh["lut"] / rb["lut"] - 1,
            "analytic_disagreement": {"baseline": b["analytic"]["disagreement"],
                                      "int8_dense": d["analytic"]["disagreement"],
                                      "heatvit": p["analytic"]["disagreement"]},
            "phases_baseline": phase_cycles(b), "phases_int8_dense": phase_cycles(d),
            "phases_heatvit": phase_cycles(p),
            "schedule": p["selector_blocks"],
        })
    # Keep-rate sweep: the same three selector positions as the default schedule,
    # one keep rate for all three, against the 16-bit dense baseline.
    sweep = {}
    for r in rows:
        m = r["model"]
        pts = []
        for keep in [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]:
            path = os.path.join(runs, f"{m}.keep{keep}.schedule.json")
            with open(path, "w") as f:
                json.dump({"selectors": [{"block": b, "keep": keep} for b in r["schedule"]]}, f)
            rep = sim(a.heatvit, m, "zcu102-heatvit", path, runs)
            pts.append({"keep": keep, "ms": rep["latency_ms"]["mean"], "macs": rep["macs_per_image"],
                        "speedup": r["baseline_ms"] / rep["latency_ms"]["mean"],
                        "pruning_speedup": r["int8_dense_ms"] / rep["latency_ms"]["mean"]})
        sweep[m] = pts
    with open(os.path.join(a.out, "validation.json"), "w") as f:
        json.dump({"published": PUBLISHED, "rows": rows, "keep_sweep": sweep}, f, indent=2)

    lines = ["| model | baseline ms | INT8 dense ms | HeatViT ms | speedup | from INT8 | from pruning | MACs removed | PE util (base / INT8 / HeatViT) | DSP | LUT |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['baseline_ms']:.3f} | {r['int8_dense_ms']:.3f} | {r['heatvit_ms']:.3f} | "
                     f"{r['speedup']:.2f}x | {r['speedup_int8']:.2f}x | {r['speedup_pruning']:.2f}x | "
                     f"{100 * r['mac_reduction']:.1f}% | {100 * r['baseline_pe_util']:.0f}% / "
                     f"{100 * r['int8_dense_pe_util']:.0f}% / {100 * r['heatvit_pe_util']:.0f}% | "
                     f"{100 * r['dsp_overhead']:+.1f}% | {100 * r['lut_overhead']:+.1f}% |")
    with open(os.path.join(a.out, "validation.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot (apt-get install python3-matplotlib)", file=sys.stderr)
        return
    fig, ax = plt.subplots(1, 3, figsize=(16, 4.2))
    x = range(len(rows))
    ax[0].bar([i - 0.2 for i in x], [r["speedup_int8"] for r in rows], 0.4, label="INT8 (2 MACs/DSP), dense")
    ax[0].bar([i + 0.2 for i in x], [r["speedup"] for r in rows], 0.4, label="INT8 + token selectors")
    ax[0].axhspan(*PUBLISHED["speedup"], color="green", alpha=0.15, label="published HeatViT range")
    ax[0].set_xticks(list(x), [r["model"] for r in rows])
    ax[0].set_ylabel("speedup over 16-bit dense baseline")
    ax[0].legend(fontsize=8)
    phases = ["stem", "msa", "mlp", "selector", "head"]
    bottom = [0.0] * len(rows)
    for ph in phases:
        vals = [r["phases_heatvit"].get(ph, 0) / 300e3 for r in rows]
        ax[1].bar(list(x), vals, bottom=bottom, label=ph)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax[1].set_xticks(list(x), [r["model"] for r in rows])
    ax[1].set_ylabel("HeatViT latency (ms) by phase")
    ax[1].legend(fontsize=8)
    for m, pts in sweep.items():
        ax[2].plot([p["keep"] for p in pts], [p["speedup"] for p in pts], marker="o", label=m)
    ax[2].axhspan(*PUBLISHED["speedup"], color="green", alpha=0.15)
    ax[2].invert_xaxis()
    ax[2].set_xlabel("keep rate at each of the 3 selectors")
    ax[2].set_ylabel("speedup over 16-bit dense baseline")
    ax[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "speedup.png"), dpi=110)


if __name__ == "__main__":
    main()
