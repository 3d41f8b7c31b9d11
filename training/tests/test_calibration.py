"""Threshold calibration (training.export.quantize.calibrate_tables): quantiles of integer scores with ties."""
import unittest

import numpy as np

from training.export import quantize as export
from training.intref import reference as intref
from training.model.shape import CANDIDATE_BLOCKS


class _FakeModel:
    """Stands in for intref.IntModel: every selector sees the same fixed scores."""

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=np.int64).reshape(1, -1)

    def run(self, imgs, probe=()):
        return {"scores": {b: self.scores for b in probe}}


def kept(scores, t):
    return int((np.asarray(scores) > t).sum())


class CalibrationTest(unittest.TestCase):
    def test_distinct_scores_hit_the_asked_count(self):
        s = np.arange(100)                       # 100 distinct scores
        tab = export.calibrate_tables(_FakeModel(s), np.zeros((1, 28, 28), np.uint8))
        for j, c in enumerate(export.KEEP_MILLI):
            want = (100 * c + 500) // 1000
            self.assertEqual(kept(s, tab[CANDIDATE_BLOCKS[0]][j]), want, c)

    def test_ties_choose_the_closer_count(self):
        # 10 scores of 0, 80 tied at 5, 10 scores of 9
        s = np.array([0] * 10 + [5] * 80 + [9] * 10)
        tab = export.calibrate_tables(_FakeModel(s), np.zeros((1, 28, 28), np.uint8))[1]
        by_keep = dict(zip(export.KEEP_MILLI, tab.tolist()))
        # keep 0.80: 10 (drop the ties) vs 90 (keep them): 90 is closer
        self.assertEqual(kept(s, by_keep[800]), 90)
        # keep 0.30: 10 vs 90: 10 is closer
        self.assertEqual(kept(s, by_keep[300]), 10)
        # keep 0.50: 40 away either way: the smaller count
        self.assertEqual(kept(s, by_keep[500]), 10)
        # keep 1.00 keeps everything
        self.assertEqual(by_keep[1000], intref.INT32_MIN)


if __name__ == "__main__":
    unittest.main()
