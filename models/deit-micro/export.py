"""Export: QAT checkpoint -> integer model (.hvt), integer threshold calibration,
masks of the default schedule, reference outputs for the C++ port.

  export.py quantize --ckpt-dir D --out-dir E     # E/deit-micro-int8.hvt
  export.py masks    --ckpt-dir D --out-dir E     # E/masks-default.hvt, E/reference-outputs.json
"""
import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hvtfile  # noqa: E402
import intref  # noqa: E402
from common import SHAPE, PIX_MEAN, PIX_STD, CANDIDATE_BLOCKS, load_split, log, atomic_write_json, cli  # noqa: E402
from net import F_H, F_D, F_SIG, weight_frac  # noqa: E402
from train_select import build_model, load_sched_json  # noqa: E402

KEEP_MILLI = [50 * (j + 1) for j in range(20)]   # 0.05 .. 1.00
FORMAT_VERSION_MODEL = 1


def q_round(x):
    """float -> nearest integer, ties away from zero (export-time only)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def quantize(model, fracs):
    T, gemm, lnm = {}, {}, {}
    f = fracs
    FR = f["res"]

    def lin(name, W, b, fi, fo, out_bits):
        W = W.detach().double()
        b = b.detach().double()
        fw = weight_frac(W)
        Wq = np.clip(q_round(W.numpy() * 2.0 ** fw), -128, 127).astype(np.int8)
        bq = np.clip(q_round(b.numpy() * 2.0 ** (fi + fw)), -2 ** 31, 2 ** 31 - 1).astype(np.int32)
        T[name + ".w"], T[name + ".b"] = Wq, bq
        if out_bits == 32:
            fo = fi + fw
        gemm[name] = {"fi": int(fi), "fw": int(fw), "fo": int(fo), "out_bits": int(out_bits),
                      "shift": int(fi + fw - fo)}

    def ln(name, mod, fo):
        g = mod.weight.detach().double().numpy()
        bb = mod.bias.detach().double().numpy()
        m = float(np.abs(g).max())
        fg = int(min(14, math.floor(math.log2((2 ** 14 - 1) / max(m, 1e-9)))))
        T[name + ".g"] = np.clip(q_round(g * 2.0 ** fg), -2 ** 15, 2 ** 15 - 1).astype(np.int16)
        T[name + ".b"] = np.clip(q_round(bb * 2.0 ** (fg + intref.F_N)), -2 ** 31, 2 ** 31 - 1).astype(np.int32)
        lnm[name] = {"fg": fg, "fo": int(fo)}

    bb = model.backbone
    W = bb.patch_embed.weight / (255.0 * PIX_STD)
    b = bb.patch_embed.bias - (PIX_MEAN / PIX_STD) * bb.patch_embed.weight.sum(1)
    lin("pe", W, b, 0, FR, 16)
    pos = bb.pos_embed.detach().double()[0].clone()
    pos[0] = pos[0] + bb.cls_token.detach().double()[0, 0]
    T["pos"] = np.clip(q_round(pos.numpy() * 2.0 ** FR), -2 ** 15, 2 ** 15 - 1).astype(np.int16)
    D = SHAPE["dim"]
    for i, blk in enumerate(bb.blocks):
        n = f"b{i}"
        ln(n + ".ln1", blk.norm1, f[n + ".ln1"])
        Wqkv, bqkv = blk.attn.qkv.weight, blk.attn.qkv.bias
        sc = 1.0 / math.sqrt(SHAPE["head_dim"])
        lin(n + ".q", Wqkv[:D] * sc, bqkv[:D] * sc, f[n + ".ln1"], f[n + ".q"], 8)
        lin(n + ".k", Wqkv[D:2 * D], bqkv[D:2 * D], f[n + ".ln1"], f[n + ".k"], 8)
        lin(n + ".v", Wqkv[2 * D:], bqkv[2 * D:], f[n + ".ln1"], f[n + ".v"], 8)
        lin(n + ".proj", blk.attn.proj.weight, blk.attn.proj.bias, f[n + ".ao"], FR, 16)
        ln(n + ".ln2", blk.norm2, f[n + ".ln2"])
        lin(n + ".fc1", blk.mlp.fc1.weight, blk.mlp.fc1.bias, f[n + ".ln2"], F_H, 16)
        lin(n + ".fc2", blk.mlp.fc2.weight, blk.mlp.fc2.bias, f[n + ".g"], FR, 16)
    ln("lnf", bb.norm, f["lnf"])
    lin("head", bb.head.weight, bb.head.bias, f["lnf"], 0, 32)
    for b in CANDIDATE_BLOCKS:
        s = model.selectors[str(b)]
        n = f"s{b}"
        for i in range(SHAPE["heads"]):
            ln(f"{n}.ln{i}", s.ln[i], f[f"{n}.ln{i}"])
            lin(f"{n}.l1_{i}", s.l1[i].weight, s.l1[i].bias, f[f"{n}.ln{i}"], F_H, 16)
            lin(f"{n}.l2_{i}", s.l2[i].weight, s.l2[i].bias, f[f"{n}.g1{i}"], F_H, 16)
            lin(f"{n}.l3_{i}", s.l3[i].weight, s.l3[i].bias, f[f"{n}.g2{i}"], F_H, 16)
            l4 = s.l4[i]
            lin(f"{n}.l4_{i}", (l4.weight[1] - l4.weight[0])[None], (l4.bias[1] - l4.bias[0])[None],
                f[f"{n}.g3{i}"], F_D, 16)
        lin(f"{n}.hb1", s.hb1.weight, s.hb1.bias, f[f"{n}.m"], F_H, 16)
        lin(f"{n}.hb2", s.hb2.weight, s.hb2.bias, f[f"{n}.hg"], F_D, 16)
    meta = {"format": "deit-micro-int8", "model_version": FORMAT_VERSION_MODEL,
            "shape": SHAPE, "candidate_blocks": CANDIDATE_BLOCKS,
            "input": {"pixels": "uint8 28x28, row-major; patch p = (r//4)*7 + c//4, pixel "
                                "(r%4)*4 + c%4 inside the patch; normalisation folded into pe"},
            "consts": {"F_H": F_H, "F_D": F_D, "F_SIG": F_SIG, "F_N": intref.F_N, "G_LN": intref.G_LN},
            "fracs": {k: int(v) for k, v in fracs.items()}, "gemm": gemm, "ln": lnm,
            "keep_grid_milli": KEEP_MILLI}
    return T, meta


def calibrate_tables(im, imgs, bs=500):
    """Per selector: integer thresholds for cumulative keep 0.05..1.00 from the score
    distribution of all patch tokens of a dense pass over calibration images."""
    scores = {b: [] for b in CANDIDATE_BLOCKS}
    for i in range(0, len(imgs), bs):
        o = im.run(imgs[i:i + bs], probe=tuple(CANDIDATE_BLOCKS))
        for b in CANDIDATE_BLOCKS:
            scores[b].append(o["scores"][b].reshape(-1))
    tabs = {}
    for b in CANDIDATE_BLOCKS:
        s = np.sort(np.concatenate(scores[b]))
        n = len(s)
        row = []
        for c in KEEP_MILLI:
            row.append(quantile_threshold(s, c))
        tabs[b] = np.array(row, dtype=np.int32)
    return tabs


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


def cmd_quantize(a):
    t0 = time.time()
    import fastint
    fastint.enable()
    model, ck = build_model(os.path.join(a.ckpt_dir, "qat.pt"))
    fracs = ck["fracs"]
    T, meta = quantize(model, fracs)
    im = intref.IntModel(T, meta)
    xtr, _ = load_split("train", a.data)
    rng = np.random.RandomState(1234)
    cal_idx = rng.choice(len(xtr), a.calib, replace=False)
    cal = xtr[cal_idx]
    tabs = calibrate_tables(im, cal)
    for b, row in tabs.items():
        T[f"s{b}.thr"] = row
    T["calib.index"] = cal_idx.astype(np.int32)
    meta["calibration"] = {"images": a.calib, "split": "train", "seed": 1234,
                           "index_tensor": "calib.index",
                           "rule": "sequential (default): per schedule, selector by selector with the "
                                   "earlier selectors active, the threshold keeping `keep` of the patch "
                                   "tokens reaching the selector on the calib.index training images; "
                                   "table: keep iff S > thr[j]; j = clamp(round(cum_keep*20)-1, 0, 19); "
                                   "cum_keep = product of the keep rates of this and all earlier "
                                   "active selectors; table from a dense pass"}
    out = os.path.join(a.out_dir, "deit-micro-int8.hvt")
    hvtfile.write(out, "deit-micro-int8", meta, T)
    log(a.log, f"export: wrote {out} ({os.path.getsize(out)} bytes) in {time.time() - t0:.0f}s")


def cmd_masks(a):
    import fastint
    fastint.enable()
    im = intref.load(os.path.join(a.out_dir, "deit-micro-int8.hvt"))
    sched = load_sched_json(os.path.join(a.out_dir, "schedule-default.json"))
    th = sched_to_thresholds(im, sched, data=a.data)
    xte, yte = load_split("t10k", a.data, a.test_limit)
    # bit-exactness of the BLAS path on a few images
    o_fast = im.run(xte[:8], th)
    fastint.disable()
    o_int = im.run(xte[:8], th)
    fastint.enable()
    if not np.array_equal(o_fast["logits"], o_int["logits"]):
        raise RuntimeError("fastint path differs from the pure integer path")
    B = len(xte)
    masks = {b: np.zeros((B, 49), np.uint8) for b, _ in th}
    scores = {b: np.full((B, 49), intref.INT32_MIN, np.int32) for b, _ in th}
    preds = np.zeros(B, np.int32)
    toks = np.zeros((B, 12), np.int16)
    for i in range(0, B, 500):
        o = im.run(xte[i:i + 500], th)
        for b, _ in th:
            masks[b][i:i + 500] = o["masks"][b]
            sc = o["scores"][b]
            scores[b][i:i + 500] = sc
        preds[i:i + 500] = o["pred"]
        toks[i:i + 500] = o["tokens"]
    # tokens not reaching a selector (pruned earlier) get INT32_MIN as score
    prev = np.ones((B, 49), bool)
    for b, _ in th:
        scores[b][~prev] = intref.INT32_MIN
        prev = masks[b].astype(bool)
    T = {"labels": yte.astype(np.uint8), "pred": preds, "tokens": toks}
    for b, t in th:
        T[f"mask.b{b}"] = masks[b]
        T[f"score.b{b}"] = scores[b]
    acc = float((preds == yte).mean())
    meta = {"model": "deit-micro", "dataset": "fashion-mnist t10k", "images": int(B),
            "schedule": [{"block": b, "keep": k} for b, k in sched],
            "thresholds": [{"block": b, "threshold": int(t)} for b, t in th],
            "calibration": "sequential",
            "mask_semantics": "mask.bB[i, p] = 1 iff patch token p (absolute index 0..48, "
                              "p = row*7+col) is kept after the selector before block B; "
                              "progressive (a 0 stays 0 at later selectors)",
            "score_semantics": "score.bB = selector score S (Q8 log-odds) of each patch token "
                               "reaching the selector; INT32_MIN for tokens pruned earlier",
            "tokens": "tokens entering each block (CLS and package token included)",
            "accuracy": acc}
    path = os.path.join(a.out_dir, "masks-default.hvt")
    hvtfile.write(path, "token-masks", meta, T)
    log(a.log, f"export: wrote {path}, int8 accuracy under default schedule {acc:.4f}")
    # reference outputs for the first 16 test images
    fastint.disable()
    ref = {"model": "deit-micro-int8.hvt", "images": "fashion-mnist t10k[0:16]",
           "labels": yte[:16].tolist()}
    for name, s in (("dense", []), ("default", th)):
        o = im.run(xte[:16], s)
        ref[name] = {"thresholds": [{"block": b, "threshold": int(t)} for b, t in s],
                     "logits": o["logits"].tolist(), "pred": o["pred"].tolist(),
                     "tokens": o["tokens"].tolist(),
                     "masks": {str(b): [np.flatnonzero(m).tolist() for m in o["masks"][b]]
                               for b, _ in s}}
    atomic_write_json(os.path.join(a.out_dir, "reference-outputs.json"), ref, indent=None)
    log(a.log, "export: wrote reference-outputs.json")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["quantize", "masks"])
    ap.add_argument("--ckpt-dir", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--data", default=None)
    ap.add_argument("--calib", type=int, default=2000)
    ap.add_argument("--test-limit", type=int, default=None)
    ap.add_argument("--log", default=None)
    a = ap.parse_args(argv)
    {"quantize": cmd_quantize, "masks": cmd_masks}[a.cmd](a)


if __name__ == "__main__":
    cli(main)
