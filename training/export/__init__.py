"""Export: the trained model becomes the integer model the C++ side runs.

  quantize.py      stage `quantize`: qat.pt -> deit-micro-int8.hvt
  masks.py         stage `masks`: masks-default.hvt and reference-outputs.json
  calibration.py   keep rates -> integer thresholds (sequential and table rules)
  import_masks.py  command `import-masks`: token-keep lists from elsewhere -> an HVT masks file
"""
import argparse


def parse_args(argv, prog, cmd):
    """The options of the two export stages (they take the same ones)."""
    ap = argparse.ArgumentParser(prog=prog, description={
        "quantize": "qat.pt in --ckpt-dir -> OUT_DIR/deit-micro-int8.hvt",
        "masks": "OUT_DIR/deit-micro-int8.hvt and schedule-default.json -> "
                 "OUT_DIR/masks-default.hvt, OUT_DIR/reference-outputs.json"}[cmd])
    ap.add_argument("--ckpt-dir", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--data", default=None)
    ap.add_argument("--calib", type=int, default=2000)
    ap.add_argument("--test-limit", type=int, default=None)
    ap.add_argument("--log", default=None)
    return ap.parse_args(argv)
