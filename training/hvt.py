"""Reader/writer of the HVT container (docs/deit-micro-format.md), format version 1.

Layout: b"HVT\\0" | uint32 LE version | uint64 LE header_length | UTF-8 JSON header |
zero padding to a 64-byte boundary (counted from the start of the file) | data region.
Tensor offsets are relative to the start of the data region; tensors are little-endian,
C order, each starting at a 64-byte aligned offset.
"""
import json
import struct

import numpy as np

from training.common import atomic_write_bytes

MAGIC = b"HVT\x00"
VERSION = 1
ALIGN = 64
DTYPES = {"int8": "<i1", "uint8": "<u1", "int16": "<i2", "int32": "<i4", "int64": "<i8"}


class HvtError(ValueError):
    pass


def _pad(n):
    return (-n) % ALIGN


def encode(kind, meta, tensors):
    hdr_t, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        arr = np.asarray(arr)
        dt = str(arr.dtype)
        if dt not in DTYPES:
            raise HvtError(f"tensor '{name}': dtype {dt} not allowed (one of {sorted(DTYPES)})")
        raw = np.ascontiguousarray(arr.astype(DTYPES[dt])).tobytes()
        hdr_t[name] = {"dtype": dt, "shape": list(arr.shape), "offset": off, "nbytes": len(raw)}
        blobs.append(raw + b"\0" * _pad(len(raw)))
        off += len(raw) + _pad(len(raw))
    header = json.dumps({"kind": kind, "meta": meta, "tensors": hdr_t},
                        separators=(",", ":")).encode("utf-8")
    pre = MAGIC + struct.pack("<IQ", VERSION, len(header)) + header
    return pre + b"\0" * _pad(len(pre)) + b"".join(blobs)


def write(path, kind, meta, tensors):
    """Write atomically (temp file + rename): the file appears complete or not at all."""
    atomic_write_bytes(path, encode(kind, meta, tensors))


def decode(buf, path="<buffer>"):
    if len(buf) < 16:
        raise HvtError(f"{path}: truncated file ({len(buf)} bytes, header needs 16)")
    if buf[:4] != MAGIC:
        raise HvtError(f"{path}: bad magic {buf[:4]!r}, expected {MAGIC!r}")
    ver, hlen = struct.unpack("<IQ", buf[4:16])
    if ver != VERSION:
        raise HvtError(f"{path}: format_version {ver} not supported (this reader reads {VERSION})")
    if 16 + hlen > len(buf):
        raise HvtError(f"{path}: truncated file (header_length {hlen} exceeds file size {len(buf)})")
    try:
        hdr = json.loads(buf[16:16 + hlen].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise HvtError(f"{path}: header is not valid UTF-8 JSON ({e})") from None
    for key in ("kind", "meta", "tensors"):
        if key not in hdr:
            raise HvtError(f"{path}: header lacks field '{key}'")
    data0 = 16 + hlen + _pad(16 + hlen)
    out = {}
    for name, t in hdr["tensors"].items():
        for key in ("dtype", "shape", "offset", "nbytes"):
            if key not in t:
                raise HvtError(f"{path}: tensors.{name} lacks field '{key}'")
        if t["dtype"] not in DTYPES:
            raise HvtError(f"{path}: tensors.{name}.dtype {t['dtype']!r} not one of {sorted(DTYPES)}")
        shape = t["shape"]
        if not isinstance(shape, list) or any((not isinstance(s, int)) or s < 0 for s in shape):
            raise HvtError(f"{path}: tensors.{name}.shape {shape!r} is not a list of sizes")
        dt = np.dtype(DTYPES[t["dtype"]])
        need = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        if t["nbytes"] != need:
            raise HvtError(f"{path}: tensors.{name}: nbytes {t['nbytes']} does not match "
                           f"shape {shape} x {t['dtype']} ({need} bytes)")
        off = data0 + t["offset"]
        if t["offset"] < 0 or off + need > len(buf):
            raise HvtError(f"{path}: truncated file (tensors.{name} needs bytes "
                           f"{off}..{off + need}, file has {len(buf)})")
        out[name] = np.frombuffer(buf, dtype=dt, count=need // dt.itemsize,
                                  offset=off).reshape(shape).astype(dt.newbyteorder("="))
    return hdr["kind"], hdr["meta"], out


def read(path, expect_kind=None):
    try:
        with open(path, "rb") as f:
            buf = f.read()
    except FileNotFoundError:
        raise HvtError(f"{path}: file not found") from None
    kind, meta, t = decode(buf, path)
    if expect_kind and kind != expect_kind:
        raise HvtError(f"{path}: kind {kind!r}, expected {expect_kind!r}")
    return kind, meta, t
