"""MAC counts and the block latency table (analytic, or a simulated one with the same schema)."""
import math
import os

from training.common import ARTIFACTS, atomic_write_json, read_json
from training.model.shape import SHAPE

D, DEPTH, HID, HEADS, HD = SHAPE["dim"], SHAPE["depth"], SHAPE["hidden"], SHAPE["heads"], SHAPE["head_dim"]
R = SHAPE["mlp_ratio"]

# GEMM engine assumed by the analytic table: Th x Ti x To = 4 x 16 x 16 multipliers,
# two 8-bit MACs per DSP -> 2*4*16*16 = 2048 MACs per cycle at 300 MHz.
TH, TI, TO, PACK = 4, 16, 16, 2
GEMM_FILL = 16          # pipeline fill/drain cycles per GEMM call
NL_LANES = 16           # nonlinear unit: elements per cycle (softmax exp, GELU, LN)


def block_macs(n):
    """MACs of one block with n tokens (CLS and package included)."""
    return 4 * n * D * D + 2 * n * n * D + 2 * R * n * D * D


def selector_macs(n_patch):
    """MACs of one selector scoring n_patch patch tokens (all heads + head branch)."""
    d = HD
    per_head = d * d + d * (d // 2) + (d // 2) * (d // 4) + (d // 4) * 1
    hb = HEADS * max(1, HEADS // 2) + max(1, HEADS // 2) * HEADS
    return n_patch * (HEADS * per_head + hb)


PATCH_MACS = 49 * 16 * D
HEAD_MACS = D * SHAPE["classes"]
DENSE_MACS = PATCH_MACS + DEPTH * block_macs(50) + HEAD_MACS


def model_macs(tokens_per_block, sel_patch_counts=()):
    """tokens_per_block: tokens entering each of the 12 blocks; sel_patch_counts: the
    patch tokens scored by each active selector."""
    return (PATCH_MACS + sum(block_macs(n) for n in tokens_per_block) + HEAD_MACS
            + sum(selector_macs(n) for n in sel_patch_counts))


def _gemm_cycles(m, k, n):
    return math.ceil(m / TH) * math.ceil(k / TI) * math.ceil(n / TO) // PACK + GEMM_FILL


def analytic_block_cycles(n):
    """Cycles of one block with n tokens on the analytic engine model."""
    c = 0
    c += 3 * _gemm_cycles(n, D, D)                    # q, k, v
    c += HEADS * _gemm_cycles(n, HD, n)               # Q K^T per head
    c += HEADS * _gemm_cycles(n, n, HD)               # A V per head
    c += _gemm_cycles(n, D, D)                        # projection
    c += _gemm_cycles(n, D, HID) + _gemm_cycles(n, HID, D)   # MLP
    c += math.ceil(HEADS * n * n / NL_LANES)          # softmax (exp + normalise)
    c += math.ceil(n * HID / NL_LANES)                # GELU
    c += 2 * math.ceil(n * D / NL_LANES)              # two LayerNorms
    return c


def write_analytic_table(path):
    blocks = [{"block": b, "rows": [{"tokens": n, "cycles": analytic_block_cycles(n)}
                                    for n in range(2, 51)]} for b in range(DEPTH)]
    atomic_write_json(path, {"model": "deit-micro", "source": "analytic", "frequency_mhz": 300,
                             "blocks": blocks}, indent=None)


class LatencyTable:
    def __init__(self, path):
        t = read_json(path, "latency table")
        if t.get("model") != "deit-micro":
            raise ValueError(f"{path}: field 'model' is {t.get('model')!r}, expected 'deit-micro'")
        self.freq = t.get("frequency_mhz", 300)
        self.source = t.get("source", "?")
        self.cyc = {}
        for bl in t.get("blocks", []):
            b = bl["block"]
            self.cyc[b] = {int(r["tokens"]): float(r["cycles"]) for r in bl["rows"]}
        for b in range(DEPTH):
            if b not in self.cyc or not self.cyc[b]:
                raise ValueError(f"{path}: field 'blocks' lacks rows for block {b}")

    def cycles(self, b, n):
        rows = self.cyc[b]
        if n in rows:
            return rows[n]
        ks = sorted(rows)
        lo = max([k for k in ks if k <= n] or [ks[0]])
        hi = min([k for k in ks if k >= n] or [ks[-1]])
        if lo == hi:
            return rows[lo]
        return rows[lo] + (rows[hi] - rows[lo]) * (n - lo) / (hi - lo)

    def schedule_cycles(self, sched):
        """Expected cycles of the 12 blocks + selectors for a schedule [(block, keep)]."""
        sched = dict(sched)
        kept, pkg, total = 49.0, 0, 0.0
        for b in range(DEPTH):
            if b in sched:
                total += selector_macs(kept) / (TH * TI * TO * PACK)
                kept = kept * sched[b]
                pkg = 1 if sched[b] < 1 else pkg
            total += self.cycles(b, int(round(1 + kept + pkg)))
        return total


def expected_tokens(sched):
    sched = dict(sched)
    kept, pkg, toks, sel = 49.0, 0, [], []
    for b in range(DEPTH):
        if b in sched:
            sel.append(kept)
            kept *= sched[b]
            pkg = 1 if sched[b] < 1 else pkg
        toks.append(1 + kept + pkg)
    return toks, sel


def main(argv=None, prog=None):
    """Write the analytic latency table (same schema as the simulator's latency_table.json)."""
    import argparse
    ap = argparse.ArgumentParser(prog=prog, description="Write the analytic latency table of "
                                 "deit-micro (the simulator's latency_table.json has the same "
                                 "schema): cycles of every block at 2..50 tokens, closed form.")
    ap.add_argument("out", nargs="?", default=os.path.join(ARTIFACTS, "latency_table.analytic.json"))
    a = ap.parse_args(argv)
    write_analytic_table(a.out)
    print("wrote", a.out, "; dense MACs", DENSE_MACS)
