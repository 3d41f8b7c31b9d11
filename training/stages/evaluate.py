"""Measure every figure of the model card and draw accuracy_vs_macs.png.

  python3 -m training evaluate --ckpt-dir D --out-dir E [--plot P]  -> E/results.json, P (default: the model
  card's accuracy_vs_macs.png beside this file; E/accuracy_vs_macs.png with --quick)
Integer figures come from the integer reference (training/intref; exact BLAS products, fast.py); float figures
from the PyTorch model.  Test set: Fashion-MNIST t10k (10,000 images) unless --test-limit.
"""
import argparse
import os
import time

import numpy as np
import torch

from training.intref import fast as intref_fast
from training.intref import reference as intref
from training.common import command_line, log, atomic_write_json, read_json, save_figure, ARTIFACTS
from training.data import load_split
from training.model.costs import block_macs, selector_macs, PATCH_MACS, HEAD_MACS, DENSE_MACS
from training.export.calibration import calibration_images, sched_to_thresholds
from training.model.evaluation import build_model, seq_thresholds, evaluate as t_eval
from training.model.schedules import load_sched_json, schedule_macs


def per_image_macs(o, sched_blocks):
    toks = o["tokens"].astype(np.int64)
    m = PATCH_MACS + HEAD_MACS + block_macs(toks).sum(1)
    for b in sched_blocks:
        m = m + selector_macs(o["sel_in"][b].astype(np.int64))
    return m


def int_eval(im, x, y, sched, mode="heatvit", bs=500):
    preds, macs, toks, keepfr = [], [], [], {b: [] for b, _ in sched}
    for i in range(0, len(x), bs):
        o = im.run(x[i:i + bs], sched, mode=mode)
        preds.append(o["pred"])
        macs.append(per_image_macs(o, [b for b, _ in sched]))
        toks.append(o["tokens"])
        for b, _ in sched:
            keepfr[b].append(o["masks"][b].sum(1) / np.maximum(o["sel_in"][b], 1))
    preds = np.concatenate(preds)
    return {"accuracy": float((preds == y).mean()), "macs_per_image": float(np.concatenate(macs).mean()),
            "tokens_mean": np.concatenate(toks).mean(0).round(3).tolist(),
            "achieved_keep": {str(b): float(np.concatenate(v).mean()) for b, v in keepfr.items()}}


