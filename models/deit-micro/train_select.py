"""Selector stages: bank, dedicated schedule, latency-aware multi-stage, QAT.

All stages are seeded per step (the batch, the random subset and the Gumbel noise of
step s depend only on --seed and s), and checkpoint every --ckpt-every steps, so a
killed run resumes where it stopped and produces the same result.
"""
import argparse
import json
import math
import os
import re
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (load_split, log, atomic_write_json, read_json, CANDIDATE_BLOCKS, cli, load_ckpt,  # noqa: E402
                    autocast, check_resume_precision)
from model import check_backbone_state  # noqa: E402
from net import PrunedDeit, QCtx, SPREAD_MIN  # noqa: E402
from costs import DENSE_MACS, LatencyTable, expected_tokens, model_macs  # noqa: E402
from train_dense import augment  # noqa: E402



# ------------------------------------------------------------------ helpers
def build_model(ck_path):
    ck = load_ckpt(ck_path)
    sd = ck["model"]
    m = PrunedDeit()
    if any(k.startswith("backbone.") for k in sd):
        bsd = {k[len("backbone."):]: v for k, v in sd.items() if k.startswith("backbone.")}
        check_backbone_state(bsd, ck_path)
        ref = m.state_dict()
        for k, v in sd.items():
            if k not in ref:
                raise ValueError(f"{ck_path}: unexpected tensor '{k}'")
            if tuple(v.shape) != tuple(ref[k].shape):
                raise ValueError(f"{ck_path}: tensor '{k}' has shape {list(v.shape)}, "
                                 f"expected {list(ref[k].shape)}")
        m.load_state_dict(sd, strict=False)
    else:
        check_backbone_state(sd, ck_path)
        m.load_backbone(sd)
    return m, ck


def load_teacher(ckpt_dir):
    """The frozen dense float model of stage 1 (distillation teacher)."""
    from model import DeitMicro
    path = os.path.join(ckpt_dir, "dense.pt")
    sd = load_ckpt(path)["model"]
    check_backbone_state(sd, path)
    t = DeitMicro()
    t.load_state_dict(sd)
    t.eval()
    for p in t.parameters():
        p.requires_grad_(False)
    return t


def parse_sched(s):
    """'3:0.7,6:0.7' -> [(3,0.7),(6,0.7)]; validates the blocks."""
    out = []
    if not s:
        return out
    for part in s.split(","):
        b, k = part.split(":")
        b, k = int(b), float(k)
        if b not in CANDIDATE_BLOCKS:
            raise ValueError(f"schedule: selector block {b} is not a candidate block "
                             f"({CANDIDATE_BLOCKS[0]}..{CANDIDATE_BLOCKS[-1]})")
        if not 0.0 < k <= 1.0:
            raise ValueError(f"schedule: keep {k} for block {b} is outside (0, 1]")
        out.append((b, k))
    return sorted(out)


def load_sched_json(path):
    j = read_json(path, "schedule file")
    if "selectors" not in j or not isinstance(j["selectors"], list):
        raise ValueError(f"{path}: field 'selectors' missing or not a list")
    out = []
    for i, s in enumerate(j["selectors"]):
        b, k = s.get("block"), s.get("keep")
        if b not in CANDIDATE_BLOCKS:
            raise ValueError(f"{path}: selectors[{i}].block = {b!r} is not a candidate block "
                             f"({CANDIDATE_BLOCKS[0]}..{CANDIDATE_BLOCKS[-1]})")
        if not isinstance(k, (int, float)) or not 0.0 < k <= 1.0:
            raise ValueError(f"{path}: selectors[{i}].keep = {k!r} is outside (0, 1]")
        out.append((b, float(k)))
    if len({b for b, _ in out}) != len(out):
        raise ValueError(f"{path}: field 'selectors' lists a block twice")
    return sorted(out)


def random_sched(gen, p_on=0.3, p_empty=0.1):
    if torch.rand(1, generator=gen).item() < p_empty:
        return []
    on = [b for b in CANDIDATE_BLOCKS if torch.rand(1, generator=gen).item() < p_on]
    if not on:
        on = [CANDIDATE_BLOCKS[torch.randint(0, len(CANDIDATE_BLOCKS), (1,), generator=gen).item()]]
    return [(b, 0.35 + 0.6 * torch.rand(1, generator=gen).item()) for b in on]


