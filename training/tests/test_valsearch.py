"""validation-search: the candidate window and the validation dataset directory."""
import os
import struct
import tempfile
import unittest

import numpy as np

from training.data import load_split
from training.model.costs import DENSE_MACS, expected_tokens, model_macs
from training.analyses.validation_search import candidates, write_val_dir


class ValSearchTest(unittest.TestCase):
    def test_candidates_lie_in_the_window(self):
        c = candidates(0.40, 0.47)
        self.assertGreater(len(c), 20)
        for s in c:
            t, sel = expected_tokens(s)
            red = 1 - model_macs(t, sel) / DENSE_MACS
            self.assertTrue(0.40 <= red <= 0.47, (s, red))
            self.assertTrue(all(1 <= b <= 10 for b, _ in s))
        self.assertEqual(candidates(0.99, 0.995), [])

    def test_val_dir_holds_the_last_training_images_as_test_split(self):
        rng = np.random.RandomState(0)
        x = rng.randint(0, 256, (20, 28, 28)).astype(np.uint8)
        y = rng.randint(0, 10, 20).astype(np.uint8)
        with tempfile.TemporaryDirectory() as src, tempfile.TemporaryDirectory() as dst:
            with open(os.path.join(src, "train-images-idx3-ubyte"), "wb") as f:
                f.write(struct.pack(">IIII", 0x803, 20, 28, 28) + x.tobytes())
            with open(os.path.join(src, "train-labels-idx1-ubyte"), "wb") as f:
                f.write(struct.pack(">II", 0x801, 20) + y.tobytes())
            write_val_dir(dst, src, 6)
            xv, yv = load_split("t10k", dst)
            np.testing.assert_array_equal(xv, x[-6:])
            np.testing.assert_array_equal(yv, y[-6:])
            xt, _ = load_split("train", dst)       # calibration still reads the training split
            np.testing.assert_array_equal(xt, x)


if __name__ == "__main__":
    unittest.main()
