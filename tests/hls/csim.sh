#!/usr/bin/env bash
# heatvit hls end to end: emit the deit-micro project, run its C simulation (bit-exact
# against the functional model, latency within 5% of the simulator), and check that the
# testbench fails on an edited, missing, empty or short golden file; then the CLI's
# refusals (existing output, unknown model, bad design file, a design over the device)
# and the --design round trip. Usage: csim.sh HEATVIT WORK
set -u
hv=$1; work=$2
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work"; mkdir -p "$work"
p=$work/p
"$hv" hls --model deit-micro --hw zcu102-heatvit --schedule default --out "$p" -q || fail "emit"
make -s -C "$p" csim > "$work/csim.log" 2>&1 || { cat "$work/csim.log"; fail "csim of the emitted project"; }
grep -q "100 images, 0 mismatching values, 100/100 predictions" "$work/csim.log" || { cat "$work/csim.log"; fail "csim summary"; }
grep -q "0 pass-images outside 5%" "$work/csim.log" || { cat "$work/csim.log"; fail "latency consistency"; }
[ -s "$p/build/csim_latency.csv" ] || fail "csim_latency.csv"

# The testbench must fail when its data are edited, missing, empty or short.
tb=$p/build/heatvit_tb
bad() {  # name, then a shell snippet that spoils the copy in $w
  local name=$1 w=$work/bad-$1; shift
  rm -rf "$w"; cp -r "$p/tb_data" "$w"
  (cd "$w" && eval "$*")
  if (cd "$work" && "$tb" "$w" > "$work/bad-$name.log" 2>&1); then cat "$work/bad-$name.log"; fail "testbench passed with $name"; fi
}
bad edited_logit "awk 'NR==3{\$2=\$2+1}1' golden.dat > g && mv g golden.dat"
grep -q "MISMATCH image 0 word 0 (logit)" "$work/bad-edited_logit.log" || fail "edited logit not reported"
bad edited_mask "awk '!/^#/ && !done {\$NF=\$NF+1; done=1}1' golden.dat > g && mv g golden.dat"
bad missing_golden "rm golden.dat"
grep -q "golden.dat: missing" "$work/bad-missing_golden.log" || fail "missing golden not reported"
bad empty_golden ": > golden.dat"
grep -q "golden.dat: empty" "$work/bad-empty_golden.log" || fail "empty golden not reported"
bad short_golden "head -50 golden.dat > g && mv g golden.dat"
bad missing_weights "rm wmem.bin"
bad short_weights "head -c 1000 wmem.bin > w && mv w wmem.bin"
bad edited_plan "awk 'NR==2{\$3=\$3*2}1' plan_cycles.dat > g && mv g plan_cycles.dat"
grep -q "LATENCY image 0" "$work/bad-edited_plan.log" || fail "edited plan cycles not reported"

# An existing output is refused (exit 2) and left as it was; --force replaces it.
sum() { (cd "$1" && find . -path ./build -prune -o -type f -print | sort | xargs md5sum) ; }
before=$(sum "$p")
"$hv" hls --model deit-micro --hw zcu102-heatvit --out "$p" -q 2> "$work/exists.err"; rc=$?
[ $rc = 2 ] && grep -q -- "--out.*exists" "$work/exists.err" || fail "existing --out: rc $rc $(cat "$work/exists.err")"
[ "$(sum "$p")" = "$before" ] || fail "existing project changed"
"$hv" hls --model deit-micro --hw zcu102-heatvit --out "$p" --force -q || fail "--force"
[ "$(sum "$p")" = "$before" ] || fail "the same design point gave another project"
ls "$work" | grep -q "heatvit-hls" && fail "temporary directories left behind"

