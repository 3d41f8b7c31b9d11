"""Bad input gives a clear error naming the file/field; nothing is written half-way."""
import gzip
import json
import os
import struct
import tempfile
import unittest

import torch

from training.common import atomic_write_json
from training.data import load_split, DataError
from training.model.backbone import DeitMicro
from training.model.evaluation import build_model
from training.model.schedules import load_sched_json, parse_sched
from training.model.costs import LatencyTable
from training.common import cli
from training.tests import run


class BadInputTest(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.TemporaryDirectory()
        self.p = self.d.name

    def tearDown(self):
        self.d.cleanup()

    def test_missing_dataset(self):
        with self.assertRaisesRegex(DataError, "/nonexistent/fmnist: dataset directory not found"):
            load_split("train", "/nonexistent/fmnist")
        open(os.path.join(self.p, "x"), "w").close()
        with self.assertRaisesRegex(DataError, "train-images-idx3-ubyte.gz: dataset file not found"):
            load_split("train", self.p)

    def _idx(self, name, body, dims, gz=True, magic=b"\x00\x00\x08"):
        raw = magic + bytes([len(dims)]) + struct.pack(">" + "I" * len(dims), *dims) + body
        path = os.path.join(self.p, name + (".gz" if gz else ""))
        if gz:
            with gzip.open(path, "wb") as f:
                f.write(raw)
        else:
            open(path, "wb").write(raw)
        return path

    def test_truncated_and_corrupt_idx(self):
        self._idx("t10k-labels-idx1-ubyte", bytes(3), [3])
        p = self._idx("t10k-images-idx3-ubyte", bytes(3 * 28 * 28 - 10), [3, 28, 28])
        with self.assertRaisesRegex(DataError, "t10k-images-idx3-ubyte.gz: .*truncated"):
            load_split("t10k", self.p)
        self._idx("t10k-images-idx3-ubyte", bytes(3 * 28 * 28), [3, 28, 28], magic=b"\x01\x02\x08")
        with self.assertRaisesRegex(DataError, "t10k-images-idx3-ubyte.gz: bad IDX magic"):
            load_split("t10k", self.p)
        # a gzip stream cut in the middle
        good = self._idx("t10k-images-idx3-ubyte", bytes(3 * 28 * 28), [3, 28, 28])
        raw = open(good, "rb").read()
        open(good, "wb").write(raw[:len(raw) // 2])
        with self.assertRaisesRegex(DataError, "t10k-images-idx3-ubyte.gz: cannot read"):
            load_split("t10k", self.p)
        self._idx("t10k-images-idx3-ubyte", bytes(3 * 28 * 28), [3, 28, 28])
        x, y = load_split("t10k", self.p)
        self.assertEqual(x.shape, (3, 28, 28))

    def test_checkpoint_of_another_shape(self):
        sd = DeitMicro().state_dict()
        sd["pos_embed"] = torch.zeros(1, 65, 64)
        path = os.path.join(self.p, "dense.pt")
        torch.save({"model": sd}, path)
        with self.assertRaisesRegex(ValueError, "dense.pt: tensor 'pos_embed' has shape \\[1, 65, 64\\]"):
            build_model(path)
        torch.save({"weights": 1}, path)
        with self.assertRaisesRegex(ValueError, "dense.pt: not a deit-micro checkpoint"):
            build_model(path)
        with self.assertRaisesRegex(FileNotFoundError, "missing.pt: checkpoint not found"):
            build_model(os.path.join(self.p, "missing.pt"))

    def test_adopt_a_dense_checkpoint(self):
        """python3 -m training dense --from: a finished dense checkpoint is copied unchanged; a foreign,
        unfinished or wrongly shaped one, or an existing output, exits 2 naming the file."""
        src = os.path.join(self.p, "src")
        os.makedirs(src)
        good = os.path.join(src, "good.pt")
        torch.save({"model": DeitMicro().state_dict(), "test_acc": 0.9, "precision": "bf16",
                    "epochs": 40, "wall": 3.0}, good)
        unfinished = os.path.join(src, "unfinished.pt")
        torch.save({"model": DeitMicro().state_dict(), "opt": {}, "epoch": 3}, unfinished)
        bad = DeitMicro().state_dict()
        bad["head.weight"] = torch.zeros(11, 64)
        shaped = os.path.join(src, "shaped.pt")
        torch.save({"model": bad, "test_acc": 0.9, "precision": "bf16", "epochs": 1}, shaped)
        noacc = os.path.join(src, "noacc.pt")
        torch.save({"model": DeitMicro().state_dict(), "test_acc": None, "precision": "bf16",
                    "epochs": 40}, noacc)
        trunc = os.path.join(src, "trunc.pt")
        with open(good, "rb") as f, open(trunc, "wb") as g:
            g.write(f.read()[:5000])
        ck = os.path.join(self.p, "ck")

        def adopt(path, precision="bf16", *more):
            return self._exit2(lambda: cli(lambda: run(
                ["dense", "--ckpt-dir", ck, "--from", path, "--precision", precision, *more])))
        self.assertIn("unfinished.pt: field 'test_acc' missing", adopt(unfinished))
        self.assertIn("shaped.pt: tensor 'head.weight' has shape [11, 64]", adopt(shaped))
        self.assertIn("noacc.pt: field 'test_acc' is None", adopt(noacc))
        self.assertIn("trunc.pt: cannot read checkpoint", adopt(trunc))
        self.assertIn("good.pt: field 'precision' is 'bf16', not --precision fp32", adopt(good, "fp32"))
        self.assertIn("none.pt: checkpoint not found", adopt(os.path.join(src, "none.pt")))
        self.assertIn("--init and --teacher do not apply", adopt(good, "bf16", "--init", good))
        self.assertFalse(os.path.exists(ck) and os.listdir(ck))
        run(["dense", "--ckpt-dir", ck, "--from", good, "--precision", "bf16"])
        with open(good, "rb") as a, open(os.path.join(ck, "dense.pt"), "rb") as b:
            self.assertEqual(a.read(), b.read())
        self.assertIn("dense.pt: exists; --from does not overwrite", adopt(good))
        self.assertEqual(sorted(os.listdir(ck)), ["dense.pt"])

    def _exit2(self, call):
        """stderr of call(), which must exit with status 2."""
        import contextlib
        import io
        err = io.StringIO()
        with self.assertRaises(SystemExit) as cm, contextlib.redirect_stderr(err):
            call()
        self.assertEqual(cm.exception.code, 2)
        return err.getvalue()

    def test_teacher_of_another_shape(self):
        from training.model.teacher import ConvTeacher, load_teacher
        sd = ConvTeacher().state_dict()
        sd["head.weight"] = torch.zeros(10, 64)
        path = os.path.join(self.p, "teacher.pt")
        torch.save({"teacher": sd}, path)
        with self.assertRaisesRegex(ValueError, "teacher.pt: tensor 'head.weight' missing or of another shape"):
            load_teacher(path)
        torch.save({"model": DeitMicro().state_dict()}, path)
        with self.assertRaisesRegex(ValueError, "teacher.pt: not a deit-micro checkpoint \\(no 'teacher' entry\\)"):
            load_teacher(path)
        with open(path, "wb") as f:   # not a zip, not a pickle
            f.write(bytes(range(256)))
        with self.assertRaisesRegex(ValueError, "teacher.pt: cannot read checkpoint"):
            load_teacher(path)

    def test_unknown_selector_block(self):
        path = os.path.join(self.p, "s.json")
        json.dump({"selectors": [{"block": 3, "keep": 0.7}, {"block": 11, "keep": 0.5}]}, open(path, "w"))
        with self.assertRaisesRegex(ValueError, "s.json: selectors\\[1\\].block = 11"):
            load_sched_json(path)
        json.dump({"selectors": [{"block": 3, "keep": 1.5}]}, open(path, "w"))
        with self.assertRaisesRegex(ValueError, "s.json: selectors\\[0\\].keep"):
            load_sched_json(path)
        with self.assertRaisesRegex(ValueError, "block 0 is not a candidate"):
            parse_sched("0:0.5")

    def test_negative_range_weight(self):
        import contextlib
        import io
        err = io.StringIO()
        with self.assertRaises(SystemExit) as cm, contextlib.redirect_stderr(err):
            run(["adapt", "--ckpt-dir", self.p, "--range-w", "-1"])
        self.assertEqual(cm.exception.code, 2)
        self.assertIn("--range-w -1.0: must be >= 0", err.getvalue())
        self.assertEqual(os.listdir(self.p), [])

    def test_bad_training_options(self):
        for fn, argv, msg in ((run, ["qat", "--ckpt-dir", self.p, "--precision", "bf16"],
                               "qat stage's fake quantisation must run in fp32"),
                              (run, ["dense", "--ckpt-dir", self.p, "--eval-every", "0"],
                               "--eval-every must be at least 1"),
                              (run, ["dense", "--ckpt-dir", self.p, "--precision", "fp16"],
                               "--precision: invalid choice"),
                              (run, ["adapt", "--ckpt-dir", self.p, "--dense-every", "-1"],
                               "--dense-every -1: must be >= 0"),
                              (run, ["adapt", "--ckpt-dir", self.p, "--p-on", "0"],
                               "--p-on 0.0: must be in (0, 1]"),
                              (run, ["adapt", "--ckpt-dir", self.p, "--p-on", "nan"],
                               "--p-on nan: must be in (0, 1]"),
                              (run, ["adapt", "--ckpt-dir", self.p, "--p-on", "1.5"],
                               "--p-on 1.5: must be in (0, 1]"),
                              (run, ["adapt", "--ckpt-dir", self.p, "--p-on", "inf"],
                               "--p-on inf: must be in (0, 1]"),
                              (run, ["bank", "--ckpt-dir", self.p, "--dense-every", "4"],
                               "apply to the adapt stage only, not 'bank'"),
                              (run, ["qat", "--ckpt-dir", self.p, "--mac-band", "0.3,0.5"],
                               "apply to the adapt stage only, not 'qat'"),
                              (run, ["adapt", "--ckpt-dir", self.p, "--mac-band", "0.3"],
                               "--mac-band '0.3': must be LO,HI"),
                              (run, ["adapt", "--ckpt-dir", self.p, "--mac-band", "a,b"],
                               "--mac-band 'a,b': must be LO,HI"),
                              (run, ["adapt", "--ckpt-dir", self.p, "--mac-band", "0.5,0.3"],
                               "--mac-band 0.5,0.3: needs 0 <= LO < HI <= 1"),
                              (run, ["adapt", "--ckpt-dir", self.p, "--mac-band", "0.3,nan"],
                               "--mac-band 0.3,nan: needs 0 <= LO < HI <= 1"),
                              (run, ["adapt", "--ckpt-dir", self.p, "--mac-band=-0.1,0.5"],
                               "--mac-band -0.1,0.5: needs 0 <= LO < HI <= 1")):
            self.assertIn(msg, self._exit2(lambda: fn(argv)))
        self.assertEqual(os.listdir(self.p), [])

    def test_adapt_name_must_not_overwrite_another_stage(self):
        import contextlib
        import io
        for name in ("dense", "bank", "../x", ""):
            err = io.StringIO()
            with self.assertRaises(SystemExit) as cm, contextlib.redirect_stderr(err):
                run(["adapt", "--ckpt-dir", self.p, "--name", name])
            self.assertEqual(cm.exception.code, 2)
            self.assertIn(f"--name {name!r}", err.getvalue())
        self.assertEqual(os.listdir(self.p), [])

    def test_scripts_exit_2_naming_the_file(self):
        """Missing dataset, missing or truncated checkpoint: one line naming the file,
        status 2, no traceback, nothing written."""
        import subprocess
        import sys
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        ck = os.path.join(self.p, "ck")
        os.makedirs(ck)
        with open(os.path.join(ck, "bank.pt"), "wb") as f:
            f.write(b"PK\x03\x04 truncated")

        def run(command, *args):
            r = subprocess.run([sys.executable, "-m", "training", command] + list(args), cwd=root,
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertNotIn("Traceback", r.stderr)
            return r.stderr
        nodata = os.path.join(self.p, "no-data")
        self.assertIn(f"{nodata}: dataset directory not found",
                      run("dense", "--ckpt-dir", ck, "--data", nodata))
        self.assertIn(f"{nodata}: dataset directory not found",
                      run("bank", "--ckpt-dir", ck, "--data", nodata))
        self.assertIn(os.path.join(ck, "dense.pt") + ": checkpoint not found",
                      run("bank", "--ckpt-dir", ck, "--limit", "64", "--test-limit", "16"))
        self.assertIn(os.path.join(ck, "bank.pt") + ": cannot read checkpoint",
                      run("adapt", "--ckpt-dir", ck, "--kd", "0", "--limit", "64",
                          "--test-limit", "16"))
        self.assertIn(os.path.join(ck, "bank.pt") + ": cannot read checkpoint",
                      run("dense", "--ckpt-dir", ck, "--limit", "64", "--test-limit", "16",
                          "--teacher", os.path.join(ck, "bank.pt")))
        self.assertIn(f"{nodata}: dataset directory not found",
                      run("teacher", "--ckpt-dir", ck, "--data", nodata))
        self.assertIn(os.path.join(ck, "bank.pt") + ": cannot read checkpoint",
                      run("dense", "--ckpt-dir", ck, "--limit", "64", "--test-limit", "16",
                          "--init", os.path.join(ck, "bank.pt")))
        self.assertEqual(sorted(os.listdir(ck)), ["bank.pt"])
        out = os.path.join(self.p, "background.json")
        self.assertIn(f"{nodata}: none of the checkpoints dense.pt,bank.pt,adapt.pt found",
                      run("background", "--ckpt-dir", nodata, "--out", out))
        self.assertFalse(os.path.exists(out))

    def test_latency_table_errors(self):
        path = os.path.join(self.p, "lat.json")
        json.dump({"model": "deit-micro", "blocks": [{"block": 0, "rows": [{"tokens": 2, "cycles": 1}]}]},
                  open(path, "w"))
        with self.assertRaisesRegex(ValueError, "lat.json: field 'blocks' lacks rows for block 1"):
            LatencyTable(path)

    def test_atomic_json(self):
        path = os.path.join(self.p, "r.json")
        atomic_write_json(path, {"a": 1})
        with self.assertRaises(TypeError):
            atomic_write_json(path, {"a": object()})
        self.assertEqual(json.load(open(path)), {"a": 1})
        self.assertEqual(os.listdir(self.p), ["r.json"])


if __name__ == "__main__":
    unittest.main()
