"""Describe a finished dense checkpoint for backbones/: its sha256, what the dense stage
recorded in it (test accuracy, epochs, precision, training wall time), and the float
accuracy on the first --first test images, which training/tests/test_backbones.py re-measures.

  python3 -m training describe-backbone models/deit-micro/backbones/dense-bf16.pt \
      --command "..." --machine "..." --log logs/dense-bf16.log \
      --out models/deit-micro/backbones/dense-bf16.json
"""
import argparse
import hashlib
import os

import torch

from training.common import atomic_write_json, load_ckpt
from training.data import load_split
from training.model.backbone import DeitMicro, check_backbone_state
from training.stages.step import evaluate


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def first_correct(path, n, data=None):
    """Correct float predictions of the checkpoint's model on the first n test images."""
    ck = load_ckpt(path)
    check_backbone_state(ck["model"], path)
    m = DeitMicro()
    m.load_state_dict(ck["model"])
    x, y = load_split("t10k", data, n)
    with torch.no_grad():
        return round(evaluate(m, torch.from_numpy(x.copy()), torch.from_numpy(y)) * n)


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.strip().split("\n\n")[0])
    ap.add_argument("ckpt")
    ap.add_argument("--command", required=True, help="the command that trained it")
    ap.add_argument("--machine", required=True, help="where it was trained")
    ap.add_argument("--log", required=True, help="its training log (relative to models/deit-micro)")
    ap.add_argument("--first", type=int, default=2000)
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", required=True, help="JSON file to write (atomically)")
    a = ap.parse_args(argv)
    torch.set_num_threads(2)
    ck = load_ckpt(a.ckpt)
    for field in ("test_acc", "epochs", "precision", "wall"):
        if field not in ck:
            raise ValueError(f"{a.ckpt}: field '{field}' missing: not a finished dense checkpoint")
    out = {
        "file": os.path.basename(a.ckpt),
        "sha256": sha256(a.ckpt),
        "content": "torch checkpoint dict written by the dense stage at the end of a run: model "
                   "(DeitMicro state_dict, float32), test_acc, wall, epochs, precision, teacher",
        "command": a.command,
        "machine": a.machine,
        "log": a.log,
        "epochs": ck["epochs"],
        "precision": ck["precision"],
        "train_wall_s": round(float(ck["wall"])),
        "test_acc": ck["test_acc"],
        "first_test_images": a.first,
        "first_test_correct": first_correct(a.ckpt, a.first, a.data),
    }
    atomic_write_json(a.out, out)
