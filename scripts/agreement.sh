#!/usr/bin/env bash
# Prints the SystemC-vs-analytic disagreement for every model, dense and pruned.
set -euo pipefail
HV=${HV:-build/bin/heatvit}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for m in deit-tiny deit-small deit-base lvvit-s lvvit-m deit-micro; do
  for run in "zcu102-baseline dense" "zcu102-heatvit dense" "zcu102-heatvit default"; do
    set -- $run
    [ "$m" = deit-micro ] && [ "$2" = default ] && [ ! -f models/deit-micro/export/schedule-default.json ] && continue
    "$HV" sim --model "$m" --hw "$1" --schedule "$2" --report "$tmp/r.json" -q
    /usr/bin/python3 - "$tmp/r.json" "$m" "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
a = r["analytic"]
print(f"{sys.argv[2]:11s} {sys.argv[3]:16s} {sys.argv[4]:8s} sim {r['latency_ms']['mean']:9.3f} ms  analytic {a['latency_ms']:9.3f} ms  {100*a['disagreement']:+6.2f}%  worst layer {a['worst_layer']} {100*a['worst_layer_disagreement']:+.1f}%")
PY
  done
done
