import os
import tempfile
import unittest

import numpy as np

from training import hvt
from training.export import import_masks as im


class ImportMasksTest(unittest.TestCase):
    def setUp(self):
        rng = np.random.RandomState(0)
        self.B = 5
        # ground truth: progressive absolute kept sets, ascending order
        self.abs = []
        prev = [np.arange(49) for _ in range(self.B)]
        for k in (35, 20, 9):
            cur = [np.sort(rng.choice(p, k, replace=False)) for p in prev]
            self.abs.append(np.stack(cur))
            prev = cur

    def relative(self, shuffle=False):
        rel, prev = [], [np.arange(49)] * self.B
        rng = np.random.RandomState(1)
        for st in self.abs:
            rows = []
            for b in range(self.B):
                pos = {t: i for i, t in enumerate(prev[b])}
                r = np.array([pos[t] for t in st[b]])
                if shuffle:
                    r = r[rng.permutation(len(r))]
                rows.append(r)
            rel.append(np.stack(rows))
            prev = [p[r] for p, r in zip(prev, rows)] if shuffle else list(st)
        return rel

    def check(self, masks):
        self.assertEqual(len(masks), 3)
        for m, st in zip(masks, self.abs):
            for b in range(self.B):
                self.assertEqual(np.flatnonzero(m[b]).tolist(), st[b].tolist())

    def test_absolute(self):
        self.check(im.to_masks(self.abs, "absolute"))

    def test_relative_sorted_and_shuffled(self):
        self.check(im.to_masks(self.relative(), "relative"))
        # DynamicViT/EViT lists are in score order, not patch order
        self.check(im.to_masks(self.relative(shuffle=True), "relative"))

    def test_cls_offset(self):
        withcls = [np.concatenate([np.zeros((self.B, 1), int), r + 1], 1) for r in self.relative()]
        self.check(im.to_masks(withcls, "relative", cls_offset=1))
        nocls = [r + 1 for r in self.abs]
        self.check(im.to_masks(nocls, "absolute", cls_offset=1))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "out of range"):
            im.to_masks([self.abs[0] + 30], "absolute")
        with self.assertRaisesRegex(ValueError, "not progressive"):
            im.to_masks([self.abs[1], self.abs[0]], "absolute")
        with self.assertRaisesRegex(ValueError, "duplicate"):
            im.to_masks([np.zeros((2, 3), int)], "absolute")

    def test_cli_writes_hvt(self):
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "in.npz")
            np.savez(src, **{f"stage{i}": r for i, r in enumerate(self.relative(True))})
            out = os.path.join(d, "m.hvt")
            self.assertEqual(im.main([src, "--blocks", "3,6,9", "-o", out]), 0)
            kind, meta, t = hvt.read(out)
            self.assertEqual(kind, "token-masks")
            self.check([t["mask.b3"], t["mask.b6"], t["mask.b9"]])
            self.assertEqual(im.main([src, "--blocks", "3,6,11", "-o", out + "2"]), 2)
            self.assertFalse(os.path.exists(out + "2"))


if __name__ == "__main__":
    unittest.main()
