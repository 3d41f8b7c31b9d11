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
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 0.32 * n + 2.2), sharey=True)
    for i, r in enumerate(rows):
        pub = r["published"]
        lo, hi = (pub[0], pub[1]) if isinstance(pub, list) else (pub, pub)
        ours = r["ours"]
        colour = "tab:blue" if r["fit"] else "tab:gray"
        if r["residual_kind"] == "points":  # overheads and cuts: fractions, drawn as they are
            ax1.plot([lo, hi], [i, i], color="black", lw=4, alpha=0.35, solid_capstyle="butt")
            ax1.plot([ours], [i], "o", color=colour)
        else:
            ref = (lo * hi) ** 0.5
            ax1.plot([lo / ref, hi / ref], [i, i], color="black", lw=4, alpha=0.35, solid_capstyle="butt")
            ax1.plot([ours / ref], [i], "o", color=colour)
        res = r["residual"] if r["residual"] is not None else 0.0
        tol = r["tolerance"]
        scale = 100.0
        ax2.barh(i, res * scale, color=("tab:green" if r["within"] else ("tab:red" if r["fit"] else "tab:gray")))
        ax2.plot([-tol * scale, tol * scale], [i, i], "|", color="black", ms=9)
    ax1.set_xscale("log")
    ax1.axvline(1.0, color="black", lw=0.6)
    ax1.set_yticks(range(n))
    ax1.set_yticklabels(labels, fontsize=7)
    ax1.invert_yaxis()
    ax1.set_xlabel("simulated / published (grey band: the published value or range;\n"
                   "overhead rows: the fraction itself)")
    ax1.set_title("published vs simulated (blue: fitted, grey: reported only)")
    ax2.axvline(0.0, color="black", lw=0.6)
    ax2.set_xlabel("residual, % (relative) or points (overheads); | marks the tolerance")
    ax2.set_title(f'residuals: {doc["fitted_within_tolerance"]} of {doc["fitted_rows"]} fitted rows within tolerance')
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
