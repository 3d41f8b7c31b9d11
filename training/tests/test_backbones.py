"""The committed dense backbones (backbones/*.pt) are what their descriptions say."""
import glob
import json
import os
import unittest

import torch

from training.common import ARTIFACTS as HERE, load_ckpt
from training.data import DEFAULT_DATA
from training.analyses.describe_backbone import first_correct, sha256
from training.model.backbone import check_backbone_state

HAVE_DATA = any(os.path.exists(os.path.join(DEFAULT_DATA, "t10k-images-idx3-ubyte" + ext))
                for ext in ("", ".gz"))
DESCRIPTIONS = sorted(glob.glob(os.path.join(HERE, "backbones", "*.json")))


class BackboneTest(unittest.TestCase):
    def test_every_backbone_is_described(self):
        pts = sorted(glob.glob(os.path.join(HERE, "backbones", "*.pt")))
        self.assertEqual([os.path.splitext(p)[0] for p in pts],
                         [os.path.splitext(d)[0] for d in DESCRIPTIONS])

    def test_file_and_recorded_fields(self):
        for desc in DESCRIPTIONS:
            with self.subTest(desc=os.path.basename(desc)):
                d = json.load(open(desc))
                # a description names its own checkpoint: NAME.json describes NAME.pt
                self.assertEqual(d["file"], os.path.splitext(os.path.basename(desc))[0] + ".pt")
                path = os.path.join(os.path.dirname(desc), d["file"])
                self.assertEqual(sha256(path), d["sha256"])
                ck = load_ckpt(path)
                check_backbone_state(ck["model"], path)
                self.assertTrue(all(v.dtype == torch.float32 for v in ck["model"].values()))
                for field in ("test_acc", "epochs", "precision"):
                    self.assertEqual(ck[field], d[field], field)
                self.assertEqual(round(float(ck["wall"])), d["train_wall_s"])
                self.assertTrue(os.path.exists(os.path.join(HERE, d["log"])), d["log"])

    @unittest.skipUnless(HAVE_DATA, "Fashion-MNIST not installed")
    def test_accuracy_on_the_first_test_images(self):
        torch.set_num_threads(2)
        for desc in DESCRIPTIONS:
            with self.subTest(desc=os.path.basename(desc)):
                d = json.load(open(desc))
                got = first_correct(os.path.join(os.path.dirname(desc), d["file"]),
                                    d["first_test_images"])
                # float32 on another CPU may round a near-tie differently: allow 2 images
                self.assertLessEqual(abs(got - d["first_test_correct"]), 2,
                                     (got, d["first_test_correct"]))


if __name__ == "__main__":
    unittest.main()
