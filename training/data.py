"""Fashion-MNIST, the dataset deit-micro is trained and evaluated on: the IDX reader
and the split loader. Messages name the file and what is wrong with it (DataError)."""
import gzip
import os
import struct

import numpy as np

DEFAULT_DATA = os.environ.get("HEATVIT_FMNIST", "/usr/share/datasets/fashion-mnist")


class DataError(Exception):
    """Raised for a missing or malformed dataset file; the message names the file."""


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
