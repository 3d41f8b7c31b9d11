#!/usr/bin/env python3
"""Writes the malformed token-mask containers the CLI tests feed to `heatvit sim --masks`
(standard library only; the layout is docs/deit-micro-format.md). Run from this
directory: python3 make_bad_masks.py"""
import json
import struct

PATCHES = 49


def container(tensors, hlen_delta=0, kind="token-masks"):
    """tensors: list of (name, dtype, shape, raw bytes, offset or None)."""
    data = b""
    th = {}
    for name, dtype, shape, raw, offset in tensors:
        off = len(data) if offset is None else offset
        data = data.ljust(off, b"\0") + raw
        data += b"\0" * ((64 - len(data) % 64) % 64)
        th[name] = {"dtype": dtype, "shape": shape, "offset": off, "nbytes": len(raw)}
    header = json.dumps({"kind": kind, "meta": {"model": "deit-micro", "note": "test masks"},
                         "tensors": th}, separators=(",", ":")).encode()
    out = b"HVT\0" + struct.pack("<IQ", 1, len(header) + hlen_delta) + header
    out += b"\0" * ((64 - len(out) % 64) % 64)
    return out + data


def mask(images, keep=30):
    return bytes(([1] * keep + [0] * (PATCHES - keep)) * images)


def write(name, blob):
    with open(name, "wb") as f:
        f.write(blob)


# first mask tensor with zero images, the next with 24
write("masks-zero-then-24.hvt", container([
    ("mask.b3", "uint8", [0, PATCHES], b"", None),
    ("mask.b6", "uint8", [24, PATCHES], mask(24), None)]))
# block 1 spelled twice
write("masks-dup-block.hvt", container([
    ("mask.b1", "uint8", [2, PATCHES], mask(2), None),
    ("mask.b01", "uint8", [2, PATCHES], mask(2), None)]))
# a negative predicted class
write("masks-negative-pred.hvt", container([
    ("mask.b3", "uint8", [2, PATCHES], mask(2), None),
    ("pred", "int32", [2], struct.pack("<ii", 3, -1), None)]))
# int8 where the format says uint8
write("masks-int8.hvt", container([("mask.b3", "int8", [2, PATCHES], mask(2), None)]))
# header_length one byte too long (takes in a padding NUL)
write("masks-header-long.hvt", container([("mask.b3", "uint8", [2, PATCHES], mask(2), None)], hlen_delta=1))
# a tensor offset that is not 64-byte aligned
write("masks-unaligned.hvt", container([("mask.b3", "uint8", [2, PATCHES], mask(2), 8)]))
# a shape whose element count is zero only through a dimension of 2^62
write("masks-huge-shape.hvt", container([("mask.b3", "uint8", [2**62, 0], b"", None)]))
