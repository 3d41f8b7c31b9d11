"""What the float training stages share: the augmentation, the learning-rate schedule,
one optimiser step of the dense model and its float test accuracy."""
import math

import torch
import torch.nn.functional as F

from training.common import autocast


def augment(xb, gen):
    """Random horizontal flip and random shift by up to 2 pixels (zero fill)."""
    B = xb.shape[0]
    flip = torch.rand(B, generator=gen) < 0.5
    xb = torch.where(flip[:, None, None], xb.flip(-1), xb)
    pad = F.pad(xb, (2, 2, 2, 2))
    dx = torch.randint(0, 5, (1,), generator=gen).item()
    dy = torch.randint(0, 5, (1,), generator=gen).item()
    return pad[:, dy:dy + 28, dx:dx + 28]


def warmup_cosine(step, peak, warm, total):
    """Learning rate of a step: linear warm-up over `warm` steps, then cosine to 0 at `total`."""
    if step < warm:
        return peak * (step + 1) / warm
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


def train_step(model, opt, xb, yb, precision, teacher=None, distill_w=0.0):
    """One optimiser step of stage 1 on an augmented batch: forward (under bf16 autocast
    for precision "bf16"), label-smoothed cross entropy (plus hard distillation from the
    teacher's argmax with weight distill_w), backward, clipping at 1.0, AdamW.
    Returns (loss, fp32 logits)."""
    with autocast(precision):
        out = model(xb)
    out = out.float()
    loss = F.cross_entropy(out, yb, label_smoothing=0.1)
    if teacher is not None:
        with torch.no_grad():
            yt = teacher(xb).argmax(-1)
        loss = (1 - distill_w) * loss + distill_w * F.cross_entropy(out, yt)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss, out


@torch.no_grad()
def evaluate(model, x, y, bs=500):
    model.eval()
    correct = 0
    for i in range(0, len(x), bs):
        out = model(x[i:i + bs])
        correct += (out.argmax(-1) == y[i:i + bs]).sum().item()
    return correct / len(x)
