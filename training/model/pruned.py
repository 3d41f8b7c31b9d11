"""deit-micro with the HeatViT token-selector bank, in float or fake-quantised (QAT) form.

Token layout used in training/evaluation in PyTorch: a fixed 51-row tensor
[CLS, 49 patch tokens in patch order, package slot]. Pruned patch rows and a not-yet
existing package row are masked out of every attention (as keys); since every other
operation is row-wise, this is mathematically the dense compacted computation that the
hardware and the integer reference perform (see docs/integer-numerics.md).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from training.model.shape import SHAPE, CANDIDATE_BLOCKS, PIX_MEAN, PIX_STD
from training.model.backbone import DeitMicro

D, H, HD = SHAPE["dim"], SHAPE["heads"], SHAPE["head_dim"]
F_H = 10      # fixed fraction bits of every pre-GELU int16 value
F_D = 8       # fixed fraction bits of selector log-odds (int16)
F_SIG = 12    # sigmoid output fraction bits
LN2 = math.log(2.0)
SIGNAL_SCALE = 2.0   # training: standardised score x 2 against logistic noise (std 1.81)
SPREAD_MIN = 1.0     # training: hinge on the std of a selector's live scores (log-odds)
# training: hinge on selector values that would leave their fixed integer formats; 3/4 of
# the range, so that a value at the limit still has headroom after quantisation
GELU_IN_LIM = 0.75 * 2.0 ** (15 - F_H)    # pre-GELU int16 Q10 holds |x| < 32
DELTA_LIM = 0.75 * 2.0 ** (15 - F_D)      # per-head log-odds int16 Q8 holds |x| < 128


def range_excess(x, lim):
    """Mean squared excess of |x| over lim (0 while every value is inside)."""
    return (F.relu(x.abs() - lim) ** 2).mean()


# ---------------------------------------------------------------- nonlinear approximations
def gelu_poly(x):
    """I-BERT GELU: x/2 * (1 + L(x/sqrt2)), L(u) = sign(u)[a(min(|u|,-b)+b)^2+1]."""
    a, b = -0.2888, -1.769
    u = x / math.sqrt(2.0)
    L = torch.sign(u) * (a * (torch.clamp(u.abs(), max=-b) + b) ** 2 + 1.0)
    return 0.5 * x * (1.0 + L)


def sigmoid_poly(x):
    """Shift-only piecewise quadratic: 0.5 + c/4 - c|c|/32 with c = clamp(x,-4,4)."""
    c = torch.clamp(x, -4.0, 4.0)
    return 0.5 + c / 4.0 - c * c.abs() / 32.0


def exp_poly(x):
    """I-BERT exp for x <= 0: x = -ln2*z + p, exp(p) ~ 0.3585(p+1.353)^2+0.344, >> z."""
    x = torch.clamp(x, min=-16.0)
    z = torch.floor(-x / LN2).detach()
    p = x + z * LN2
    return (0.3585 * (p + 1.353) ** 2 + 0.344) * torch.pow(2.0, -z)


# ---------------------------------------------------------------- fake quantisation
def ste_round(x):
    return x + (torch.round(x) - x).detach()


def fq(x, frac, bits=8, signed=True):
    s = 2.0 ** frac
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    q = torch.clamp(ste_round(x * s), lo, hi)
    return q / s


def weight_frac(w, bits=8):
    m = float(w.detach().abs().max())
    if m == 0:
        return 15
    return int(min(20, math.floor(math.log2((2 ** (bits - 1) - 1) / m))))


class QCtx:
    """Fake-quantisation context. mode: 'float' | 'calib' (record max|x|) | 'qat'."""

    def __init__(self, mode="float", fracs=None):
        self.mode = mode
        self.fracs = dict(fracs or {})
        self.maxabs = {}

    @property
    def q(self):
        return self.mode == "qat"

    def act(self, name, x, bits=8):
        if self.mode == "calib":
            if x.numel() == 0:
                return x
            m = float(x.detach().abs().max())
            self.maxabs[name] = max(self.maxabs.get(name, 0.0), m)
            return x
        if self.mode == "qat":
            return fq(x, self.fracs[name], bits)
        return x

    def fixed(self, x, frac, bits=16):
        return fq(x, frac, bits) if self.q else x

    def finish_calib(self, headroom=1.0):
        out = {}
        for k, m in self.maxabs.items():
            bits = 16 if k == "res" else 8
            m = max(m * headroom, 1e-6)
            out[k] = int(max(-4, min(20, math.floor(math.log2((2 ** (bits - 1) - 1) / m)))))
        return out

    def linear(self, lin, x, wscale=1.0):
        w = lin.weight * wscale
        if self.q:
            w = fq(w, weight_frac(w))
        return F.linear(x, w, lin.bias)

    def gelu(self, x):
        if self.q:
            return gelu_poly(fq(x, F_H, 16))
        return F.gelu(x)

    def sigmoid(self, x):
        if self.q:
            return fq(sigmoid_poly(fq(x, F_D, 16)), F_SIG, 16)
        return torch.sigmoid(x)

    def layernorm(self, ln, x):
        return F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps)


# ---------------------------------------------------------------- token selector
class Selector(nn.Module):
    def __init__(self):
        super().__init__()
        d = HD
        self.ln = nn.ModuleList([nn.LayerNorm(d) for _ in range(H)])
        self.l1 = nn.ModuleList([nn.Linear(d, d) for _ in range(H)])
        self.l2 = nn.ModuleList([nn.Linear(d, d // 2) for _ in range(H)])
        self.l3 = nn.ModuleList([nn.Linear(d // 2, d // 4) for _ in range(H)])
        self.l4 = nn.ModuleList([nn.Linear(d // 4, 2) for _ in range(H)])
        self.hb1 = nn.Linear(H, max(1, H // 2))
        self.hb2 = nn.Linear(max(1, H // 2), H)
        # He initialisation: the selector is a 4-layer GELU MLP, and with small weights
        # (std 0.05) its output spread starts ~1e-4 log-odds and hardly trains
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=math.sqrt(2.0 / m.in_features))
                nn.init.zeros_(m.bias)
        for l4 in self.l4:  # start biased towards "keep"
            l4.bias.data = torch.tensor([-1.0, 1.0])

    # range_terms: None, or a list that forward() appends range_excess terms to (training
    # with a range penalty: the score is invariant to its scale under the inference rule,
    # so without one pruning-aware training lets the selector's pre-GELU values and head
    # deltas grow past their integer formats, which then clip them)
    range_terms = None
    # range_max: None, or a dict that forward() records the largest |value| in, under
    # "pre" (pre-GELU tensors, limit GELU_IN_LIM) and "delta" (head deltas, DELTA_LIM)
    # (analyses/selector_ranges.py)
    range_max = None

    def _pre(self, x, lim=GELU_IN_LIM):
        if self.range_terms is not None:
            self.range_terms.append(range_excess(x, lim))
        if self.range_max is not None:
            k = "pre" if lim == GELU_IN_LIM else "delta"
            self.range_max[k] = max(self.range_max.get(k, 0.0), float(x.detach().abs().max()))
        return x

    # qpart: None, or (parts, qat_ctx) for a measurement (analyses/selector_quantization.py): the parts named in
    # `parts` (SEL_PARTS) run fake-quantised with qat_ctx, the rest with the context the
    # model passes in
    qpart = None

    def _qc(self, qc, part):
        if self.qpart is None:
            return qc
        parts, qq = self.qpart
        return qq if part in parts else qc

    def forward(self, xp, keep, qc0, name):
        """xp: patch rows [B,49,D] of the residual stream; keep [B,49] current policy.
        Returns the score S [B,49] (head-weighted keep log-odds)."""
        B, N, _ = xp.shape
        deltas = []
        for i in range(H):
            xi = xp[..., i * HD:(i + 1) * HD]
            qc = self._qc(qc0, "ln")
            h = qc.act(f"{name}.ln{i}", qc.layernorm(self.ln[i], xi))
            qc = self._qc(qc0, "l1")
            h = qc.act(f"{name}.g1{i}", qc.gelu(self._pre(qc.linear(self.l1[i], h))))
            loc, glo = h[..., :HD // 2], h[..., HD // 2:]
            w = keep.unsqueeze(-1)
            g = (glo * w).sum(1, keepdim=True) / w.sum(1, keepdim=True).clamp(min=1.0)
            if qc.q:
                g = fq(g, qc.fracs[f"{name}.g1{i}"])
            h = torch.cat([loc, g.expand(-1, N, -1)], -1)
            qc = self._qc(qc0, "l2")
            h = qc.act(f"{name}.g2{i}", qc.gelu(self._pre(qc.linear(self.l2[i], h))))
            qc = self._qc(qc0, "l3")
            h = qc.act(f"{name}.g3{i}", qc.gelu(self._pre(qc.linear(self.l3[i], h))))
            qc = self._qc(qc0, "l4")
            l4 = self.l4[i]
            wd = (l4.weight[1] - l4.weight[0]).unsqueeze(0)
            bd = (l4.bias[1] - l4.bias[0]).unsqueeze(0)
            if qc.q:
                wd = fq(wd, weight_frac(wd))
            dlt = self._pre(F.linear(h, wd, bd)[..., 0], DELTA_LIM)
            deltas.append(qc.fixed(dlt, F_D, 16))
        dl = torch.stack(deltas, -1)  # [B,N,H]
        m = xp.view(B, N, H, HD).mean(-1)
        m = self._qc(qc0, "m").act(f"{name}.m", m)
        qc = self._qc(qc0, "hb1")
        hw = qc.act(f"{name}.hg", qc.gelu(self._pre(qc.linear(self.hb1, m))))
        qc = self._qc(qc0, "hb2")
        hw = qc.sigmoid(qc.linear(self.hb2, hw))  # [B,N,H]
        S = (hw * dl).sum(-1) / hw.sum(-1).clamp(min=1e-4)
        return self._qc(qc0, "S").fixed(S, F_D, 16)


SEL_PARTS = ("ln", "l1", "l2", "l3", "l4", "m", "hb1", "hb2", "S")


# ---------------------------------------------------------------- full model
class PrunedDeit(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = DeitMicro()
        self.selectors = nn.ModuleDict({str(b): Selector() for b in CANDIDATE_BLOCKS})

    def load_backbone(self, sd):
        self.backbone.load_state_dict(sd)

    # -- pieces shared with the dense model, with quantisation hooks
    def _embed(self, x_u8, qc):
        bb = self.backbone
        p = x_u8.float().view(-1, 7, 4, 7, 4).permute(0, 1, 3, 2, 4).reshape(-1, 49, 16)
        # normalisation folded into the patch weights (what the integer model does)
        w = bb.patch_embed.weight / (255.0 * PIX_STD)
        bvec = bb.patch_embed.bias - (PIX_MEAN / PIX_STD) * bb.patch_embed.weight.sum(1)
        if qc.q:
            w = fq(w, weight_frac(w))
        x = F.linear(p, w, bvec)
        if qc.q:
            fr = qc.fracs["res"]
            x = fq(x, fr, 16)
            pos = fq(bb.pos_embed, fr, 16)
            cls = fq(bb.cls_token + bb.pos_embed[:, :1], fr, 16)
            x = fq(x + pos[:, 1:], fr, 16)
            cls = cls.expand(x.shape[0], -1, -1)
        else:
            x = x + bb.pos_embed[:, 1:]
            cls = (bb.cls_token + bb.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        if qc.mode == "calib":
            qc.act("res", torch.cat([cls, x], 1))
        return torch.cat([cls, x], 1)

    def _block(self, i, x, colmask, qc, want_cls_attn=False):
        blk = self.backbone.blocks[i]
        n = f"b{i}"
        B, N, _ = x.shape
        h = qc.act(n + ".ln1", qc.layernorm(blk.norm1, x))
        at = blk.attn
        scale = torch.ones(3 * D)
        scale[:D] = 1.0 / math.sqrt(HD)   # 1/sqrt(d) folded into the q weights
        w = at.qkv.weight * scale[:, None]
        bq = at.qkv.bias * scale
        if qc.q:
            # q, k and v are three separate GEMM weight tensors in the integer model
            w = torch.cat([fq(w[j * D:(j + 1) * D], weight_frac(w[j * D:(j + 1) * D]))
                           for j in range(3)], 0)
        qkv = F.linear(h, w, bq).view(B, N, 3, H, HD).permute(2, 0, 3, 1, 4)
        q = qc.act(n + ".q", qkv[0])
        k = qc.act(n + ".k", qkv[1])
        v = qc.act(n + ".v", qkv[2])
        a = q @ k.transpose(-2, -1)
        m = colmask[:, None, None, :]
        eye = torch.eye(N)[None, None]
        m = m + (1 - m) * eye
        a = a - (a - 1e9 * (1 - m.detach())).max(-1, keepdim=True)[0].detach()
        e = (exp_poly(a) if qc.q else a.exp()) * m
        attn = e / e.sum(-1, keepdim=True)
        if qc.q:
            attn = torch.clamp(ste_round(attn * 256.0), 0, 255) / 256.0
        o = (attn @ v).transpose(1, 2).reshape(B, N, D)
        o = qc.act(n + ".ao", o)
        x = x + qc.linear(at.proj, o)
        x = qc.act("res", x, 16) if qc.mode != "float" else x
        h = qc.act(n + ".ln2", qc.layernorm(blk.norm2, x))
        h = qc.act(n + ".g", qc.gelu(qc.linear(blk.mlp.fc1, h)))
        x = x + qc.linear(blk.mlp.fc2, h)
        x = qc.act("res", x, 16) if qc.mode != "float" else x
        if want_cls_attn:
            return x, attn[:, :, 0, :].mean(1)
        return x

    def forward(self, x_u8, sched=None, qc=None, train_sel=False, gumbel_tau=1.0,
                thresholds=None, return_aux=False, topk=None, evit=None, probe=False,
                rule="gumbel"):
        """sched: list of (block, keep_rate).  Training (train_sel=True): per active
        selector, a batch-quantile threshold for the keep rate plus Gumbel noise, hard
        straight-through decisions.  Inference: keep iff S > thresholds[block]
        (default 0 = argmax).  topk={block: k}: DynamicViT-style fixed top-k by score,
        pruned tokens dropped (no package).  evit={block: k}: EViT-style top-k by the
        previous block's CLS attention, the rest fused into the package token.
        rule: training decision rule, "gumbel" (Gumbel-softmax sample, straight-through) or
        "hard" (deterministic S > batch quantile, as at inference, straight-through
        through the noise-free sigmoid)."""
        qc = qc or QCtx("float")
        sched = dict(sched or [])
        x = self._embed(x_u8, qc)
        B = x.shape[0]
        keep = torch.ones(B, 49)
        pkg = torch.zeros(B, 1, D)
        wsum = torch.zeros(B, 1)
        alive = torch.zeros(B, 1)
        ratio_terms, spread_terms, tokens, scores, kept_masks = [], [], [], {}, {}
        cls_attn = None
        for i in range(12):
            if probe and str(i) in self.selectors and i not in sched:
                with torch.no_grad():
                    scores[i] = self.selectors[str(i)](x[:, 1:50], keep, qc, f"s{i}")
            act_sel = i in sched or (topk and i in topk) or (evit and i in evit)
            if act_sel:
                xp = x[:, 1:50]
                if evit and i in evit:
                    S = torch.log(cls_attn[:, 1:50].clamp(min=1e-9))
                else:
                    S = self.selectors[str(i)](xp, keep, qc, f"s{i}")
                scores[i] = S
                if topk and i in topk or evit and i in evit:
                    k = (topk or evit)[i]
                    Sm = S.masked_fill(keep < 0.5, -1e9)
                    idx = Sm.topk(k, dim=1).indices
                    dec = torch.zeros_like(keep).scatter_(1, idx, 1.0)
                    soft = dec
                elif train_sel:
                    rho = sched[i]
                    live = S[keep > 0.5]
                    with torch.no_grad():
                        t = torch.quantile(live, 1.0 - rho) if live.numel() else torch.tensor(0.)
                    # spread of the live scores: decisions are made on scores standardised
                    # by it (so the Gumbel noise is relative to the ranking, whatever the
                    # scale), and a hinge keeps it >= SPREAD_MIN so that the Q8 integer
                    # scores stay far from ties
                    sd = live.std() if live.numel() > 1 else torch.tensor(1.0)
                    spread_terms.append((i, sd))
                    if rule == "hard":
                        g = torch.zeros_like(S)
                    else:
                        u1 = torch.rand_like(S).clamp(1e-6, 1 - 1e-6)
                        u2 = torch.rand_like(S).clamp(1e-6, 1 - 1e-6)
                        g = -torch.log(-torch.log(u1)) + torch.log(-torch.log(u2))
                    z = SIGNAL_SCALE * (S - t) / sd.detach().clamp(min=1e-3)
                    soft = torch.sigmoid((z + g) / gumbel_tau)
                    hard = (soft > 0.5).float()
                    dec = hard + soft - soft.detach()
                    frac = (soft * keep).sum(1) / keep.sum(1).clamp(min=1)
                    ratio_terms.append((i, frac.mean(), rho))
                else:
                    t = 0.0 if thresholds is None else thresholds[i]
                    dec = (S > t).float()
                    soft = dec
                pruned = keep * (1 - dec)
                if topk and i in topk:
                    keep = keep * dec
                else:
                    if evit and i in evit:
                        om = cls_attn[:, 1:50]
                    else:
                        om = qc.sigmoid(S) + 1.0 / 4096
                    wgt = (pruned * om).unsqueeze(-1)
                    num = wsum.unsqueeze(-1) * pkg + (wgt * xp).sum(1, keepdim=True)
                    wsum = wsum + wgt.sum(1)
                    pkg = num / wsum.clamp(min=1e-6).unsqueeze(-1)
                    if qc.q:
                        pkg = fq(pkg, qc.fracs["res"], 16)
                    alive = torch.maximum(alive, ((pruned.detach() > 0.5).any(1, keepdim=True)).float())
                    keep = keep * dec
                kept_masks[i] = keep.detach() > 0.5
                x = torch.cat([x[:, :50], pkg], 1)
            elif x.shape[1] == 50:
                x = torch.cat([x, pkg], 1)
            colmask = torch.cat([torch.ones(B, 1), keep, alive], 1)
            tokens.append((1 + keep.detach().sum(1) + alive[:, 0]).mean().item())
            want = evit is not None and (i + 1) in evit
            if want:
                x, cls_attn = self._block(i, x, colmask, qc, True)
            else:
                x = self._block(i, x, colmask, qc)
        bb = self.backbone
        h = qc.act("lnf", qc.layernorm(bb.norm, x[:, 0]))
        logits = qc.linear(bb.head, h)
        if return_aux:
            return logits, dict(ratio=ratio_terms, spread=spread_terms, tokens=tokens, scores=scores,
                                masks=kept_masks)
        return logits
