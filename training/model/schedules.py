"""Token-pruning schedules: a schedule is a list of (block, keep) pairs, one per active
selector. Parsing ('3:0.7,6:0.7') and schedule files, the random bank subsets of the
training stages, and a schedule's MACs."""

import torch

from training.common import read_json
from training.model.shape import CANDIDATE_BLOCKS
from training.model.costs import DENSE_MACS, expected_tokens, model_macs


def parse_sched(s):
    """'3:0.7,6:0.7' -> [(3,0.7),(6,0.7)]; validates the blocks."""
    out = []
    if not s:
        return out
    for part in s.split(","):
        b, k = part.split(":")
        b, k = int(b), float(k)
        if b not in CANDIDATE_BLOCKS:
            raise ValueError(f"schedule: selector block {b} is not a candidate block "
                             f"({CANDIDATE_BLOCKS[0]}..{CANDIDATE_BLOCKS[-1]})")
        if not 0.0 < k <= 1.0:
            raise ValueError(f"schedule: keep {k} for block {b} is outside (0, 1]")
        out.append((b, k))
    return sorted(out)


def load_sched_json(path):
    j = read_json(path, "schedule file")
    if "selectors" not in j or not isinstance(j["selectors"], list):
        raise ValueError(f"{path}: field 'selectors' missing or not a list")
    out = []
    for i, s in enumerate(j["selectors"]):
        b, k = s.get("block"), s.get("keep")
        if b not in CANDIDATE_BLOCKS:
            raise ValueError(f"{path}: selectors[{i}].block = {b!r} is not a candidate block "
                             f"({CANDIDATE_BLOCKS[0]}..{CANDIDATE_BLOCKS[-1]})")
        if not isinstance(k, (int, float)) or not 0.0 < k <= 1.0:
            raise ValueError(f"{path}: selectors[{i}].keep = {k!r} is outside (0, 1]")
        out.append((b, float(k)))
    if len({b for b, _ in out}) != len(out):
        raise ValueError(f"{path}: field 'selectors' lists a block twice")
    return sorted(out)


def random_sched(gen, p_on=0.3, p_empty=0.1):
    if torch.rand(1, generator=gen).item() < p_empty:
        return []
    on = [b for b in CANDIDATE_BLOCKS if torch.rand(1, generator=gen).item() < p_on]
    if not on:
        on = [CANDIDATE_BLOCKS[torch.randint(0, len(CANDIDATE_BLOCKS), (1,), generator=gen).item()]]
    return [(b, 0.35 + 0.6 * torch.rand(1, generator=gen).item()) for b in on]


def schedule_macs(toks, sched):
    """MACs from mean tokens per block; selector cost from the patch tokens reaching it."""
    sel = [toks[b] - 1 - (1 if any(bb < b for bb, _ in sched) else 0) for b, _ in sched]
    return model_macs(toks, sel)


def sched_mac_reduction(sched):
    """Fraction of the dense MACs a schedule saves, from its expected token counts."""
    toks, sel = expected_tokens(sched)
    return 1.0 - model_macs(toks, sel) / DENSE_MACS
