#!/usr/bin/python3
"""Times one heatvit command on several builds, interleaved, and checks that their
reports agree.

    scripts/compare_builds.py [--rounds N] [--warmup K] [--ignore KEY]... BIN_DIR [BIN_DIR ...] -- ARGS...

Each BIN_DIR holds a `heatvit` (a checkout's build/bin); ARGS are a heatvit command that
takes --report and -q (`sim`, `eval`), which the script adds. K untimed rounds first
(default 1: files cached, the threshold cache filled), then N timed ones (default 3). A
round runs
`BIN_DIR/heatvit ARGS --report <tmp> -q` once per build, one after another, so that a
drift of the machine's speed affects the builds of a round alike. Printed per build: the
fastest and the middle wall time, and the first build's time divided by this build's
within each round (median and range), which drift affects least. The reports of every
build are compared field by field with the first build's; strings that name a file
under a BIN_DIR's checkout are compared relative to it, and fields that time the run
itself (`wall_s`, `images_per_s` of `eval`, and each --ignore KEY) are left out. Exit
status 1 when reports differ or a run fails, 2 for bad arguments (of this script, or
heatvit's exit 2).

Example (docs/performance.md, "Speed work"):
    scripts/compare_builds.py --rounds 5 ../orig/build/bin build/bin -- \\
        sim --model deit-micro --hw zcu102-heatvit --images 10000
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def usage(msg):
    sys.stderr.write("compare_builds.py: " + msg + "\n" + __doc__.split("\n\n")[1] + "\n")
    sys.exit(2)


# Report fields that measure the run's own wall time: they differ between any two runs.
TIMING_KEYS = {"wall_s", "images_per_s"}


def parse(argv):
    if "--" not in argv:
        usage("'--' must separate the build directories from the heatvit arguments")
    cut = argv.index("--")
    args = argv[cut + 1:]
    p = argparse.ArgumentParser(prog="compare_builds.py")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--ignore", action="append", default=[], metavar="KEY")
    p.add_argument("dirs", nargs="*", metavar="BIN_DIR")
    o = p.parse_args(argv[:cut])
    for name, n, low in (("--rounds", o.rounds, 1), ("--warmup", o.warmup, 0)):
        if n < low or n > 1000:
            usage("%s: must be in [%d, 1000], got %d" % (name, low, n))
    if not o.dirs:
        usage("give at least one build directory")
    for d in o.dirs:
        if not os.access(os.path.join(d, "heatvit"), os.X_OK):
            usage(d + ": no executable heatvit in it")
    if not args:
        usage("give the heatvit arguments after '--'")
    for a in ("--report", "-q"):
        if a in args:
            usage(a + " is added by the script; leave it out")
    return o.rounds, o.warmup, TIMING_KEYS | set(o.ignore), o.dirs, args


def checkout_of(bin_dir):
    # build/bin -> the checkout two levels up
    return os.path.realpath(os.path.join(bin_dir, os.pardir, os.pardir))


def relative(value, root):
    if isinstance(value, dict):
        return {k: relative(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [relative(v, root) for v in value]
    if isinstance(value, str) and value.startswith(root + os.sep):
        return "<checkout>" + value[len(root):]
    return value


def differences(a, b, ignore, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k in ignore:
                continue
            if k not in a or k not in b:
                out.append(path + "/" + k + ": only in one report")
            else:
                out += differences(a[k], b[k], ignore, path + "/" + k)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [path + ": %d entries against %d" % (len(a), len(b))]
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += differences(x, y, ignore, "%s[%d]" % (path, i))
        return out
    return [] if a == b else [path + ": %r against %r" % (a, b)]


def main():
    rounds, warmup, ignore, dirs, args = parse(sys.argv[1:])
    times = [[] for _ in dirs]
    reports = [None] * len(dirs)
    with tempfile.TemporaryDirectory(prefix="heatvit-compare-") as tmp:
        for r in range(-warmup, rounds):
            for i, d in enumerate(dirs):
                report = os.path.join(tmp, "r%d-%d.json" % (r + warmup, i))
                cmd = [os.path.join(d, "heatvit")] + args + ["--report", report, "-q"]
                t0 = time.perf_counter()
                done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                elapsed = time.perf_counter() - t0
                if done.returncode != 0:
                    sys.stderr.write("%s: exit status %d\n%s" % (" ".join(cmd), done.returncode, done.stderr))
                    return 2 if done.returncode == 2 else 1
                if r < 0:
                    continue
                times[i].append(elapsed)
                if r == 0:
                    with open(report) as f:
                        reports[i] = relative(json.load(f), checkout_of(d))
            if r >= 0:
                sys.stderr.write("round %d of %d: %s\n" % (r + 1, rounds, "  ".join("%.3f s" % t[-1] for t in times)))
    print("%-40s %10s %10s   %s" % ("build", "fastest", "median", "first / this within a round: median (range)"))
    for i, d in enumerate(dirs):
        ratios = [times[0][r] / times[i][r] for r in range(rounds)]
        print("%-40s %9.3fs %9.3fs   %.3fx (%.3f-%.3fx)" % (d, min(times[i]), statistics.median(times[i]),
                                                         statistics.median(ratios), min(ratios), max(ratios)))
    status = 0
    for i in range(1, len(dirs)):
        diff = differences(reports[0], reports[i], ignore)
        if diff:
            status = 1
            print("reports of %s and %s differ in %d places, first:" % (dirs[0], dirs[i], len(diff)))
            for line in diff[:10]:
                print("  " + line)
        else:
            print("reports of %s and %s agree" % (dirs[0], dirs[i]))
    return status


if __name__ == "__main__":
    sys.exit(main())
