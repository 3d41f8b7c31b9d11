"""Pure-integer NumPy reference of deit-micro inference (selectors included).

This is the golden model: every value is an int32/int64 NumPy array and every operation
is an integer add, multiply, arithmetic shift, compare or integer division.  No floating
point is used anywhere in this file.  docs/integer-numerics.md specifies each step; the
function names below follow the section names of that document.

Token layout: the reference keeps a fixed 51-row buffer per image [CLS, 49 patch slots
in patch order, package slot] plus a validity mask, and excludes invalid rows from every
reduction over tokens (attention max/sum, selector global average, package
accumulation).  All such reductions are integer sums or maxima, which do not depend on
the order of their terms, so the result is identical to the compacted layout the
hardware uses (kept patch tokens in ascending patch order, then the package token).
"""
import numpy as np

I64 = np.int64
I32 = np.int32

F_H = 10       # pre-GELU int16 fraction bits
F_D = 8        # selector log-odds fraction bits
F_SIG = 12     # sigmoid output fraction bits
F_N = 12       # LayerNorm normalised value fraction bits
G_LN = 4       # extra fraction bits of the LayerNorm standard deviation
EXP_LN2 = 177          # round(ln2 * 2^8)
EXP_B = 346            # round(1.353 * 2^8)
EXP_A = 1468           # round(0.3585 * 2^12)
EXP_C = 11272          # round(0.344 * 2^15)
EXP_MIN = -4096        # -16.0 in Q8
GELU_C = 2562          # round(1.769 * sqrt(2) * 2^10)
GELU_A = 148           # round(0.2888 / 2 * 2^10)
SIG_CLIP = 1024        # 4.0 in Q8
INT32_MIN = -(1 << 31)

# pluggable exact integer matrix product (fast.py may swap in an exact BLAS path)
def _matmul_int(a, b):
    return np.matmul(a.astype(I64), b.astype(I64))


MATMUL = _matmul_int


# ------------------------------------------------------------------ primitives
def rshift_round(x, s):
    """Round-half-up arithmetic shift: (x + 2^(s-1)) >> s for s > 0; x << -s for s < 0."""
    x = np.asarray(x, dtype=I64)
    if s > 0:
        return (x + (I64(1) << I64(s - 1))) >> I64(s)
    if s < 0:
        return x << I64(-s)
    return x


def sat(x, bits):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(np.asarray(x, dtype=I64), lo, hi)


def div_trunc(a, b):
    """Integer division truncating toward zero (C semantics); b > 0 elementwise."""
    a = np.asarray(a, dtype=I64)
    b = np.asarray(b, dtype=I64)
    q = np.abs(a) // b
    return np.where(a < 0, -q, q)


