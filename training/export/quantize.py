"""Export stage `quantize`: the QAT checkpoint (qat.pt) becomes the integer model
E/deit-micro-int8.hvt: every weight and activation format fixed (the quantized forms of
model/pruned.py), each selector's dense-pass threshold table, and the indices of the
training images the thresholds are calibrated on.

  python3 -m training quantize --ckpt-dir D --out-dir E
"""
import math
import os
import time

import numpy as np

from training.common import log
from training.data import load_split
from training import hvt
from training.export import parse_args
from training.export.calibration import quantile_threshold
from training.intref import fast as intref_fast
from training.intref import reference as intref
from training.model.evaluation import build_model
from training.model.pruned import F_H, F_D, F_SIG, weight_frac
from training.model.shape import SHAPE, PIX_MEAN, PIX_STD, CANDIDATE_BLOCKS

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


def run(a):
    t0 = time.time()
    intref_fast.enable()
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
    hvt.write(out, "deit-micro-int8", meta, T)
    log(a.log, f"export: wrote {out} ({os.path.getsize(out)} bytes) in {time.time() - t0:.0f}s")


def main(argv=None, prog=None):
    run(parse_args(argv, prog, "quantize"))