def plot_path(a):
    """--plot if given; else the model card's PNG beside this file, or --out-dir's with --quick."""
    return a.plot or os.path.join(a.out_dir if a.quick else ARTIFACTS, "accuracy_vs_macs.png")


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.strip().split("\n\n")[0])
    ap.add_argument("--ckpt-dir", default=None, help="the run's checkpoints (required unless --replot)")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--data", default=None)
    ap.add_argument("--test-limit", type=int, default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--curve-limit", type=int, default=2000,
                    help="test images used for the schedule sweep and the top-k baselines")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--plot", default=None,
                    help="PNG of accuracy vs MACs (default: accuracy_vs_macs.png beside this file, "
                         "the model card's; in --out-dir with --quick)")
    ap.add_argument("--log", default=None)
    ap.add_argument("--replot", action="store_true",
                    help="only redraw the figure from --out-dir's results.json (no evaluation)")
    a = ap.parse_args(argv)
    if a.replot:
        png, rpath = plot_path(a), os.path.join(a.out_dir, "results.json")
        try:
            plot_results(load_results(rpath), png)
        except (KeyError, TypeError) as e:   # a point without accuracy / macs_per_image
            raise ValueError(f"{rpath}: int8_schedules / int8_dense_curve: a point lacks {e}") from None
        print(f"wrote {png}")
        return
    if a.ckpt_dir is None:
        ap.error("--ckpt-dir is required (unless --replot)")
    torch.set_num_threads(a.threads)
    intref_fast.enable()
    t0 = time.time()
    xte, yte = load_split("t10k", a.data, a.test_limit)
    xtr, _ = load_split("train", a.data)
    xt, yt = torch.from_numpy(xte.copy()), torch.from_numpy(yte)
    R = {"test_images": int(len(xte)), "dense_macs": DENSE_MACS, "command": command_line(prog, "evaluate", argv)}

    # ---- float figures
    dense, _ = build_model(os.path.join(a.ckpt_dir, "dense.pt"))
    R["float_dense_acc"] = t_eval(dense, xt, yt)[0]
    bank, _ = build_model(os.path.join(a.ckpt_dir, "bank.pt"))
    R["float_bank_dense_acc"] = t_eval(bank, xt, yt)[0]
    # the adapt stage's two cycles (older runs: one cycle, or no adapt stage)
    for key, f in (("float_adapt_c1_dense_acc", "adapt-c1.pt"), ("float_adapt_dense_acc", "adapt.pt")):
        if os.path.exists(os.path.join(a.ckpt_dir, f)):
            R[key] = t_eval(build_model(os.path.join(a.ckpt_dir, f))[0], xt, yt)[0]
    lat, _ = build_model(os.path.join(a.ckpt_dir, "latency.pt"))
    R["float_latency_dense_acc"] = t_eval(lat, xt, yt)[0]
    ded, ck = build_model(os.path.join(a.ckpt_dir, "dedicated.pt"))
    dsched = [tuple(s) for s in ck["sched"]]
    cal = torch.from_numpy(xtr[:500 if a.quick else 1000].copy())
    cmp = {"schedule": [{"block": b, "keep": k} for b, k in dsched]}
    for name, m in (("bank", bank), ("dedicated", ded)):
        th = seq_thresholds(m, cal, dsched)
        acc, toks = t_eval(m, xt, yt, sched=dsched, thresholds=th)
        cmp[name] = {"accuracy": acc, "macs_per_image": float(schedule_macs(list(toks), dsched)),
                     "tokens_mean": np.round(toks, 3).tolist()}
    R["bank_vs_dedicated_float"] = cmp
    log(a.log, f"evaluate: float done ({time.time() - t0:.0f}s)")

    # ---- integer figures
    im = intref.load(os.path.join(a.out_dir, "deit-micro-int8.hvt"))
    d = int_eval(im, xte, yte, [])
    R["int8_dense"] = d
    log(a.log, f"evaluate: int8 dense {d['accuracy']:.4f} on {len(xte)} images ({time.time() - t0:.0f}s)")
    default = load_sched_json(os.path.join(a.out_dir, "schedule-default.json"))
    # default schedule on the whole test set: from the masks export (same integer model)
    from training import hvt
    _, mmeta, mt = hvt.read(os.path.join(a.out_dir, "masks-default.hvt"), "token-masks")
    n = len(xte)
    o = {"tokens": mt["tokens"][:n].astype(np.int64), "sel_in": {}}
    prev = np.full(n, 49)
    for s_ in mmeta["schedule"]:
        o["sel_in"][s_["block"]] = prev
        prev = mt[f"mask.b{s_['block']}"][:n].sum(1)
    dm = per_image_macs(o, [s_["block"] for s_ in mmeta["schedule"]])
    R["int8_default_full"] = {
        "accuracy": float((mt["pred"][:n] == yte).mean()), "images": n,
        "macs_per_image": float(dm.mean()), "mac_reduction": float(1 - dm.mean() / d["macs_per_image"]),
        "tokens_mean": o["tokens"].mean(0).round(3).tolist(), "schedule": mmeta["schedule"],
        "thresholds": mmeta["thresholds"],
        "achieved_keep": {str(s_["block"]): float((mt[f"mask.b{s_['block']}"][:n].sum(1) /
                                                   np.maximum(o["sel_in"][s_["block"]], 1)).mean())
                          for s_ in mmeta["schedule"]}}
    nc = min(len(xte), a.curve_limit)
    xte, yte = xte[:nc], yte[:nc]
    R["curve_images"] = nc
    d = int_eval(im, xte, yte, []) if nc < n else d
    R["int8_dense_curve"] = d
    scheds = {"default": default}
    rhos = [0.7] if a.quick else [0.9, 0.7, 0.6, 0.5]
    for r in rhos:
        scheds[f"3-6-9@{r}"] = [(3, r), (6, r), (9, r)]
    if not a.quick:
        scheds["2-5-8@0.7"] = [(2, 0.7), (5, 0.7), (8, 0.7)]
    curves = {k: [] for k in CURVES}
    cal = calibration_images(im, xtr=xtr)
    for name, s in scheds.items():
        th = sched_to_thresholds(im, s, cal=cal)
        h = int_eval(im, xte, yte, th)
        h.update(name=name, schedule=[{"block": b, "keep": k} for b, k in s],
                 thresholds=[{"block": b, "threshold": int(t)} for b, t in th],
                 mac_reduction=1 - h["macs_per_image"] / d["macs_per_image"])
        curves["heatvit"].append(h)
        # same expected token counts with fixed top-k
        ks, cum = [], 49.0
        for b, k in s:
            cum *= k
            ks.append((b, max(1, int(round(cum)))))
        for mode, key in (("topk", "dynamicvit_topk"), ("evit", "evit_cls_topk")):
            r = int_eval(im, xte, yte, ks, mode=mode)
            r.update(name=name, topk=[{"block": b, "k": k} for b, k in ks],
                     mac_reduction=1 - r["macs_per_image"] / d["macs_per_image"])
            curves[key].append(r)
        log(a.log, f"evaluate: {name}: heatvit {h['accuracy']:.4f} @ {h['macs_per_image'] / 1e6:.2f}M, "
                   f"topk {curves['dynamicvit_topk'][-1]['accuracy']:.4f}, "
                   f"evit {curves['evit_cls_topk'][-1]['accuracy']:.4f} ({time.time() - t0:.0f}s)")
    R["int8_schedules"] = curves
    R["wall_s"] = time.time() - t0
    atomic_write_json(os.path.join(a.out_dir, "results.json"), R)

    png = plot_path(a)
    plot_results(R, png)
    log(a.log, f"evaluate: wrote results.json and {png} in {time.time() - t0:.0f}s")