def isqrt(n):
    """floor(sqrt(n)) for int64 n >= 0, by Newton iteration from 2^ceil(bitlen(n)/2)."""
    n = np.asarray(n, dtype=I64)
    bl = np.zeros_like(n)
    t = n.copy()
    while np.any(t > 0):
        bl += (t > 0).astype(I64)
        t >>= I64(1)
    x = I64(1) << ((bl + I64(1)) >> I64(1))
    while True:
        y = (x + n // np.maximum(x, 1)) >> I64(1)
        y = np.where(x > 0, y, 0)
        nx = np.minimum(x, y)
        if np.array_equal(nx, x):
            break
        x = nx
    return x


def requant(acc, shift, bits):
    return sat(rshift_round(acc, shift), bits)


# ------------------------------------------------------------------ nonlinear units
def gelu_int(x):
    """x: int16 in Q(F_H).  Returns GELU(x) in Q(F_H) (I-BERT polynomial)."""
    x = np.asarray(x, dtype=I64)
    ax = np.abs(x)
    t = np.minimum(ax, GELU_C) - GELU_C
    term = (t * t * GELU_A + (1 << 15)) >> 16
    lmag = (1 << 14) - term
    L = np.sign(x) * lmag
    return (x * ((1 << 14) + L) + (1 << 14)) >> 15


def exp_int(x8):
    """x8 <= 0 in Q8 (already clamped to >= EXP_MIN).  Returns exp(x) in Q15."""
    x8 = np.asarray(x8, dtype=I64)
    z = (-x8) // EXP_LN2
    p = x8 + EXP_LN2 * z
    P = p + EXP_B
    e = ((P * P * EXP_A + (1 << 12)) >> 13) + EXP_C
    return e >> np.minimum(z, 62)


def sigmoid_int(x8):
    """x8 in Q8.  Returns sigmoid(x) in Q12 (0..4096): 0.5 + c/4 - c|c|/32, c=clamp(x,-4,4)."""
    c = np.clip(np.asarray(x8, dtype=I64), -SIG_CLIP, SIG_CLIP)
    return (1 << (F_SIG - 1)) + 4 * c - rshift_round(c * np.abs(c), 9)


def layernorm_int(x, g, b, fg, fo):
    """x: int16 values [..., C] (C a power of two), g int16 at Q(fg), b int32 at Q(fg+F_N).
    Returns int8 at Q(fo)."""
    x = np.asarray(x, dtype=I64)
    C = x.shape[-1]
    L = C.bit_length() - 1
    s = x.sum(-1, keepdims=True)
    mu = rshift_round(s, L)
    d = x - mu
    v = (d * d).sum(-1, keepdims=True)
    var_ext = (v << I64(2 * G_LN)) >> I64(L)
    sd = np.maximum(isqrt(var_ext), 1)
    z = div_trunc(d << I64(G_LN + F_N), sd)
    y = g.astype(I64) * z + b.astype(I64)
    return requant(y, fg + F_N - fo, 8)


# ------------------------------------------------------------------ model pieces
class IntModel:
    def __init__(self, tensors, meta):
        self.t = {k: np.asarray(v).astype(I64) for k, v in tensors.items()}
        self.meta = meta
        self.f = meta["fracs"]
        self.gemm_meta = meta["gemm"]
        self.ln_meta = meta["ln"]
        self.fr = self.f["res"]

    def gemm(self, name, x):
        """x int [..., K] (int8 / uint8 values) -> output per gemm[name] (int8/int16/int32)."""
        g = self.gemm_meta[name]
        w, b = self.t[name + ".w"], self.t[name + ".b"]
        acc = MATMUL(x, w.T) + b
        if g["out_bits"] == 32:
            return acc
        return requant(acc, g["fi"] + g["fw"] - g["fo"], g["out_bits"])

    def ln(self, name, x):
        m = self.ln_meta[name]
        return layernorm_int(x, self.t[name + ".g"], self.t[name + ".b"], m["fg"], m["fo"])

    def gelu8(self, x16, fo):
        return requant(gelu_int(x16), F_H - fo, 8)

    # -- attention
    def attention(self, i, h, valid, want_cls=False):
        n = f"b{i}"
        B, N, _ = h.shape
        q = self.gemm(n + ".q", h).reshape(B, N, 2, 32).transpose(0, 2, 1, 3)
        k = self.gemm(n + ".k", h).reshape(B, N, 2, 32).transpose(0, 2, 1, 3)
        v = self.gemm(n + ".v", h).reshape(B, N, 2, 32).transpose(0, 2, 1, 3)
        s = MATMUL(q, k.transpose(0, 1, 3, 2))          # [B,2,N,N] at Q(fq+fk)
        vk = valid[:, None, None, :]
        m = np.where(vk, s, I64(INT32_MIN)).max(-1, keepdims=True)
        sh = self.f[n + ".q"] + self.f[n + ".k"] - 8
        x8 = np.maximum(rshift_round(s - m, sh), EXP_MIN)
        e = np.where(vk, exp_int(x8), 0)
        tot = np.maximum(e.sum(-1, keepdims=True), 1)
        p = np.minimum((e * 512 + tot) // (2 * tot), 255)   # uint8, Q8
        o = MATMUL(p, v)                                   # Q(8+fv)
        o = requant(o, 8 + self.f[n + ".v"] - self.f[n + ".ao"], 8)
        o = o.transpose(0, 2, 1, 3).reshape(B, N, 64)
        out = self.gemm(n + ".proj", o)
        if want_cls:
            return out, p[:, :, 0, :].sum(1)               # CLS attention, heads summed
        return out

    def block(self, i, x, valid, want_cls=False):
        n = f"b{i}"
        h = self.ln(n + ".ln1", x)
        r = self.attention(i, h, valid, want_cls)
        a, cls = (r if want_cls else (r, None))
        x = sat(x + a, 16)
        h = self.ln(n + ".ln2", x)
        h = self.gelu8(self.gemm(n + ".fc1", h), self.f[n + ".g"])
        x = sat(x + self.gemm(n + ".fc2", h), 16)
        return (x, cls) if want_cls else x

    # -- selector
    def selector_score(self, b, xp, keep):
        """xp: int16 patch rows [B,49,64]; keep bool [B,49].  Returns S int (Q8)."""
        n = f"s{b}"
        deltas = []
        nk = keep.sum(1).astype(I64)[:, None]                   # [B,1]
        for i in range(2):
            xi = xp[..., 32 * i:32 * (i + 1)]
            h = self.ln(f"{n}.ln{i}", xi)
            h = self.gelu8(self.gemm(f"{n}.l1_{i}", h), self.f[f"{n}.g1{i}"])
            glo = np.where(keep[..., None], h[..., 16:], 0).sum(1)   # [B,16]
            g = np.where(nk > 0, div_trunc(glo, np.maximum(nk, 1)), 0)
            h = np.concatenate([h[..., :16], np.broadcast_to(g[:, None, :], h[..., 16:].shape)], -1)
            h = self.gelu8(self.gemm(f"{n}.l2_{i}", h), self.f[f"{n}.g2{i}"])
            h = self.gelu8(self.gemm(f"{n}.l3_{i}", h), self.f[f"{n}.g3{i}"])
            deltas.append(self.gemm(f"{n}.l4_{i}", h)[..., 0])
        dl = np.stack(deltas, -1)                                 # [B,49,2] Q8
        B, N, _ = xp.shape
        msum = xp.reshape(B, N, 2, 32).sum(-1)
        m = requant(rshift_round(msum, 5), self.fr - self.f[f"{n}.m"], 8)
        hw = self.gelu8(self.gemm(f"{n}.hb1", m), self.f[f"{n}.hg"])
        w = sigmoid_int(self.gemm(f"{n}.hb2", hw))               # Q12
        ws = w.sum(-1)
        num = (w * dl).sum(-1)
        S = np.where(ws > 0, div_trunc(num, np.maximum(ws, 1)), div_trunc(dl.sum(-1), 2))
        return sat(S, 16)

    def threshold(self, b, cum_keep_milli):
        """Threshold for cumulative keep fraction given in thousandths (integer)."""
        j = min(19, max(0, (cum_keep_milli * 20 + 500) // 1000 - 1))
        return int(self.t[f"s{b}.thr"][j])

    # -- whole model
    def run(self, imgs, sched=(), mode="heatvit", probe=()):
        """imgs uint8 [B,28,28].  sched: list of (block, threshold) for mode 'heatvit'
        (keep iff S > threshold); list of (block, k) for 'topk' (DynamicViT-style, pruned
        tokens dropped) and 'evit' (top-k by the previous block's CLS attention, the rest
        fused into the package token).  probe: blocks whose selector scores are recorded
        in a dense pass (no pruning; used for calibration)."""
        imgs = np.asarray(imgs)
        B = imgs.shape[0]
        p = imgs.astype(I64).reshape(B, 7, 4, 7, 4).transpose(0, 1, 3, 2, 4).reshape(B, 49, 16)
        x = np.zeros((B, 51, 64), dtype=I64)
        x[:, 1:50] = sat(self.gemm("pe", p) + self.t["pos"][1:], 16)
        x[:, 0] = self.t["pos"][0]
        keep = np.ones((B, 49), dtype=bool)
        alive = np.zeros(B, dtype=bool)
        wsum = np.zeros(B, dtype=I64)
        sched = dict(sched)
        out = {"tokens": np.zeros((B, 12), dtype=I64), "masks": {}, "scores": {}, "sel_in": {}}
        cls_attn = None
        for i in range(12):
            if i in probe:
                out["scores"][i] = self.selector_score(i, x[:, 1:50], keep)
            if i in sched:
                xp = x[:, 1:50]
                out["sel_in"][i] = keep.sum(1)
                if mode == "evit":
                    S = cls_attn[:, 1:50]
                else:
                    S = self.selector_score(i, xp, keep)
                out["scores"][i] = S
                if mode == "heatvit":
                    dec = keep & (S > sched[i])
                else:
                    k = sched[i]
                    Sm = np.where(keep, S, I64(INT32_MIN))
                    order = np.argsort(-Sm, axis=1, kind="stable")[:, :k]
                    dec = np.zeros_like(keep)
                    np.put_along_axis(dec, order, True, axis=1)
                    dec &= keep
                pruned = keep & ~dec
                if mode != "topk":
                    om = (sigmoid_int(S) + 1) if mode == "heatvit" else (S + 1)
                    om = np.where(pruned, om, 0)                      # [B,49]
                    acc = wsum[:, None] * x[:, 50] + (om[..., None] * xp).sum(1)
                    wsum = wsum + om.sum(1)
                    x[:, 50] = np.where(wsum[:, None] > 0,
                                        sat(div_trunc(acc, np.maximum(wsum, 1)[:, None]), 16), 0)
                    alive = wsum > 0
                keep = dec
                out["masks"][i] = keep.copy()
            valid = np.concatenate([np.ones((B, 1), bool), keep, alive[:, None]], 1)
            out["tokens"][:, i] = valid.sum(1)
            if mode == "evit" and (i + 1) in sched:
                x, cls_attn = self.block(i, x, valid, True)
            else:
                x = self.block(i, x, valid)
        h = self.ln("lnf", x[:, 0])
        logits = self.gemm("head", h)
        out["logits"] = logits
        out["pred"] = np.argmax(logits, axis=1)
        return out


def load(path):
    from training import hvt
    kind, meta, tensors = hvt.read(path)
    if kind != "deit-micro-int8":
        raise ValueError(f"{path}: kind is {kind!r}, expected 'deit-micro-int8'")
    im = IntModel(tensors, meta)
    im.path = path
    return im
