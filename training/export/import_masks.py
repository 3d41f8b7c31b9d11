"""Import kept-token index tensors from DynamicViT/EViT-style code into our mask format.

Such code records, per pruning stage s, an integer tensor idx_s of shape [B, k_s]: the
tokens kept at that stage, either
  * relative: positions in the previous stage's kept list (DynamicViT's
    `keep_policy`/`batch_index_select`, EViT's `topk` over the current tokens), or
  * absolute: patch indices in the original 0..P-1 grid.
If the indices count the CLS token as position 0 (EViT gathers `x[:, 1:]` after
taking top-k over tokens without CLS, but some code keeps CLS in the list), pass
--cls-offset 1 and the CLS entry (index 0) is removed before conversion.

Output: a "token-masks" .hvt (docs/deit-micro-format.md) with mask.bB [B, P] uint8 per
stage (absolute patch indices, progressive), the same layout the masks stage writes.

  python3 -m training import-masks in.npz --blocks 3,6,9 --mode relative [--cls-offset 1] [--patches 49] -o out.hvt
where in.npz holds arrays stage0, stage1, ... (one per selector, in order).
"""
import argparse
import os
import sys

import numpy as np

from training import hvt


class ImportError_(ValueError):
    pass


def to_masks(stages, mode="relative", patches=49, cls_offset=0):
    """stages: list of int arrays [B, k_s].  Returns list of bool masks [B, patches]."""
    if mode not in ("relative", "absolute"):
        raise ImportError_(f"mode {mode!r}: expected 'relative' or 'absolute'")
    masks = []
    kept_abs = None   # [B, k_prev] absolute indices of the previous stage, in list order
    B = None
    for s, idx in enumerate(stages):
        idx = np.asarray(idx)
        if idx.ndim != 2 or not np.issubdtype(idx.dtype, np.integer):
            raise ImportError_(f"stage{s}: expected an integer array [B, k], got {idx.dtype} {idx.shape}")
        if B is None:
            B = idx.shape[0]
        elif idx.shape[0] != B:
            raise ImportError_(f"stage{s}: batch size {idx.shape[0]} differs from stage0 ({B})")
        if cls_offset:
            has0 = (idx == 0).any(1)
            if has0.all():
                idx = np.stack([r[r != 0] for r in idx])
            elif has0.any():
                raise ImportError_(f"stage{s}: CLS index 0 appears in some rows only")
            idx = idx - cls_offset
        prev_len = patches if kept_abs is None else kept_abs.shape[1]
        if mode == "relative":
            if idx.min(initial=0) < 0 or idx.max(initial=0) >= prev_len:
                raise ImportError_(f"stage{s}: relative index out of range 0..{prev_len - 1}")
            ab = idx if kept_abs is None else np.take_along_axis(kept_abs, idx, axis=1)
        else:
            if idx.min(initial=0) < 0 or idx.max(initial=0) >= patches:
                raise ImportError_(f"stage{s}: absolute index out of range 0..{patches - 1}")
            ab = idx
        m = np.zeros((B, patches), dtype=bool)
        np.put_along_axis(m, ab, True, axis=1)
        if (m.sum(1) != ab.shape[1]).any():
            raise ImportError_(f"stage{s}: duplicate token indices in a row")
        if masks and (m & ~masks[-1]).any():
            raise ImportError_(f"stage{s}: keeps a token pruned at an earlier stage "
                               f"(indices not progressive; wrong --mode?)")
        masks.append(m)
        kept_abs = ab
    return masks


def write(path, masks, blocks, source="imported"):
    if len(blocks) != len(masks):
        raise ImportError_(f"--blocks lists {len(blocks)} blocks for {len(masks)} stages")
    for b in blocks:
        if not 1 <= b <= 10:
            raise ImportError_(f"--blocks: selector block {b} is not a candidate block (1..10)")
    T = {f"mask.b{b}": m.astype(np.uint8) for b, m in zip(blocks, masks)}
    meta = {"model": "deit-micro", "source": source, "images": int(masks[0].shape[0]),
            "schedule": [{"block": b, "keep": float(m.sum(1).mean() / max(1, (p.sum(1).mean())))}
                         for b, m, p in zip(blocks, masks, [np.ones_like(masks[0])] + masks[:-1])],
            "mask_semantics": "mask.bB[i, p] = 1 iff patch token p (absolute index) is kept "
                              "after the selector before block B; progressive"}
    hvt.write(path, "token-masks", meta, T)


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.strip().split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("--blocks", required=True)
    ap.add_argument("--mode", default="relative", choices=["relative", "absolute"])
    ap.add_argument("--cls-offset", type=int, default=0)
    ap.add_argument("--patches", type=int, default=49)
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args(argv)
    try:
        z = np.load(a.input)
    except (OSError, ValueError) as e:
        print(f"{a.input}: cannot read ({e})", file=sys.stderr)
        return 2
    names = sorted([k for k in z.files if k.startswith("stage")], key=lambda k: int(k[5:]))
    if not names:
        print(f"{a.input}: no arrays named stage0, stage1, ...", file=sys.stderr)
        return 2
    try:
        blocks = [int(b) for b in a.blocks.split(",")]
        masks = to_masks([z[k] for k in names], a.mode, a.patches, a.cls_offset)
        write(a.output, masks, blocks, source=os.path.basename(a.input))
    except ImportError_ as e:
        print(f"{a.input}: {e}", file=sys.stderr)
        return 2
    print(f"wrote {a.output}: {len(masks)} stages, {masks[0].shape[0]} images")
    return 0