# the curves of results.json's int8_schedules: legend label and line style
CURVES = {"heatvit": ("HeatViT selectors + package token (bank)", "o-"),
          "dynamicvit_topk": ("DynamicViT-style top-k (same scores, drop)", "s--"),
          "evit_cls_topk": ("EViT-style CLS-attention top-k + fused token", "^:")}


def load_results(path):
    """A results.json of this script, with what plot_results needs; ValueError naming the
    file and field otherwise."""
    R = read_json(path, "results file")
    if not isinstance(R, dict):
        raise ValueError(f"{path}: not a results.json of the evaluate stage (not an object)")
    for k in ("int8_schedules", "int8_dense_curve", "curve_images"):
        if k not in R:
            raise ValueError(f"{path}: no field '{k}' (not a results.json of the evaluate stage)")
    curves = R["int8_schedules"] if isinstance(R["int8_schedules"], dict) else {}
    for k in CURVES:    # heatvit first: it must also hold the default schedule
        if not isinstance(curves.get(k), list):
            raise ValueError(f"{path}: int8_schedules.{k}: missing or not a list")
        if k == "heatvit" and not any(p.get("name") == "default" for p in curves[k]):
            raise ValueError(f"{path}: int8_schedules.heatvit: no 'default' schedule")
    return R


def plot_results(R, png):
    """The accuracy-versus-MACs figure, from the numbers of a results.json."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    curves, d = R["int8_schedules"], R["int8_dense_curve"]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for key, (lab, mk) in CURVES.items():
        pts = sorted((p["macs_per_image"] / 1e6, 100 * p["accuracy"]) for p in curves[key])
        ax.plot([p[0] for p in pts], [p[1] for p in pts], mk, label=lab)
    ax.plot([d["macs_per_image"] / 1e6], [100 * d["accuracy"]], "k*", ms=12, label="dense int8")
    dp = [p for p in curves["heatvit"] if p["name"] == "default"][0]
    ax.annotate("default schedule", (dp["macs_per_image"] / 1e6, 100 * dp["accuracy"]),
                textcoords="offset points", xytext=(30, -45),
                arrowprops={"arrowstyle": "->", "lw": 0.8})
    ax.set_xlabel("MACs per image (M), selectors included")
    ax.set_ylabel(f"top-1 accuracy (%), int8, first {R['curve_images']} test images")
    ax.set_title("deit-micro: accuracy vs MACs (integer reference)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    save_figure(fig, png)