@torch.no_grad()
def evaluate(model, x, y, sched=None, qc=None, thresholds=None, topk=None, evit=None, bs=250):
    model.eval()
    correct, toks = 0, np.zeros(12)
    for i in range(0, len(x), bs):
        out, aux = model(x[i:i + bs], sched=sched, qc=qc, thresholds=thresholds,
                         return_aux=True, topk=topk, evit=evit)
        correct += (out.argmax(-1) == y[i:i + bs]).sum().item()
        toks += np.array(aux["tokens"]) * len(out)
    toks /= len(x)
    return correct / len(x), toks


def schedule_macs(toks, sched):
    """MACs from mean tokens per block; selector cost from the patch tokens reaching it."""
    sel = [toks[b] - 1 - (1 if any(bb < b for bb, _ in sched) else 0) for b, _ in sched]
    return model_macs(toks, sel)


# ------------------------------------------------------------------ training loop
def train_steps(model, xtr, ytr, steps, sched_fn, qc, lr_bb, lr_sel, ckpt, seed, logf, tag,
                bs=128, ckpt_every=100, ratio_w=2.0, ratio_weights=None, trainable_sel=None,
                teacher=None, kd_w=1.0, spread_w=1.0, rule="gumbel", range_w=0.0, precision="fp32"):
    """teacher: frozen dense model; when given, the loss adds kd_w * KL(teacher || model)
    on the same augmented batch (DynamicViT-style logit distillation). range_w > 0 adds
    range_w * the selectors' range excess (net.range_excess: pre-GELU values beyond
    net.GELU_IN_LIM, head deltas beyond net.DELTA_LIM), which keeps the selectors inside
    their integer formats. precision "bf16": the forward passes (model and teacher) run under
    bfloat16 autocast; weights, optimiser state and the loss stay fp32."""
    sel_params = [p for b, s in model.selectors.items()
                  if trainable_sel is None or int(b) in trainable_sel for p in s.parameters()]
    for p in model.selectors.parameters():  # lr_sel = 0: frozen selectors
        p.requires_grad_(lr_sel > 0)
    groups, base = [], []
    for p in model.backbone.parameters():   # lr_bb = 0: frozen backbone, no gradients computed
        p.requires_grad_(lr_bb > 0)
    if lr_bb > 0:
        groups.append({"params": model.backbone.parameters(), "lr": lr_bb, "weight_decay": 0.05})
        base.append(lr_bb)
    if lr_sel > 0:
        groups.append({"params": sel_params, "lr": lr_sel, "weight_decay": 0.0})
        base.append(lr_sel)
    if not groups:
        if steps > 0:
            raise ValueError(f"{tag}: --lr-bb and --lr-sel are both 0: nothing to train")
        return 0.0
    opt = torch.optim.AdamW(groups)
    start, wall = 0, 0.0
    if os.path.exists(ckpt):
        ck = load_ckpt(ckpt, "opt")
        check_resume_precision(ck, ckpt, precision, "same --precision, or remove the checkpoint")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        start, wall = ck["step"], ck["wall"]
        log(logf, f"{tag}: resumed at step {start}")
    t0 = time.time()
    model.train()
    run_loss, run_n = 0.0, 0
    for step in range(start, steps):
        gen = torch.Generator().manual_seed(seed * 1000003 + step)
        torch.manual_seed(seed * 7919 + step)
        idx = torch.randint(0, len(xtr), (bs,), generator=gen)
        xb = augment(xtr[idx], gen)
        yb = ytr[idx]
        sched = sched_fn(gen, step)
        f = 0.5 * (1 + math.cos(math.pi * step / steps)) * min(1.0, (step + 1) / max(1, min(50, steps // 5)))
        for g, b0 in zip(opt.param_groups, base):
            g["lr"] = b0 * max(f, 0.02)
        if range_w > 0:
            for s_ in model.selectors.values():
                s_.range_terms = []
        amp = autocast(precision)
        try:
            with amp:
                out, aux = model(xb, sched=sched, qc=qc, train_sel=True, return_aux=True, rule=rule)
            terms = [t.float() for s_ in model.selectors.values() for t in (s_.range_terms or [])]
        finally:
            for s_ in model.selectors.values():
                s_.range_terms = None
        out = out.float()
        loss = F.cross_entropy(out, yb, label_smoothing=0.1)
        if terms:
            loss = loss + range_w * torch.stack(terms).sum()
        if teacher is not None:
            with torch.no_grad(), amp:
                tl_ = teacher(xb)
            tp = F.softmax(tl_.float(), -1)
            loss = loss + kd_w * F.kl_div(F.log_softmax(out, -1), tp, reduction="batchmean")
        for (b, frac, rho) in aux["ratio"]:
            w = 1.0 if ratio_weights is None else ratio_weights.get(b, 1.0)
            loss = loss + ratio_w * w * (frac.float() - rho) ** 2
        for (b, sd) in aux["spread"]:
            loss = loss + spread_w * F.relu(SPREAD_MIN - sd.float()) ** 2
        opt.zero_grad(set_to_none=True)
        if loss.requires_grad:  # a dense step with a frozen backbone has nothing to train
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        run_loss += loss.item()
        run_n += 1
        if (step + 1) % ckpt_every == 0 or step + 1 == steps:
            wall += time.time() - t0
            t0 = time.time()
            log(logf, f"{tag}: step {step + 1}/{steps} loss {run_loss / run_n:.4f} wall_s {wall:.0f}")
            run_loss, run_n = 0.0, 0
            tmp = ckpt + ".tmp"
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step + 1,
                        "wall": wall, "precision": precision}, tmp)
            os.replace(tmp, ckpt)
            model.train()
    return wall


def save_final(path, model, **meta):
    tmp = path + ".tmp"
    torch.save(dict(model=model.state_dict(), **meta), tmp)
    os.replace(tmp, path)


# ------------------------------------------------------------------ stages
def stage_bank(a, xtr, ytr, xte, yte, teacher):
    model, _ = build_model(os.path.join(a.ckpt_dir, "dense.pt"))
    wall = train_steps(model, xtr, ytr, a.steps, lambda g, s: random_sched(g), QCtx("float"),
                       a.lr_bb, a.lr_sel, os.path.join(a.ckpt_dir, "bank-last.pt"), a.seed,
                       a.log, "bank", bs=a.bs, ckpt_every=a.ckpt_every, teacher=teacher, kd_w=a.kd,
                       precision=a.precision)
    acc, _ = evaluate(model, xte, yte)
    save_final(os.path.join(a.ckpt_dir, "bank.pt"), model, wall=wall, dense_acc=acc)
    log(a.log, f"bank: done dense test_acc {acc:.4f} wall_s {wall:.0f}")


RECENTRE_FLOOR = 16.0


@torch.no_grad()
def recentre_selectors(model, x, floor=RECENTRE_FLOOR, bs=250):
    """Shift every selector's score so that its 0.1 % quantile over the dense pass on
    images x sits at `floor`; returns {block: shift}. With the inference decision rule
    (S > batch quantile) a common offset of the scores changes no decision, so training
    lets it drift: after the adapt stage some selectors scored every token above 128
    log-odds, where the Q8 int16 score saturates and the integer thresholds cannot
    separate tokens. Subtracting c from the keep-logit bias of every head subtracts
    exactly c from S (a head-weighted mean). Decisions are unchanged (thresholds are
    calibrated afterwards), and the package weight sigmoid(S) stays at its saturated
    value for scores >= 4, where the integer sigmoid is exactly 1. The scale of the
    selector's internal values is bounded during training by the range penalty
    (train_steps range_w; docs/deit-micro-training.md, stage 2b), not here."""
    model.eval()
    sc = {}
    for i in range(0, len(x), bs):
        _, aux = model(x[i:i + bs], probe=True, return_aux=True)
        for b, v in aux["scores"].items():
            sc.setdefault(b, []).append(v.flatten())
    shifts = {}
    for b, v in sorted(sc.items()):
        c = float(torch.quantile(torch.cat(v), 0.001)) - floor
        for l4 in model.selectors[str(b)].l4:
            l4.bias[1] -= c
        shifts[b] = c
    return shifts


MAC_BAND_TRIES = 1000


def sched_mac_reduction(sched):
    """Fraction of the dense MACs a schedule saves, from its expected token counts."""
    toks, sel = expected_tokens(sched)
    return 1.0 - model_macs(toks, sel) / DENSE_MACS


def adapt_sched(gen, step, dense_every=4, p_on=0.3, band=None):
    """The adapt stage's schedule of training step `step`: dense ([]) on every
    dense_every-th step (never when dense_every is 0), otherwise a random bank subset
    with each candidate block on with probability p_on (random_sched). band (lo, hi):
    a non-empty subset is drawn again until the fraction of MACs it saves is inside
    [lo, hi]; the empty subset (10 % of the subsets) is drawn once, before."""
    if dense_every and step % dense_every == 0:
        return []
    if band is None:
        return random_sched(gen, p_on=p_on)
    if torch.rand(1, generator=gen).item() < 0.1:   # random_sched's empty subset, once
        return []
    for _ in range(MAC_BAND_TRIES):
        s = random_sched(gen, p_on=p_on, p_empty=0.0)
        if band[0] <= sched_mac_reduction(s) <= band[1]:
            return s
    raise ValueError(f"--mac-band {band[0]},{band[1]}: no random subset inside it in "
                     f"{MAC_BAND_TRIES} draws")


def stage_adapt(a, xtr, ytr, xte, yte, teacher):
    """Pruning-aware joint fine-tuning of the backbone and the whole bank. The dense
    model leans on its background (all-zero) patch tokens: removing only those before
    block 1 costs more than 30 points (docs/deit-micro-training.md). Here the backbone
    learns to do without them: three steps in four run a random bank subset (as in the
    bank stage) with the inference decision rule (deterministic S > batch quantile, no
    Gumbel noise, straight-through), one step in four is dense (by default; adapt_sched,
    --dense-every, --p-on); distillation from the dense teacher throughout. The last --val
    training images are held out (the schedule search's validation set). --init (default
    bank.pt) and --name (default adapt) let a second cycle start from the first
    (run_training.sh: adapt-c1 -> adapt)."""
    model, _ = build_model(os.path.join(a.ckpt_dir, a.init))
    nval = a.val

    def fn(g, s):
        return adapt_sched(g, s, a.dense_every, a.p_on, a.mac_band)
    wall = train_steps(model, xtr[:-nval], ytr[:-nval], a.steps, fn, QCtx("float"), a.lr_bb,
                       a.lr_sel, os.path.join(a.ckpt_dir, f"{a.name}-last.pt"), a.seed, a.log,
                       a.name, bs=a.bs, ckpt_every=a.ckpt_every, teacher=teacher, kd_w=a.kd,
                       rule=a.rule, range_w=a.range_w, precision=a.precision)
    shifts = recentre_selectors(model, xtr[:1000])
    log(a.log, f"{a.name}: selector score offsets removed (log-odds): "
               + ", ".join(f"{b}: {c:.1f}" for b, c in shifts.items()))
    acc, _ = evaluate(model, xte, yte)
    save_final(os.path.join(a.ckpt_dir, f"{a.name}.pt"), model, wall=wall, dense_acc=acc)
    log(a.log, f"{a.name}: done dense test_acc {acc:.4f} wall_s {wall:.0f}")


def stage_dedicated(a, xtr, ytr, xte, yte, teacher):
    sched = parse_sched(a.sched)
    model, _ = build_model(os.path.join(a.ckpt_dir, "dense.pt"))
    wall = train_steps(model, xtr, ytr, a.steps, lambda g, s: sched, QCtx("float"), a.lr_bb,
                       a.lr_sel, os.path.join(a.ckpt_dir, "dedicated-last.pt"), a.seed + 1,
                       a.log, "dedicated", bs=a.bs, ckpt_every=a.ckpt_every,
                       trainable_sel=[b for b, _ in sched], teacher=teacher, kd_w=a.kd,
                       precision=a.precision)
    save_final(os.path.join(a.ckpt_dir, "dedicated.pt"), model, wall=wall, sched=sched)
    log(a.log, f"dedicated: done wall_s {wall:.0f}")


@torch.no_grad()
def seq_thresholds(model, x, sched, bs=500):
    """Float thresholds of a schedule by sequential calibration on images x (the rule
    heatvit eval and the export use): selector by selector, earlier selectors active at
    their thresholds, keep `keep` of the patch tokens reaching the selector."""
    model.eval()
    sched = sorted(sched)
    th = {}
    for j, (b, k) in enumerate(sched):
        cur = sched[:j + 1]
        tt = dict(th)
        tt[b] = -1e30
        live = []
        for i in range(0, len(x), bs):
            _, aux = model(x[i:i + bs], sched=cur, thresholds=tt, return_aux=True)
            reach = aux["masks"][sched[j - 1][0]] if j else torch.ones(aux["scores"][b].shape, dtype=torch.bool)
            live.append(aux["scores"][b][reach])
        v = torch.cat(live).sort().values
        m = len(v) - int(round(k * len(v)))
        th[b] = float(v[m - 1]) if m > 0 else -1e30
    return th


def stage_latency(a, xtr, ytr, xte, yte, teacher):
    """HeatViT-style latency-aware multi-stage training on top of the bank. Stage k of K
    inserts one more selector so that the expected cycles of the schedule (latency
    table) reach the stage's target, 1 - (1 - target) * k / K of dense: among every
    free candidate block and keep rate whose schedule meets it (and, before the last
    stage, does not already go below the final target), the one with the best
    accuracy on held-out training images (thresholds by sequential calibration), then
    fine-tunes with the latency-weighted keep-ratio loss and distillation."""
    lat = LatencyTable(a.latency_table)
    model, _ = build_model(os.path.join(a.ckpt_dir, a.init))
    state_path = os.path.join(a.ckpt_dir, "latency-state.json")
    st = {"stage": 0, "sched": [], "history": [], "wall": 0.0}
    if os.path.exists(state_path):
        st = json.load(open(state_path))
        model.load_state_dict(load_ckpt(os.path.join(a.ckpt_dir, "latency-stage.pt"))["model"])
        log(a.log, f"latency: resumed after stage {st['stage']}")
    nval = a.val
    xv, yv = xtr[-nval:], ytr[-nval:]
    dense_cyc = lat.schedule_cycles([])
    base_acc, _ = evaluate(model, xv, yv)
    log(a.log, f"latency: table {a.latency_table} ({lat.source}), dense cycles {dense_cyc:.0f}, "
               f"target {a.target:.3f} of dense in {a.stages} stages, val acc dense {base_acc:.4f} "
               f"on {nval} held-out training images")
    while st["stage"] < a.stages:
        t0 = time.time()
        k = st["stage"] + 1
        goal = 1.0 - (1.0 - a.target) * k / a.stages
        sched = [tuple(s) for s in st["sched"]]
        used = {b for b, _ in sched}
        cands = [b for b in CANDIDATE_BLOCKS if b not in used]
        if sched and a.progressive:
            cands = [b for b in cands if b < min(used)]
        best, fallback = None, None
        for b in cands:
            for rho in a.keep_cands:
                cand = sorted(sched + [(b, rho)])
                cyc = lat.schedule_cycles(cand) / dense_cyc
                if k < a.stages and cyc < a.target:  # leave the later stages something to add
                    continue
                if cyc > goal:
                    if fallback is None or cyc < fallback[2]:
                        fallback = (b, rho, cyc, None)
                    continue
                acc, _ = evaluate(model, xv, yv, sched=cand, thresholds=seq_thresholds(model, xv, cand))
                if best is None or (acc, -cyc) > (best[3], -best[2]):
                    best = (b, rho, cyc, acc)
        if best is None:
            if fallback is None:
                log(a.log, f"latency: stage {k}: no free candidate block; stop")
                break
            cand = sorted(sched + [(fallback[0], fallback[1])])
            acc, _ = evaluate(model, xv, yv, sched=cand, thresholds=seq_thresholds(model, xv, cand))
            best = fallback[:3] + (acc,)
            log(a.log, f"latency: stage {k}: no candidate reaches {goal:.3f}; the fastest one")
        sched = sorted(sched + [(best[0], best[1])])
        log(a.log, f"latency: stage {k}: add selector before block {best[0]} keep {best[1]} -> "
                   f"schedule {sched} cycles {best[2]:.3f} of dense (goal {goal:.3f}) "
                   f"val acc {best[3]:.4f} before fine-tuning (dense {base_acc:.4f})")
        # latency weight of a selector: cycles saved per pruned token in the blocks it governs
        rw = {}
        for b, _ in sched:
            saved = sum(lat.cycles(j, 50) - lat.cycles(j, 49) for j in range(b, 12))
            rw[b] = saved
        mx = max(rw.values())
        rw = {b: 1.0 + v / mx for b, v in rw.items()}
        cur = list(sched)

        def fn(g, s, cur=cur):  # the schedule half the time; a random subset; dense
            r = s % 4
            return cur if r < 2 else random_sched(g) if r == 2 else []
        ck = os.path.join(a.ckpt_dir, f"latency-stage{k}-last.pt")
        w = train_steps(model, xtr[:-nval], ytr[:-nval], a.steps, fn, QCtx("float"), a.lr_bb,
                        a.lr_sel, ck, a.seed + 10 + k, a.log, f"latency-stage{k}", bs=a.bs,
                        ckpt_every=a.ckpt_every, ratio_weights=rw, teacher=teacher, kd_w=a.kd,
                        precision=a.precision)
        acc_ft, _ = evaluate(model, xv, yv, sched=sched, thresholds=seq_thresholds(model, xv, sched))
        acc_dense, _ = evaluate(model, xv, yv)
        log(a.log, f"latency: stage {k}: after fine-tuning val acc {acc_ft:.4f} (dense {acc_dense:.4f})")
        st["sched"] = sched
        st["stage"] = k
        st["history"].append({"stage": k, "block": best[0], "keep": best[1], "goal": goal,
                              "cycles_ratio": best[2], "val_acc_before_ft": best[3],
                              "val_acc_after_ft": acc_ft, "val_acc_dense_after_ft": acc_dense,
                              "search_s": time.time() - t0 - w})
        st["wall"] += time.time() - t0
        save_final(os.path.join(a.ckpt_dir, "latency-stage.pt"), model)
        atomic_write_json(state_path, st)
    save_final(os.path.join(a.ckpt_dir, "latency.pt"), model, sched=st["sched"], wall=st["wall"])
    os.makedirs(os.path.dirname(a.schedule_out), exist_ok=True)
    atomic_write_json(a.schedule_out, {
        "selectors": [{"block": b, "keep": k} for b, k in st["sched"]],
        "note": "keep = target mean fraction of the patch tokens entering the selector that it "
                "keeps (CLS and package token excluded); chosen by latency-aware multi-stage "
                f"training for {a.target:.2f} of the dense cycles of " + os.path.basename(a.latency_table)
                + " (" + lat.source + ")",
        "stages": st["history"]})
    log(a.log, f"latency: done schedule {st['sched']} wall_s {st['wall']:.0f}")


def stage_qat(a, xtr, ytr, xte, yte, teacher):
    model, _ = build_model(os.path.join(a.ckpt_dir, "latency.pt"))
    sched = load_sched_json(a.schedule_out)
    fr_path = os.path.join(a.ckpt_dir, "qat-fracs.json")
    if os.path.exists(fr_path):
        fracs = json.load(open(fr_path))
    else:
        qc = QCtx("calib")
        model.eval()
        with torch.no_grad():
            for i in range(4):
                xb = xtr[i * 250:(i + 1) * 250]
                model(xb, qc=qc, probe=True)
                model(xb, sched=sched, qc=qc)
        fracs = qc.finish_calib()
        atomic_write_json(fr_path, fracs)
    qc = QCtx("qat", fracs)

    def fn(g, s):
        r = s % 3
        return [] if r == 0 else sched if r == 1 else random_sched(g)
    wall = train_steps(model, xtr, ytr, a.steps, fn, qc, a.lr_bb, a.lr_sel,
                       os.path.join(a.ckpt_dir, "qat-last.pt"), a.seed + 100, a.log, "qat",
                       bs=a.bs, ckpt_every=a.ckpt_every, teacher=teacher, kd_w=a.kd, rule=a.rule,
                       range_w=a.range_w)
    save_final(os.path.join(a.ckpt_dir, "qat.pt"), model, fracs=fracs, wall=wall, sched=sched)
    log(a.log, f"qat: done wall_s {wall:.0f}")


RESERVED_NAMES = ("dense", "dense-c1", "bank", "dedicated", "latency", "latency-stage", "qat")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("stage", choices=["bank", "adapt", "dedicated", "latency", "qat"])
    ap.add_argument("--ckpt-dir", required=True)
    ap.add_argument("--data", default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--test-limit", type=int, default=None)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--bs", type=int, default=128)
    ap.add_argument("--lr-bb", type=float, default=2e-5)
    ap.add_argument("--lr-sel", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--sched", default="3:0.7,6:0.7,9:0.7")
    ap.add_argument("--latency-table", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                            "latency_table.json"))
    ap.add_argument("--schedule-out", default=None)
    ap.add_argument("--stages", type=int, default=3)
    ap.add_argument("--target", type=float, default=0.58,
                    help="latency-aware stage: expected cycles of the final schedule as a fraction "
                         "of dense (latency table)")
    ap.add_argument("--val", type=int, default=1000)
    ap.add_argument("--keep-cands", default="0.5,0.7")
    ap.add_argument("--progressive", action="store_true")
    ap.add_argument("--kd", type=float, default=1.0,
                    help="weight of the distillation loss from the dense model (0: off)")
    ap.add_argument("--init", default="bank.pt",
                    help="latency and adapt stages: checkpoint (in --ckpt-dir) the stage starts from")
    ap.add_argument("--name", default="adapt",
                    help="adapt stage: output name (NAME.pt, NAME-last.pt in --ckpt-dir)")
    ap.add_argument("--rule", choices=["gumbel", "hard"], default="gumbel",
                    help="training decision rule of the active selectors (net.PrunedDeit.forward)")
    ap.add_argument("--range-w", type=float, default=0.0,
                    help="adapt and qat: weight of the penalty that keeps selector values inside "
                         "their integer formats (net.range_excess); 0 = off")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="bank, adapt, dedicated, latency: bf16 runs the training forward passes "
                         "under bfloat16 autocast (fp32 weights, optimiser and loss); qat is fp32 only")
    ap.add_argument("--dense-every", type=int, default=None,
                    help="adapt stage only: one training step in N is dense, the others run a "
                         "random bank subset; 0 = no dense steps (default 4)")
    ap.add_argument("--p-on", type=float, default=None,
                    help="adapt stage only: probability that a candidate selector is on in a "
                         "random bank subset (default 0.3)")
    ap.add_argument("--mac-band", default=None, metavar="LO,HI",
                    help="adapt stage only: random subsets save between LO and HI of the dense "
                         "MACs (fractions, drawn again until they do); default: any")
    ap.add_argument("--log", default=None)
    a = ap.parse_args(argv)
    if a.stage != "adapt" and (a.dense_every is not None or a.p_on is not None
                               or a.mac_band is not None):
        ap.error(f"--dense-every, --p-on and --mac-band apply to the adapt stage only, "
                 f"not '{a.stage}'")
    if a.mac_band is not None:
        try:
            lo, hi = (float(v) for v in a.mac_band.split(","))
        except ValueError:
            ap.error(f"--mac-band {a.mac_band!r}: must be LO,HI (two fractions)")
        if not 0.0 <= lo < hi <= 1.0:   # also rejects nan
            ap.error(f"--mac-band {a.mac_band}: needs 0 <= LO < HI <= 1")
        a.mac_band = (lo, hi)
    a.dense_every = 4 if a.dense_every is None else a.dense_every
    a.p_on = 0.3 if a.p_on is None else a.p_on
    if a.dense_every < 0:
        ap.error(f"--dense-every {a.dense_every}: must be >= 0")
    if not 0.0 < a.p_on <= 1.0:   # also rejects nan
        ap.error(f"--p-on {a.p_on}: must be in (0, 1]")
    if a.stage == "qat" and a.precision != "fp32":
        ap.error("--precision bf16: the qat stage's fake quantisation must run in fp32")
    if not a.range_w >= 0:   # also rejects nan
        ap.error(f"--range-w {a.range_w}: must be >= 0")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", a.name) or a.name in RESERVED_NAMES:
        ap.error(f"--name {a.name!r}: must be letters, digits, '-' or '_' and not the output of "
                 f"another stage ({', '.join(RESERVED_NAMES)})")
    a.keep_cands = [float(v) for v in a.keep_cands.split(",")]
    if not 0.0 < a.target <= 1.0:
        ap.error(f"--target {a.target} is outside (0, 1]")
    if a.schedule_out is None:
        a.schedule_out = os.path.join(a.ckpt_dir, "schedule-default.json")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load_split("train", a.data, a.limit)
    xte, yte = load_split("t10k", a.data, a.test_limit)
    xtr, ytr = torch.from_numpy(xtr.copy()), torch.from_numpy(ytr)
    xte, yte = torch.from_numpy(xte.copy()), torch.from_numpy(yte)
    teacher = load_teacher(a.ckpt_dir) if a.kd > 0 else None
    {"bank": stage_bank, "adapt": stage_adapt, "dedicated": stage_dedicated, "latency": stage_latency,
     "qat": stage_qat}[a.stage](a, xtr, ytr, xte, yte, teacher)


if __name__ == "__main__":
    cli(main)
