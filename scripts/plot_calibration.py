#!/usr/bin/python3
"""calibration.png of a `heatvit calibrate` run: every published figure against the
simulated one (left: simulated / published, a range drawn as the band it allows;
right: the residual with its tolerance), fitted rows and reported-only rows apart.

  plot_calibration.py DIR OUT.png     (DIR holds residuals.json)
"""
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
    doc = json.load(open(os.path.join(d, "residuals.json")))
    rows = [r for r in doc["figures"] if r["ours"] is not None]
    labels = [f'{r["id"]} ({r["model"]})' if r["model"] not in r["id"] and r["model"] != "-" else r["id"]
              for r in rows]
    n = len(rows)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(16, max(6.0, 0.3 * n + 2.2)),
                                   gridspec_kw={"width_ratios": [1.0, 1.15]})
    # Left: simulated against published, log-log; a range is drawn as a horizontal bar
    # at its geometric middle. Right: each row's residual with its tolerance.
    metrics = sorted({r["metric"] for r in rows})
    cmap = plt.get_cmap("tab10")  # colour = metric
    colour_of = {m: cmap(i % 10) for i, m in enumerate(metrics)}
    lo_all, hi_all = [], []
    for r in rows:
        pub = r["published"]
        lo, hi = (pub[0], pub[1]) if isinstance(pub, list) else (pub, pub)
        mid = (lo * hi) ** 0.5
        ours = r["ours"]
        c = colour_of[r["metric"]]
        ax1.plot([lo, hi], [ours, ours], color=c, lw=1.2, alpha=0.7)
        ax1.plot([mid], [ours], "o" if r["fit"] else "s", color=c, mfc=c if r["fit"] else "white", ms=6)
        lo_all += [lo, ours]
        hi_all += [hi, ours]
    lo_v, hi_v = min(lo_all) / 1.5, max(hi_all) * 1.5
    xs = [lo_v, hi_v]
    ax1.plot(xs, xs, color="black", lw=0.8)
    ax1.fill_between(xs, [x * 0.9 for x in xs], [x * 1.1 for x in xs], color="black", alpha=0.08)
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlim(lo_v, hi_v)
    ax1.set_ylim(lo_v, hi_v)
    for m in metrics:
        ax1.plot([], [], "o", color=colour_of[m], label=m)
    ax1.plot([], [], "o", color="black", label="(filled) fitted")
    ax1.plot([], [], "s", color="black", mfc="white", label="(open) reported only")
    ax1.legend(fontsize=7, loc="upper left")
    ax1.set_xlabel("published (a bar: the published range)")
    ax1.set_ylabel("simulated (SystemC, calibrated presets)")
    ax1.set_title("published vs simulated (line: equal; band: +-10%)")
    for i, r in enumerate(rows):
        res = r["residual"] if r["residual"] is not None else 0.0
        tol = r["tolerance"]
        ax2.barh(i, res * 100.0, color=("tab:green" if r["within"] else ("tab:red" if r["fit"] else "tab:gray")))
        ax2.plot([-tol * 100.0, tol * 100.0], [i, i], "|", color="black", ms=9)
    ax2.set_yticks(range(n))
    ax2.set_yticklabels(labels, fontsize=7)
    ax2.invert_yaxis()
    ax2.axvline(0.0, color="black", lw=0.6)
    ax2.set_xlabel("residual, % (relative) or points (overheads); | marks the tolerance")
    ax2.set_title('green: within tolerance, red: fitted and out, grey: reported only\n'
                  f'residuals: : {doc["fitted_within_tolerance"]} of {doc["fitted_rows"]} fitted rows within tolerance')
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
