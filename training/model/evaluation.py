"""The pruned model as the stages and analyses use it: built from a checkpoint (a dense
backbone or a whole pruned model), the frozen dense model as distillation teacher, its
float evaluation (accuracy and mean tokens per block) and float threshold calibration."""
import os

import numpy as np
import torch

from training.common import load_ckpt
from training.model.backbone import DeitMicro, check_backbone_state
from training.model.pruned import PrunedDeit


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


def load_dense_teacher(ckpt_dir):
    """The frozen dense float model of stage 1 (distillation teacher)."""
    path = os.path.join(ckpt_dir, "dense.pt")
    sd = load_ckpt(path)["model"]
    check_backbone_state(sd, path)
    t = DeitMicro()
    t.load_state_dict(sd)
    t.eval()
    for p in t.parameters():
        p.requires_grad_(False)
    return t


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
