"""Integer threshold calibration: a schedule's keep rates become integer score
thresholds of the exported model, by the sequential rule (what `heatvit eval` and the
export use) or the dense-pass table rule. Shared by the export, the evaluation and the
analyses."""
import numpy as np

from training.data import load_split
from training.intref import reference as intref


def quantile_threshold(s, keep_milli):
    """Integer threshold t (keep iff S > t) keeping keep_milli/1000 of the sorted scores s.

    t = s[m-1] keeps every score above it and drops all its ties; t = s[m-1] - 1 keeps the
    ties too.  Integer scores can tie in large groups, so take whichever keeps a count
    closer to the asked one (the smaller count on a draw)."""
    n = len(s)
    keep_n = (n * keep_milli + 500) // 1000
    m = n - keep_n
    if m <= 0:
        return intref.INT32_MIN
    t = int(s[m - 1])
    above = n - int(np.searchsorted(s, t, side="right"))
    with_ties = n - int(np.searchsorted(s, t, side="left"))
    return t - 1 if abs(with_ties - keep_n) < abs(keep_n - above) else t


def table_thresholds(im, sched):
    """[(block, keep)] -> [(block, threshold)] via the stored dense-pass table at the
    cumulative keep (the 'table' rule; over-prunes later selectors of a schedule)."""
    out, cum = [], 1000
    for b, k in sorted(sched):
        cum = cum * int(round(k * 1000)) // 1000
        out.append((b, im.threshold(b, cum)))
    return out


def calibration_images(im, data=None, xtr=None):
    """The training images the export was calibrated on (tensor calib.index); `xtr`: the
    already loaded training split (read from `data` otherwise)."""
    src = getattr(im, "path", "export")
    if "calib.index" not in im.t:
        raise ValueError(f"{src}: no tensor 'calib.index' (calibration images): re-export it")
    if xtr is None:
        xtr, _ = load_split("train", data)
    idx = np.asarray(im.t["calib.index"], dtype=np.int64)
    if idx.min() < 0 or idx.max() >= len(xtr):
        raise ValueError(f"{src}: tensor 'calib.index' has indices outside the training split "
                         f"({len(xtr)} images)")
    return xtr[idx]


def sequential_thresholds(im, cal, sched, bs=500):
    """The 'sequential' rule (what a schedule's keep means): selector by selector, with
    the earlier selectors active at their calibrated thresholds, the threshold keeping
    `keep` of the patch tokens that reach the selector on the calibration images."""
    th = []
    for b, k in sorted(sched):
        live = []
        for i in range(0, len(cal), bs):
            o = im.run(cal[i:i + bs], th, probe=(b,))
            keep = o["masks"][th[-1][0]] if th else np.ones((len(o["pred"]), 49), dtype=bool)
            live.append(o["scores"][b][keep])
        th.append((b, quantile_threshold(np.sort(np.concatenate(live)), int(round(k * 1000)))))
    return th


def sched_to_thresholds(im, sched, rule="sequential", cal=None, data=None):
    """[(block, keep)] -> [(block, threshold)] under `rule` ('sequential' or 'table');
    `cal`: the calibration images (loaded from the export's calib.index when None)."""
    if rule == "table":
        return table_thresholds(im, sched)
    if rule != "sequential":
        raise ValueError(f"calibration rule {rule!r} is not 'sequential' or 'table'")
    if not sched:
        return []
    return sequential_thresholds(im, calibration_images(im, data) if cal is None else cal, sched)
