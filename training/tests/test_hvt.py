import json
import os
import struct
import tempfile
import unittest

import numpy as np

from training import hvt


def _raw(header, data=b"", version=1, magic=b"HVT\x00"):
    h = json.dumps(header).encode()
    pre = magic + struct.pack("<IQ", version, len(h)) + h
    return pre + b"\0" * ((-len(pre)) % 64) + data


class HvtFileTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "t.hvt")
        self.tensors = {"a": np.arange(-5, 7, dtype=np.int8).reshape(3, 4),
                        "b": np.array([1, -2, 3], dtype=np.int32),
                        "c": np.arange(10, dtype=np.uint8), "d": np.array([-7], dtype=np.int64),
                        "e": np.array([[300, -300]], dtype=np.int16)}
        hvt.write(self.path, "test-kind", {"x": 1}, self.tensors)

    def tearDown(self):
        self.dir.cleanup()

    def test_roundtrip_and_alignment(self):
        kind, meta, t = hvt.read(self.path)
        self.assertEqual(kind, "test-kind")
        self.assertEqual(meta, {"x": 1})
        for k, v in self.tensors.items():
            np.testing.assert_array_equal(t[k], v)
            self.assertEqual(t[k].dtype, v.dtype)
        buf = open(self.path, "rb").read()
        hlen = struct.unpack("<Q", buf[8:16])[0]
        self.assertEqual((16 + hlen + (-(16 + hlen)) % 64) % 64, 0)

    def _expect(self, buf, words):
        p = os.path.join(self.dir.name, "bad.hvt")
        open(p, "wb").write(buf)
        with self.assertRaises(hvt.HvtError) as cm:
            hvt.read(p)
        msg = str(cm.exception)
        self.assertIn(p, msg)
        for w in words:
            self.assertIn(w, msg)

    def test_bad_magic(self):
        buf = bytearray(open(self.path, "rb").read())
        buf[0:4] = b"XYZ\x00"
        self._expect(bytes(buf), ["bad magic"])

    def test_wrong_version(self):
        buf = bytearray(open(self.path, "rb").read())
        buf[4:8] = struct.pack("<I", 2)
        self._expect(bytes(buf), ["format_version 2"])

    def test_truncated(self):
        buf = open(self.path, "rb").read()
        self._expect(buf[:-100], ["truncated"])
        self._expect(buf[:10], ["truncated"])
        self._expect(buf[:30], ["truncated"])

    def test_wrong_dtype(self):
        hdr = {"kind": "k", "meta": {}, "tensors": {"w": {"dtype": "float32", "shape": [2],
                                                          "offset": 0, "nbytes": 8}}}
        self._expect(_raw(hdr, b"\0" * 8), ["tensors.w.dtype", "float32"])

    def test_wrong_shape(self):
        hdr = {"kind": "k", "meta": {}, "tensors": {"w": {"dtype": "int16", "shape": [3, 2],
                                                          "offset": 0, "nbytes": 8}}}
        self._expect(_raw(hdr, b"\0" * 8), ["tensors.w", "nbytes 8", "[3, 2]"])
        hdr["tensors"]["w"]["shape"] = [-1]
        self._expect(_raw(hdr, b"\0" * 8), ["tensors.w.shape"])

    def test_bad_header_json(self):
        buf = b"HVT\x00" + struct.pack("<IQ", 1, 5) + b"{nope"
        self._expect(buf + b"\0" * 64, ["not valid UTF-8 JSON"])

    def test_write_is_atomic(self):
        before = open(self.path, "rb").read()
        with self.assertRaises(hvt.HvtError):
            hvt.write(self.path, "k", {}, {"f": np.zeros(3, np.float32)})
        orig = os.replace

        def boom(a, b):
            raise OSError("disk full")
        os.replace = boom
        try:
            with self.assertRaises(OSError):
                hvt.write(self.path, "k", {}, {"g": np.zeros(3, np.int8)})
        finally:
            os.replace = orig
        self.assertEqual(open(self.path, "rb").read(), before)
        self.assertEqual(os.listdir(self.dir.name), ["t.hvt"])


if __name__ == "__main__":
    unittest.main()