# --design: a winner.json-like file (model, resolved hw, schedule, thresholds)
/usr/bin/python3 - "$p/design.json" "$work" <<'PY' || fail "design files"
import json, sys
d = json.load(open(sys.argv[1])); w = sys.argv[2]
win = {"model": d["model"], "hw": d["hw"], "schedule": d["schedule"], "thresholds": [t["threshold"] for t in d["thresholds"]]}
json.dump(win, open(w + "/winner.json", "w"))
bad = dict(win); bad["thresholds"] = win["thresholds"][:1]; json.dump(bad, open(w + "/bad-thresholds.json", "w"))
huge = dict(win); huge["thresholds"] = [2**64 - 1] + win["thresholds"][1:]; json.dump(huge, open(w + "/huge-threshold.json", "w"))
big = json.loads(json.dumps(win)); big["hw"]["accelerator"]["pe"].update(th=8, ti=64, to=256); json.dump(big, open(w + "/over-device.json", "w"))
nohw = dict(win); del nohw["hw"]; json.dump(nohw, open(w + "/no-hw.json", "w"))
PY
"$hv" hls --design "$work/winner.json" --out "$work/q" -q || fail "--design"
diff -r -x design.json -x build "$p" "$work/q" > /dev/null || fail "--design gives another project than --model/--hw/--schedule"
expect() {  # status, pattern, args...
  local want=$1 pat=$2; shift 2
  out=$("$hv" hls "$@" 2>&1); got=$?
  [ "$got" = "$want" ] && grep -qE -- "$pat" <<<"$out" || fail "heatvit hls $*: exit $got: $out"
}
expect 2 "bad-thresholds.json.*thresholds.*one integer threshold per selector" --design "$work/bad-thresholds.json" --out "$work/x1"
expect 2 "huge-threshold.json.*thresholds\\[0\\].*32-bit" --design "$work/huge-threshold.json" --out "$work/x9"
expect 2 "configuration needs [0-9]+ DSP48E2" --design "$work/over-device.json" --out "$work/x2"
expect 2 "no-hw.json.*hw.*missing" --design "$work/no-hw.json" --out "$work/x3"
expect 2 "missing.json" --design "$work/missing.json" --out "$work/x4"
expect 2 "--model.*no engine build for lvvit-s" --model lvvit-s --hw zcu102-heatvit --out "$work/x5"
expect 2 "--design.*cannot be combined|--model.*cannot be combined" --design "$work/winner.json" --model deit-micro --out "$work/x6"
expect 2 "--out.*required" --model deit-micro --hw zcu102-heatvit
expect 2 "--images" --model deit-micro --hw zcu102-heatvit --images 0 --out "$work/x7"
for x in x1 x2 x3 x4 x5 x6 x7 x9; do [ -e "$work/$x" ] && fail "$x written after an error"; done

# DeiT shapes: seeded synthetic weights and images, checked against the shape-generic
# integer reference; DeiT-Ti and DeiT-S, one image each
for m in deit-tiny deit-small; do
  "$hv" hls --model $m --hw zcu102-heatvit --out "$work/$m" -q || fail "emit $m"
  make -s -C "$work/$m" csim > "$work/$m.log" 2>&1 || { cat "$work/$m.log"; fail "csim of $m"; }
  grep -q "1 images, 0 mismatching values, 1/1 predictions" "$work/$m.log" || { cat "$work/$m.log"; fail "$m summary"; }
  grep -q '"pass": true' "$work/$m/hls_report.json" || fail "$m report"
done
# a config whose buffers cannot hold a DeiT-S layer: exit 2 naming the buffer
/usr/bin/python3 - "$p/design.json" "$work" <<'PY' || fail "small-buffer design"
import json, sys
d = json.load(open(sys.argv[1])); w = sys.argv[2]
d["hw"]["accelerator"]["buffers_kib"]["weight"] = 8
json.dump({"model": "deit-small", "hw": d["hw"], "schedule": {"selectors": [{"block": 3, "keep": 0.7}]}}, open(w + "/small-weight.json", "w"))
PY
expect 2 "small-weight.json.*buffers_kib.weight" --design "$work/small-weight.json" --out "$work/x8"
[ -e "$work/x8" ] && fail "x8 written after an error"

# The host program's buffer layout (no board here)
make -s -C "$p" host-dry-run > "$work/host.log" 2>&1 || { cat "$work/host.log"; fail "host dry run"; }
grep -q "DDR layout: wmem" "$work/host.log" || fail "host layout"
echo "hls csim: ok"
