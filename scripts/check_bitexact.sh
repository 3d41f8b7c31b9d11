#!/usr/bin/env bash
# Bit-exactness of the C++ functional model against the integer golden model
# (training/intref/reference.py) on all 10,000 Fashion-MNIST test images: dense and the
# default schedule (plus any further schedule given). See docs/functional-model.md.
#
#   scripts/check_bitexact.sh                                  # trained export, 10k images
#   scripts/check_bitexact.sh --weights DIR/deit-micro-int8.hvt --limit 500 --schedule S.json
#
# Builds build/bin/heatvit when missing. Exit status 0 iff everything is identical.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [[ ! -x "$ROOT/build/bin/heatvit" ]]; then
  cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$ROOT/build" --target heatvit -j2
fi
exec /usr/bin/python3 "$ROOT/scripts/check_bitexact.py" --heatvit "$ROOT/build/bin/heatvit" "$@"
