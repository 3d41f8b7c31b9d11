"""deit-micro: data loading, model shape, checkpoint helpers (shared by all stages)."""
import gzip
import json
import os
import struct
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.environ.get("HEATVIT_FMNIST", "/usr/share/datasets/fashion-mnist")

# Fixed model shape (the simulator relies on it).
SHAPE = dict(img=28, in_chans=1, patch=4, num_patches=49, tokens=50, dim=64,
             depth=12, heads=2, head_dim=32, mlp_ratio=4, hidden=256, classes=10)
CANDIDATE_BLOCKS = list(range(1, 11))  # selector may sit before blocks 1..10

# Normalisation of the input pixels (computed once on the training set).
PIX_MEAN = 0.2860
PIX_STD = 0.3530


class DataError(Exception):
    """Raised for a missing or malformed dataset file; the message names the file."""


def cli(main):
    """Run a script's main(). Bad input -- a missing or malformed dataset, checkpoint,
    export or JSON file, whose messages name the file and field -- exits with status 2
    and one line on stderr instead of a traceback (HEATVIT_DEBUG=1 keeps the traceback).
    Argument errors exit 2 in argparse."""
    try:
        return main()
    except (DataError, OSError, ValueError, KeyError, EOFError) as e:
        if os.environ.get("HEATVIT_DEBUG"):
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


def load_ckpt(path, what="model", data=None):
    """A torch checkpoint dict with entry `what`; FileNotFoundError / ValueError naming the
    file for a missing, truncated or foreign file. data: the file's bytes, already read
    (path then only names it in messages)."""
    import io
    import pickle
    import torch
    if data is None and not os.path.exists(path):
        raise FileNotFoundError(f"{path}: checkpoint not found (run the earlier stage first)")
    try:
        ck = torch.load(path if data is None else io.BytesIO(data))
    except (RuntimeError, EOFError, ValueError, OSError,    # truncated or not a checkpoint
            pickle.UnpicklingError) as e:
        raise ValueError(f"{path}: cannot read checkpoint ({e})") from None
    if not isinstance(ck, dict) or what not in ck:
        raise ValueError(f"{path}: not a deit-micro checkpoint (no '{what}' entry)")
    return ck


def autocast(precision):
    """Context of a training forward pass: "bf16" runs matrix products in bfloat16 under
    torch.autocast (fp32 weights stay); "fp32" changes nothing."""
    import torch
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


def check_resume_precision(ck, path, precision, hint):
    """ValueError naming the checkpoint when a resume asks for another --precision than
    the one it was written with (checkpoints from before --precision are fp32)."""
    was = ck.get("precision", "fp32")
    if was != precision:
        raise ValueError(f"{path}: written with --precision {was}, this run asks for "
                         f"{precision} ({hint})")


def _read_idx(path, expect_dims):
    if not os.path.exists(path):
        raise DataError(f"{path}: dataset file not found (set HEATVIT_FMNIST or --data)")
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read IDX file ({e})") from None
    if len(raw) < 4:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes)")
    zero, dtype_code, ndim = raw[0] << 8 | raw[1], raw[2], raw[3]
    if zero != 0 or dtype_code != 0x08:
        raise DataError(f"{path}: bad IDX magic (expected 0x0000 08 xx, got {raw[:4].hex()})")
    if ndim != expect_dims:
        raise DataError(f"{path}: IDX has {ndim} dimensions, expected {expect_dims}")
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated IDX header")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    n = int(np.prod(dims))
    body = raw[4 + 4 * ndim:]
    if len(body) != n:
        raise DataError(f"{path}: IDX body has {len(body)} bytes, header dims {list(dims)} need {n}"
                        + (" (truncated)" if len(body) < n else ""))
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def load_split(split, data_dir=None, limit=None):
    """Return (images uint8 [N,28,28], labels int64 [N]) for split 'train' or 't10k'."""
    d = data_dir or DEFAULT_DATA
    if not os.path.isdir(d):
        raise DataError(f"{d}: dataset directory not found (set HEATVIT_FMNIST or --data)")
    def pick(stem):
        for ext in (".gz", ""):
            p = os.path.join(d, stem + ext)
            if os.path.exists(p):
                return p
        return os.path.join(d, stem + ".gz")
    x = _read_idx(pick(f"{split}-images-idx3-ubyte"), 3)
    y = _read_idx(pick(f"{split}-labels-idx1-ubyte"), 1)
    if x.shape[0] != y.shape[0]:
        raise DataError(f"{d}: {split} images ({x.shape[0]}) and labels ({y.shape[0]}) differ in count")
    if x.shape[1:] != (28, 28):
        raise DataError(f"{d}: {split} images have shape {x.shape[1:]}, expected (28, 28)")
    if limit:
        x, y = x[:limit], y[:limit]
    return x, y.astype(np.int64)


def atomic_write_bytes(path, data):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_figure(fig, png, dpi=110):
    """Lay out a matplotlib figure and write it to png atomically."""
    fig.tight_layout()
    tmp = png + ".tmp.png"
    fig.savefig(tmp, dpi=dpi)
    os.replace(tmp, png)


def read_json(path, what):
    """Parses a JSON file; missing or malformed files raise ValueError naming the path."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{path}: {what} not found") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None


def atomic_write_json(path, obj, indent=1):
    atomic_write_bytes(path, (json.dumps(obj, indent=indent) + "\n").encode())


def log(path, msg):
    import time
    line = time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()) + msg
    print(line, flush=True)
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")
