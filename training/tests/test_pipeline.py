"""Smoke test: every stage for a few steps on a few hundred images, then export and re-read."""
import json
import os
import shutil
import tempfile
import unittest

import numpy as np
import torch

from training.export import calibration as export
from training import hvt
from training.intref import reference as intref
from training.data import DEFAULT_DATA
from training.tests import run

HAVE_DATA = os.path.exists(os.path.join(DEFAULT_DATA, "train-images-idx3-ubyte.gz"))


@unittest.skipUnless(HAVE_DATA, "Fashion-MNIST not installed")
class PipelineSmokeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dm-smoke-")
        cls.ck = os.path.join(cls.dir, "ck")
        cls.out = os.path.join(cls.dir, "out")
        os.makedirs(cls.out)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_teacher_and_distillation(self):
        """The convolutional teacher trains and resumes; the dense stage distils from it
        (its labels change the student's weights) and records it."""
        from training.model import teacher as train_teacher
        ck = os.path.join(self.dir, "kd")
        q = ["--ckpt-dir", ck, "--limit", "256", "--test-limit", "64", "--threads", "1"]
        run(["teacher"] + q + ["--epochs", "1", "--bs", "64"])
        os.remove(os.path.join(ck, "teacher.pt"))
        run(["teacher"] + q + ["--epochs", "2", "--bs", "64"])  # resumes at epoch 1
        self.assertEqual(torch.load(os.path.join(ck, "teacher-last.pt"))["epoch"], 2)
        teacher = os.path.join(ck, "teacher.pt")
        self.assertEqual(train_teacher.load_teacher(teacher).head.weight.shape, (10, 128))
        heads = []
        for name, w in (("plain", "0"), ("kd", "1")):
            run(["dense"] + q + ["--epochs", "1", "--bs", "64", "--name", name, "--teacher", teacher,
                                  "--distill-w", w])
            c = torch.load(os.path.join(ck, name + ".pt"))
            self.assertEqual(c["teacher"], ("teacher.pt", float(w)))
            heads.append(c["model"]["head.weight"])
        self.assertFalse(torch.equal(heads[0], heads[1]))
        # resuming a distilled run without its teacher (or the reverse) is refused
        os.remove(os.path.join(ck, "kd.pt"))
        with self.assertRaisesRegex(ValueError, "kd-last.pt: written with teacher \\('teacher.pt', 1.0\\)"):
            run(["dense"] + q + ["--epochs", "2", "--bs", "64", "--name", "kd"])

    def test_bf16_autocast(self):
        """--precision bf16 really changes the arithmetic (the weights differ from an fp32 run
        of the same seed and batches) and stays close to it; the loss stays fp32."""
        ck = os.path.join(self.dir, "prec")
        q = ["--ckpt-dir", ck, "--limit", "128", "--test-limit", "64", "--threads", "1",
             "--epochs", "1", "--bs", "64"]
        heads = {}
        for prec in ("fp32", "bf16"):
            run(["dense"] + q + ["--name", prec, "--precision", prec])
            c = torch.load(os.path.join(ck, prec + ".pt"))
            self.assertEqual(c["precision"], prec)
            heads[prec] = c["model"]["head.weight"]
            self.assertEqual(heads[prec].dtype, torch.float32)
        d = (heads["fp32"] - heads["bf16"]).abs().max().item()
        self.assertGreater(d, 0.0)
        self.assertLess(d, 0.01)
        # resuming a bf16 run in fp32 (or the reverse) is refused, naming the checkpoint
        os.remove(os.path.join(ck, "bf16.pt"))
        with self.assertRaisesRegex(ValueError, "bf16-last.pt: written with --precision bf16"):
            run(["dense"] + q[:-4] + ["--epochs", "2", "--bs", "64", "--name", "bf16"])

    def test_all_stages(self):
        ck, out = self.ck, self.out
        q = ["--ckpt-dir", ck, "--limit", "256", "--test-limit", "64", "--threads", "1"]
        run(["dense"] + q + ["--epochs", "1", "--bs", "64", "--name", "dense-c1", "--precision", "bf16"])
        self.assertEqual(torch.load(os.path.join(ck, "dense-c1.pt"))["precision"], "bf16")
        # second cosine cycle (warm restart) from the first one's weights
        run(["dense"] + q + ["--epochs", "1", "--bs", "64", "--init", os.path.join(ck, "dense-c1.pt")])
        self.assertTrue(os.path.exists(os.path.join(ck, "dense.pt")))
        c1 = torch.load(os.path.join(ck, "dense-c1.pt"))
        c2 = torch.load(os.path.join(ck, "dense.pt"))
        self.assertGreater(c2["wall"], c1["wall"])  # wall time counts both cycles
        self.assertFalse(torch.equal(c1["model"]["head.weight"], c2["model"]["head.weight"]))
        run(["bank"] + q + ["--steps", "2", "--bs", "16", "--ckpt-every", "1"])
        # resume: a second call with more steps continues from the checkpoint
        os.remove(os.path.join(ck, "bank.pt"))
        run(["bank"] + q + ["--steps", "3", "--bs", "16", "--ckpt-every", "1"])
        self.assertEqual(torch.load(os.path.join(ck, "bank-last.pt"))["step"], 3)
        # pruning-aware fine-tuning of the backbone and the bank (inference decision rule)
        # (two cosine cycles: adapt-c1 from bank.pt, then adapt from adapt-c1.pt)
        ad = ["--bs", "16", "--val", "32", "--rule", "hard", "--range-w", "1"]
        run(["adapt"] + q + ad + ["--steps", "2", "--name", "adapt-c1", "--precision", "bf16"])
        self.assertEqual(torch.load(os.path.join(ck, "adapt-c1-last.pt"))["step"], 2)
        with self.assertRaisesRegex(ValueError, "adapt-c1-last.pt: written with --precision bf16"):
            run(["adapt"] + q + ad + ["--steps", "3", "--name", "adapt-c1"])
        self.assertFalse(os.path.exists(os.path.join(ck, "adapt.pt")))
        run(["adapt"] + q + ad + ["--steps", "1", "--init", "adapt-c1.pt", "--seed", "1"])
        self.assertEqual(torch.load(os.path.join(ck, "adapt-last.pt"))["step"], 1)
        bank_sd = torch.load(os.path.join(ck, "bank.pt"))["model"]
        c1_sd = torch.load(os.path.join(ck, "adapt-c1.pt"))["model"]
        adapt_sd = torch.load(os.path.join(ck, "adapt.pt"))["model"]
        self.assertFalse(torch.equal(bank_sd["backbone.head.weight"], c1_sd["backbone.head.weight"]))
        self.assertFalse(torch.equal(c1_sd["backbone.head.weight"], adapt_sd["backbone.head.weight"]))
        run(["dedicated"] + q + ["--steps", "1", "--bs", "16", "--sched", "3:0.7,6:0.7"])
        sched_path = os.path.join(out, "schedule-default.json")
        run(["latency"] + q + ["--steps", "1", "--bs", "16", "--stages", "1",
                                             "--val", "32", "--keep-cands", "0.5,0.9",
                                             "--target", "0.8", "--lr-bb", "0", "--schedule-out", sched_path,
                                             "--init", "adapt.pt"])
        sched = json.load(open(sched_path))
        self.assertEqual(len(sched["selectors"]), 1)
        self.assertLessEqual(sched["stages"][0]["cycles_ratio"], 0.8)
        run(["qat"] + q + ["--steps", "1", "--bs", "16", "--schedule-out", sched_path,
                                          "--rule", "hard", "--range-w", "1"])
        run(["quantize", "--ckpt-dir", ck, "--out-dir", out, "--calib", "32"])
        run(["masks", "--ckpt-dir", ck, "--out-dir", out, "--test-limit", "24"])
        kind, meta, t = hvt.read(os.path.join(out, "deit-micro-int8.hvt"))
        self.assertEqual(kind, "deit-micro-int8")
        self.assertEqual(meta["shape"]["depth"], 12)
        self.assertEqual(t["s5.thr"].shape, (20,))
        self.assertEqual(t["b0.q.w"].dtype, np.int8)
        self.assertEqual(t["calib.index"].shape, (32,))
        # the exported masks use the sequential calibration on those images
        im = intref.load(os.path.join(out, "deit-micro-int8.hvt"))
        sel = [(s["block"], s["keep"]) for s in sched["selectors"]]
        th = export.sched_to_thresholds(im, sel)
        self.assertEqual(th, export.sequential_thresholds(im, export.calibration_images(im), sel))
        kind, meta, m = hvt.read(os.path.join(out, "masks-default.hvt"))
        self.assertEqual(kind, "token-masks")
        b = sched["selectors"][0]["block"]
        self.assertEqual(m[f"mask.b{b}"].shape, (24, 49))
        self.assertEqual(m["pred"].shape, (24,))
        self.assertEqual(meta["thresholds"], [{"block": b_, "threshold": t_} for b_, t_ in th])
        self.assertEqual(meta["calibration"], "sequential")
        ref = json.load(open(os.path.join(out, "reference-outputs.json")))
        self.assertEqual(len(ref["dense"]["logits"]), 16)


if __name__ == "__main__":
    unittest.main()
