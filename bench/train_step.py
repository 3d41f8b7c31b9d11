#!/usr/bin/python3
"""Time deit-micro training steps in fp32 and in bf16 autocast (`--precision bf16` of
python3 -m training dense / bank, adapt, ...), on synthetic images, and print ms per step.

  /usr/bin/python3 bench/train_step.py [--threads 2] [--bs 128] [--steps 20] [--json out.json]

dense: training.stages.step.train_step, one step of stage 1 (forward, label-smoothed cross
entropy, backward, gradient clipping, AdamW) on an augmented batch. select:
training.stages.selector_training.train_steps, the loop of the bank/adapt/dedicated stages, with the default-like schedule 4:0.6, 5:0.6, 7:0.6, the
inference decision rule, the range penalty and distillation from a dense teacher (as the
adapt stage runs it). Three warm-up steps are not timed; the rest are, best of --repeat.
"""
import argparse
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)   # the training package


def time_dense(precision, bs, steps):
    import torch
    from training.model.backbone import DeitMicro
    from training.stages.step import augment, train_step
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    m = DeitMicro()
    m.train()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.05)
    x = torch.randint(0, 256, (bs, 28, 28), dtype=torch.uint8, generator=gen)
    y = torch.randint(0, 10, (bs,), generator=gen)

    def step():
        train_step(m, opt, augment(x, gen), y, precision)

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def time_select(precision, bs, steps):
    import torch
    from training.model.backbone import DeitMicro
    from training.model.pruned import PrunedDeit, QCtx
    from training.stages.selector_training import train_steps
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    n = 4 * bs
    x = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=gen)
    y = torch.randint(0, 10, (n,), generator=gen)
    teacher = DeitMicro().eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    sched = [(4, 0.6), (5, 0.6), (7, 0.6)]
    with tempfile.TemporaryDirectory() as d:
        def run(k, name):
            m = PrunedDeit()
            t0 = time.perf_counter()
            train_steps(m, x, y, k, lambda g, s: sched, QCtx("float"), 5e-4, 5e-4,
                        os.path.join(d, name), 0, None, "bench", bs=bs, ckpt_every=10 ** 9,
                        teacher=teacher, rule="hard", range_w=1.0, precision=precision)
            return time.perf_counter() - t0
        # the difference of two runs removes the set-up and the final checkpoint write
        short = run(3, "a.pt")
        full = run(3 + steps, "b.pt")
    return (full - short) / steps


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bs", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    import contextlib
    import io
    import torch
    torch.set_num_threads(a.threads)
    res = {"threads": a.threads, "bs": a.bs, "steps": a.steps, "torch": torch.__version__}
    for kind, fn in (("dense", time_dense), ("select", time_select)):
        for prec in ("fp32", "bf16"):
            with contextlib.redirect_stdout(io.StringIO()):  # train_steps' progress lines
                t = min(fn(prec, a.bs, a.steps) for _ in range(a.repeat))
            res[f"{kind}_{prec}_ms_per_step"] = round(t * 1e3, 1)
            print(f"{kind:6s} {prec}: {t * 1e3:7.1f} ms/step  {a.bs / t:7.0f} images/s", flush=True)
        print(f"{kind:6s} bf16 speed-up: {res[f'{kind}_fp32_ms_per_step'] / res[f'{kind}_bf16_ms_per_step']:.2f}x")
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump(res, f, indent=1)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
