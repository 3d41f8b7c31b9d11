#!/usr/bin/env python3
"""Pins the simulator's cycle counts: every model preset on both hw presets (the hw
config's default schedule where it has one, and dense), deit-micro over 100 test images
with its trained model's tokens, and deit-micro's SystemC latency table. Compares with
tests/sim/data/pinned_cycles.json (--write regenerates it). Any change of a cycle count,
a layer's cycles or a DDR statistic is a failure: speed work must not change results.

Usage: pin_cycles.py HEATVIT [--write]
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PINNED = os.path.join(ROOT, "tests/sim/data/pinned_cycles.json")
MODELS = ["deit-micro", "deit-tiny", "deit-small", "deit-base", "lvvit-s", "lvvit-m"]
PRESETS = ["zcu102-heatvit", "zcu102-baseline"]


def digest(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def sim(hv, tmp, args):
    rep = os.path.join(tmp, "r.json")
    subprocess.run([hv, "sim", "--report", rep, "-q"] + args, check=True)
    r = json.load(open(rep))
    layers = [[l["name"], l.get("cycles"), l.get("compute_cycles"), l.get("stall_cycles"), l.get("ddr_bytes")]
              for l in r["layers"]]
    return {"cycles": r["cycles"], "layers": digest(layers), "stats": digest(r.get("stats"))}


def main():
    hv = sys.argv[1]
    write = "--write" in sys.argv[2:]
    got = {}
    with tempfile.TemporaryDirectory() as tmp:
        for m in MODELS:
            for p in PRESETS:
                for sched in ("default", "dense"):
                    if p == "zcu102-baseline" and sched == "default":
                        continue  # the baseline has no selectors
                    got["%s/%s/%s" % (m, p, sched)] = sim(hv, tmp, ["--model", m, "--hw", p, "--schedule", sched])
        got["deit-micro/zcu102-heatvit/default/100-images"] = sim(
            hv, tmp, ["--model", "deit-micro", "--hw", "zcu102-heatvit", "--images", "100"])
        lt = os.path.join(tmp, "lt.json")
        subprocess.run([hv, "sim", "--model", "deit-micro", "--hw", "zcu102-heatvit", "--latency-table", lt, "-q"],
                       check=True)
        got["deit-micro/zcu102-heatvit/latency-table"] = digest(json.load(open(lt)))
    if write:
        os.makedirs(os.path.dirname(PINNED), exist_ok=True)
        with open(PINNED, "w") as f:
            json.dump(got, f, indent=1, sort_keys=True)
            f.write("\n")
        print("wrote %s (%d runs)" % (PINNED, len(got)))
        return 0
    want = json.load(open(PINNED))
    bad = [k for k in sorted(set(want) | set(got)) if want.get(k) != got.get(k)]
    for k in bad:
        print("CHANGED %s: pinned %s, now %s" % (k, want.get(k), got.get(k)))
    print("%d runs, %d changed" % (len(got), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
