"""Schedule sweep of the exported bank on the whole Fashion-MNIST test set.

  python3 -m training sweep [--heatvit build/bin/heatvit] [--out models/deit-micro/export/sweep.json]

Runs `heatvit eval` (the C++ functional model, bit-exact with training/intref/reference.py: see
scripts/check_bitexact.sh) once per schedule of SCHEDULES on all 10,000 test images and
collects accuracy, MACs per image (selectors included), MAC reduction versus dense int8,
achieved keep rates and mean tokens per block into one JSON file, which card.py renders.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from training.common import ROOT, command_line, ARTIFACTS, atomic_write_json, save_figure


def _family(name, blocks, keeps):
    return [(f"{name}@{k}", [(b, k) for b in blocks]) for k in keeps]


SCHEDULES = (
    [("dense", [])]
    + [(f"{b}@{k}", [(b, k)]) for b in (2, 4, 6) for k in (0.3, 0.5, 0.7)]
    + _family("3-6-9", (3, 6, 9), (0.9, 0.8, 0.7, 0.6, 0.5))
    + _family("2-5-8", (2, 5, 8), (0.8, 0.7, 0.6))
    + _family("2-4-6-8", (2, 4, 6, 8), (0.8, 0.7))
    + _family("1-3-5-7-9", (1, 3, 5, 7, 9), (0.9, 0.85, 0.8))
)


def run_eval(exe, weights, sched, tmp, threads, data=None):
    """One `heatvit eval` run: sched is 'default', [] (dense) or [(block, keep), ...];
    data: dataset directory (default: heatvit's own). Returns the report."""
    rep = os.path.join(tmp, "r.json")
    cmd = [exe, "eval", "--model", "deit-micro", "--weights", weights, "--report", rep, "-q",
           "--threads", str(threads)]
    if data:
        cmd += ["--data", data]
    if sched == "default":
        cmd += ["--schedule", "default"]
    elif sched:
        sp = os.path.join(tmp, "s.json")
        with open(sp, "w") as f:
            json.dump({"selectors": [{"block": b, "keep": k} for b, k in sched]}, f)
        cmd += ["--schedule", sp]
    r = subprocess.run(cmd)
    if r.returncode != 0:   # heatvit eval has printed which file/field is wrong
        sys.exit(r.returncode)
    with open(rep) as f:
        return json.load(f)


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.strip().split("\n\n")[0])
    ap.add_argument("--heatvit", default=os.path.join(ROOT, "build", "bin", "heatvit"))
    ap.add_argument("--weights", default=os.path.join(ARTIFACTS, "export", "deit-micro-int8.hvt"))
    ap.add_argument("--out", default=os.path.join(ARTIFACTS, "export", "sweep.json"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--plot", default=os.path.join(ARTIFACTS, "accuracy_vs_macs_bank.png"),
                    help="PNG of accuracy versus MACs ('' for none)")
    a = ap.parse_args(argv)
    if not os.access(a.heatvit, os.X_OK):
        print(f"{a.heatvit}: heatvit binary not found (run `make build` first)", file=sys.stderr)
        sys.exit(2)
    t0 = time.time()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, sched in [("default", "default")] + SCHEDULES:
            r = run_eval(a.heatvit, a.weights, sched, tmp, a.threads)
            sel = r["schedule"]["selectors"] if sched else []
            rows.append({
                "name": name,
                "schedule": [{"block": s["block"], "keep": s["keep"]} for s in sel],
                "achieved_keep": {str(s["block"]): s["achieved_keep"] for s in sel},
                "thresholds": {str(s["block"]): s["threshold"] for s in sel},
                "accuracy": r["accuracy"], "images": r["images"],
                "macs_per_image": r["macs_per_image"], "mac_reduction": r["mac_reduction"],
                "tokens_mean": r["tokens_mean"]})
            print(f"{name:>12}: acc {100 * r['accuracy']:.2f} %  MACs {r['macs_per_image'] / 1e6:.2f} M "
                  f"(-{100 * r['mac_reduction']:.1f} %)", flush=True)
    out = {"command": command_line(prog, "sweep", argv),
           "evaluator": "heatvit eval (C++ functional model, bit-exact with the integer reference, training/intref/reference.py)",
           "weights": os.path.relpath(a.weights, ROOT), "wall_s": round(time.time() - t0, 1),
           "schedules": rows}
    atomic_write_json(a.out, out)
    print(f"wrote {a.out} ({out['wall_s']} s)")
    if a.plot:
        plot(rows, a.plot)
        print(f"wrote {a.plot}")


def plot(rows, png):
    """Accuracy versus MACs of every swept schedule, by family, with the target band."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    dense = next(r for r in rows if r["name"] == "dense")
    d_acc, d_mac = 100 * dense["accuracy"], dense["macs_per_image"] / 1e6
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    fams = {}
    for r in rows:
        if r["name"] in ("dense", "default"):
            continue
        fam = r["name"].split("@")[0]
        fam = "one selector" if "-" not in fam else fam
        fams.setdefault(fam, []).append(r)
    for (fam, rs), mk in zip(sorted(fams.items()), ("o", "s", "^", "D", "v")):
        pts = sorted((r["macs_per_image"] / 1e6, 100 * r["accuracy"]) for r in rs)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], mk, ls="" if fam == "one selector" else "-",
                label=f"{fam} (blocks)" if fam != "one selector" else "one selector (blocks 2, 4, 6)")
    df = next((r for r in rows if r["name"] == "default"), None)
    if df:
        ax.plot([df["macs_per_image"] / 1e6], [100 * df["accuracy"]], "P", ms=11, color="tab:purple",
                label="default schedule")
    ax.plot([d_mac], [d_acc], "k*", ms=13, label="dense int8")
    ax.axhspan(d_acc - 1.0, d_acc, color="tab:green", alpha=0.12, label="within 1 point of dense")
    ax.axvline(0.6 * d_mac, color="tab:gray", ls=":", label="40 % fewer MACs")
    ax.set_xlabel("MACs per image (M), selectors included")
    ax.set_ylabel("top-1 accuracy (%), int8")
    ax.set_title("deit-micro selector bank: all 10,000 test images")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    save_figure(fig, png)
