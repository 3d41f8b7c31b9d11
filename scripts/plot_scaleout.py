#!/usr/bin/python3
"""Projected speedup of `heatvit dse` over MPI up to 1,024 ranks, from measured costs
(docs/scale-out.md explains the model and where each input was measured).

  plot_scaleout.py INPUTS.json OUT.png [OUT.csv]

For a sweep with, measured on one rank: `serial_s` seconds that only rank 0 works
(setup, the dense test outcome, SystemC runs, baselines), `work_s` seconds of
evaluation spread over `candidates` candidate evaluations in `batches` batches (rungs,
the test set, greedy stages), and rank 0 spending `master_s_per_candidate` to dispatch,
receive and store each candidate, and a store commit of `store_s_per_candidate` in
the one-process run:

  T(1) = serial + work + candidates x store
  T(R) = serial + sum over batches of max(work_b / (R x efficiency), candidates_b x master,
                                          work_b / groups_b)

(the last term: a batch cannot use more ranks than it has schedules; efficiency: the
measured per-rank throughput when every core of a machine is busy). Speedup = T(1)/T(R).
"""
import csv
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def t_of(sweep, ranks, master_s):
    if ranks == 1:
        return sweep["serial_s"] + sweep["work_s"] + sweep["candidates"] * sweep["store_s_per_candidate"]
    t = sweep["serial_s"]
    for b in sweep["batches"]:
        work = b["work_s"]
        t += max(work / (ranks * sweep.get("efficiency", 1.0)), b["candidates"] * master_s, work / b["groups"])
    return t


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    inp = json.load(open(argv[1]))
    master_s = inp["master_s_per_candidate"]
    ranks = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    fig, ax = plt.subplots(figsize=(7.5, 5))
    ax.plot(ranks, ranks, color="0.7", ls="--", label="linear")
    rows = []
    for name, sweep in inp["sweeps"].items():
        t1 = t_of(sweep, 1, master_s)
        sp = [t1 / t_of(sweep, r, master_s) for r in ranks]
        ax.plot(ranks, sp, marker="o", ms=3, label=sweep["label"])
        for r, s in zip(ranks, sp):
            rows.append({"sweep": name, "ranks": r, "projected_speedup": round(s, 4)})
        for m in sweep.get("measured", []):
            ax.plot([m["ranks"]], [m["speedup"]], marker="*", ms=12, color=ax.lines[-1].get_color(), ls="none")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("MPI ranks (one core each)")
    ax.set_ylabel("speedup over one process")
    ax.set_title("heatvit dse over MPI: projected from measured costs (stars: measured)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(argv[2], dpi=130)
    if len(argv) == 4:
        with open(argv[3], "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["sweep", "ranks", "projected_speedup"])
            w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
