"""The pure-integer reference against the stored reference outputs, and its primitives."""
import json
import os
import unittest

import numpy as np

from training.intref import fast as intref_fast
from training.intref import reference as intref
from training.common import ARTIFACTS
from training.data import DEFAULT_DATA, load_split

EXPORT = os.path.join(ARTIFACTS, "export")
HAVE = (os.path.exists(os.path.join(EXPORT, "deit-micro-int8.hvt"))
        and os.path.exists(os.path.join(EXPORT, "reference-outputs.json"))
        and os.path.exists(os.path.join(DEFAULT_DATA, "t10k-images-idx3-ubyte.gz")))


class PrimitivesTest(unittest.TestCase):
    def test_rshift_round(self):
        x = np.array([5, 6, 7, -5, -6, -7, 8, -8])
        self.assertEqual(intref.rshift_round(x, 2).tolist(), [1, 2, 2, -1, -1, -2, 2, -2])
        self.assertEqual(intref.rshift_round(x, -1).tolist(), (x * 2).tolist())

    def test_div_trunc(self):
        self.assertEqual(intref.div_trunc(np.array([7, -7, 6, -6]), 4).tolist(), [1, -1, 1, -1])

    def test_isqrt(self):
        n = np.array([0, 1, 2, 3, 4, 15, 16, 17, 10 ** 12, 2 ** 46 + 12345, 99999999999], dtype=np.int64)
        r = intref.isqrt(n)
        self.assertTrue(np.all(r * r <= n) and np.all((r + 1) * (r + 1) > n))

    def test_sigmoid_error(self):
        """Max |error| of the integer sigmoid over all Q8 inputs in [-12, 12]
        (docs/integer-numerics.md 3.3 quotes 0.0217)."""
        x = np.arange(-3072, 3073)
        err = np.abs(intref.sigmoid_int(x) / 4096.0 - 1.0 / (1.0 + np.exp(-x / 256.0))).max()
        self.assertLess(err, 0.0218)
        self.assertGreater(err, 0.0216)

    def test_exp_sigmoid_gelu_ranges(self):
        x = np.arange(-4096, 1)
        e = intref.exp_int(x)
        self.assertTrue(np.all(np.diff(e) >= 0) and e.max() <= 32767 and e.min() >= 0)
        s = intref.sigmoid_int(np.arange(-2000, 2001))
        self.assertEqual((s.min(), s.max()), (0, 4096))
        self.assertTrue(np.all(np.diff(s) >= 0))
        g = intref.gelu_int(np.arange(-32768, 32768))
        self.assertTrue(np.all(np.abs(g) <= 32768))


@unittest.skipUnless(HAVE, "exported model or dataset missing")
class ReferenceOutputsTest(unittest.TestCase):
    def test_first_images_bit_exact(self):
        intref_fast.disable()
        ref = json.load(open(os.path.join(EXPORT, "reference-outputs.json")))
        im = intref.load(os.path.join(EXPORT, "deit-micro-int8.hvt"))
        x, _ = load_split("t10k", None, 16)
        n = 4
        for name in ("dense", "default"):
            th = [(t["block"], t["threshold"]) for t in ref[name]["thresholds"]]
            o = im.run(x[:n], th)
            self.assertEqual(o["logits"].tolist(), ref[name]["logits"][:n], name)
            self.assertEqual(o["pred"].tolist(), ref[name]["pred"][:n], name)
            self.assertEqual(o["tokens"].tolist(), ref[name]["tokens"][:n], name)

    def test_fast_path_is_exact(self):
        im = intref.load(os.path.join(EXPORT, "deit-micro-int8.hvt"))
        x, _ = load_split("t10k", None, 6)
        th = [(3, 0), (6, 0)]
        intref_fast.disable()
        a = im.run(x, th)
        intref_fast.enable()
        try:
            b = im.run(x, th)
        finally:
            intref_fast.disable()
        np.testing.assert_array_equal(a["logits"], b["logits"])


if __name__ == "__main__":
    unittest.main()
