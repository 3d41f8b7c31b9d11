#!/usr/bin/python3
"""Time `heatvit eval` (integer functional model, C++) against PyTorch float inference
of the same deit-micro model on the Fashion-MNIST test set, in one run, and print the
ratio. Both use the same number of threads.

  /usr/bin/python3 bench/eval_vs_torch.py [--threads 2] [--limit N] [--repeat 3]
      [--ckpt models/deit-micro/checkpoints/qat.pt]
      [--weights models/deit-micro/export/deit-micro-int8.hvt] [--heatvit build/bin/heatvit]

PyTorch side: net.PrunedDeit loaded from the QAT checkpoint (float weights), eval mode,
torch.no_grad(), batches of --bs images, dense (no selectors), forward passes only (the
model and the data are loaded before the clock starts). heatvit side: the whole
`heatvit eval --model deit-micro` process (start-up, weight loading, reading the gzip
test set, inference, report writing), dense, and its own inference-only time (the
report's wall_s). The best of --repeat runs is kept for each.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DM = os.path.join(ROOT, "models", "deit-micro")
sys.path.insert(0, ROOT)   # the training package


def time_torch(ckpt, threads, limit, bs, repeat):
    import torch
    from training.data import load_split
    from training.model.evaluation import build_model
    torch.set_num_threads(threads)
    x, y = load_split("t10k", None, limit)
    xt = torch.from_numpy(x.copy())
    yt = torch.from_numpy(y)
    model, _ = build_model(ckpt)
    model.eval()
    best, acc = None, None
    with torch.no_grad():
        model(xt[:bs])  # warm-up
        for _ in range(repeat):
            t0 = time.perf_counter()
            correct = 0
            for i in range(0, len(xt), bs):
                out = model(xt[i:i + bs])
                correct += (out.argmax(-1) == yt[i:i + bs]).sum().item()
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
            acc = correct / len(xt)
    return best, acc, len(xt), torch.__version__


def time_heatvit(exe, weights, threads, limit, repeat, schedule=None):
    best, best_inner, rep = None, None, None
    with tempfile.TemporaryDirectory(prefix="hv-bench-") as d:
        rpt = os.path.join(d, "r.json")
        cmd = [exe, "eval", "--model", "deit-micro", "--weights", weights, "--threads", str(threads),
               "--report", rpt, "-q"]
        if limit:
            cmd += ["--limit", str(limit)]
        if schedule:
            cmd += ["--schedule", schedule]
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True)
            dt = time.perf_counter() - t0
            rep = json.load(open(rpt))
            best = dt if best is None else min(best, dt)
            best_inner = rep["wall_s"] if best_inner is None else min(best_inner, rep["wall_s"])
    return best, best_inner, rep, " ".join(cmd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--bs", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ckpt", default=os.path.join(DM, "checkpoints", "qat.pt"))
    ap.add_argument("--weights", default=os.path.join(DM, "export", "deit-micro-int8.hvt"))
    ap.add_argument("--heatvit", default=os.path.join(ROOT, "build", "bin", "heatvit"))
    ap.add_argument("--schedule", default=None, help="also time heatvit eval with this schedule (e.g. default)")
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    a = ap.parse_args()
    for p in (a.ckpt, a.weights, a.heatvit):
        if not os.path.exists(p):
            print(f"eval_vs_torch: {p}: not found", file=sys.stderr)
            return 2
    tt, tacc, n, tv = time_torch(a.ckpt, a.threads, a.limit, a.bs, a.repeat)
    hw, hin, rep, cmd = time_heatvit(a.heatvit, a.weights, a.threads, a.limit, a.repeat)
    res = {"images": n, "threads": a.threads, "torch_version": tv, "torch_float_s": tt,
           "torch_float_accuracy": tacc, "heatvit_eval_process_s": hw, "heatvit_eval_inference_s": hin,
           "heatvit_int8_accuracy": rep["accuracy"], "ratio_torch_over_heatvit_process": tt / hw,
           "ratio_torch_over_heatvit_inference": tt / hin, "command": cmd,
           "load_average": os.getloadavg()}
    print(f"images {n}, threads {a.threads}, best of {a.repeat}")
    print(f"  PyTorch {tv} float (forward passes only): {tt:7.2f} s  accuracy {tacc:.4f}")
    print(f"  heatvit eval, whole process:              {hw:7.2f} s  accuracy {rep['accuracy']:.4f} (int8)")
    print(f"  heatvit eval, inference only:             {hin:7.2f} s")
    print(f"  speed-up over PyTorch: {tt / hw:.2f}x (process), {tt / hin:.2f}x (inference)")
    if a.schedule:
        sw, sin, srep, _ = time_heatvit(a.heatvit, a.weights, a.threads, a.limit, a.repeat, a.schedule)
        res.update(schedule=a.schedule, heatvit_schedule_process_s=sw, heatvit_schedule_inference_s=sin,
                   heatvit_schedule_accuracy=srep["accuracy"], heatvit_schedule_macs=srep["macs_per_image"])
        print(f"  heatvit eval --schedule {a.schedule}: {sw:.2f} s process, {sin:.2f} s inference, "
              f"accuracy {srep['accuracy']:.4f}, {srep['macs_per_image'] / 1e6:.2f} MMACs/image")
    print(f"  load average during the run: {res['load_average'][0]:.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
