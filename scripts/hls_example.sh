#!/usr/bin/env bash
# Regenerates the committed HLS example rtl_hls/deit-micro-default (checked by the test
# hls.committed_example). Usage: scripts/hls_example.sh [HEATVIT_BINARY]
set -eu
cd "$(dirname "$0")/.."
hv=${1:-build/bin/heatvit}
"$hv" hls --model deit-micro --hw zcu102-heatvit --schedule default --out rtl_hls/deit-micro-default --force
