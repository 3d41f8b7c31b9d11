#!/usr/bin/env python3
"""Black-box mutation testing of the heatvit CLI (standard library only).

Mutates the committed inputs of every kind the CLI reads (hw root configs and their
device / ddr / accelerator includes, schedules, model shapes, token-mask and weight
containers, options) and runs the CLI on each case. The contract allows exit 0, or
exit 2 with one "heatvit <cmd>: error: <where>: ..." message; anything else is a
finding: exit 1 (internal error), a signal, a run longer than the time limit, a
doubled message prefix, or an exit 2 without a message.

Usage: scripts/mutate_cli.py [--cases N] [--seed S] [--heatvit build/bin/heatvit]
       [--timeout SECONDS] [--keep DIR]
Prints one line per finding and a summary; exits 1 when there is any finding.
"""
import argparse
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EXTREME_NUMBERS = [0, -1, 1, 2, 3, 7, 255, 256, 65536, 2**31 - 1, 2**31, 2**32, 2**53 + 1,
                   2**62, 2**63 - 1, 2**63, 2**64 - 1, -2**63, 0.5, -0.5, 1e-308, 5e-324,
                   1e308, 0.999999, 1.000001]
RAW_NUMBERS = ["1e309", "-1e309", "1234567890123456789012345678901234567890", "18446744073709551616",
               "1E400", "-0", "0.0000000000000000000000000000001"]
OTHER_VALUES = [None, True, False, "", "x", "dense", "default", "/dev/zero", "..", [], {}, [1, 2],
                {"a": 1}]


def load(path):
    with open(path) as f:
        return json.load(f)


def paths_in(doc, prefix=()):
    """Every (path, value) of a JSON document, containers included."""
    yield prefix, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from paths_in(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from paths_in(v, prefix + (i,))


def set_at(doc, path, value):
    if not path:
        return value
    node = doc
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return doc


def del_at(doc, path):
    node = doc
    for p in path[:-1]:
        node = node[p]
    if isinstance(node, dict):
        del node[path[-1]]
    else:
        node.pop(path[-1])
    return doc


class Raw:
    """A JSON fragment written verbatim (numbers no Python float can hold)."""
    def __init__(self, text):
        self.text = text


def dumps(doc):
    """json.dumps with Raw fragments spliced in."""
    raws = []

    def walk(d):
        if isinstance(d, Raw):
            raws.append(d.text)
            return "@@RAW%d@@" % (len(raws) - 1)
        if isinstance(d, dict):
            return {k: walk(v) for k, v in d.items()}
        if isinstance(d, list):
            return [walk(v) for v in d]
        return d
    text = json.dumps(walk(doc))
    for i, r in enumerate(raws):
        text = text.replace('"@@RAW%d@@"' % i, r)
    return text


def mutate_json(rng, doc):
    """Text of one to three stacked mutations of `doc` (a parsed JSON document)."""
    text = mutate_json_once(rng, doc)
    for _ in range(rng.choice([0, 0, 1, 2])):
        if "[" * 64 in text:  # a deep nesting stays the one mutation of this case
            break
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            break
        if isinstance(doc, float) or doc is None:
            break
        text = mutate_json_once(rng, doc)
    return text


def mutate_json_once(rng, doc):
    """Text of one mutation of `doc` (a parsed JSON document)."""
    doc = json.loads(json.dumps(doc))
    paths = [p for p, _ in paths_in(doc)]
    path = rng.choice(paths)
    kind = rng.randrange(10)
    if kind <= 2:
        doc = set_at(doc, path, rng.choice(EXTREME_NUMBERS))
    elif kind == 3:
        doc = set_at(doc, path, Raw(rng.choice(RAW_NUMBERS)))
    elif kind == 4:
        doc = set_at(doc, path, rng.choice(OTHER_VALUES))
    elif kind == 5 and path:
        doc = del_at(doc, path)
    elif kind == 6:
        depth = rng.choice([10, 600, 100000])
        doc = set_at(doc, path, Raw("[" * depth + "]" * depth))
    elif kind == 7:
        text = dumps(doc)
        if text.startswith("{") and len(text) > 2:  # a duplicate key
            key = rng.choice([k for k in doc] or ["x"]) if isinstance(doc, dict) else "x"
            return "{" + json.dumps(key) + ": 1, " + text[1:]
        return text
    elif kind == 8:
        text = dumps(doc)
        i = rng.randrange(len(text) + 1)
        return text[:i] + rng.choice(["", "}", "]", ",", "\"", "\x00", "\xff", "1e", "{"]) + text[i + 1:]
    else:
        doc = set_at(doc, path, [rng.choice(EXTREME_NUMBERS)] * rng.choice([0, 1, 13, 300]))
    return dumps(doc)


def hvt_parts(blob):
    hlen = struct.unpack("<Q", blob[8:16])[0]
    return json.loads(blob[16:16 + hlen]), hlen


def hvt_with_header(blob, header_text, hlen_delta=0):
    hlen = struct.unpack("<Q", blob[8:16])[0]
    data0 = (16 + hlen + 63) // 64 * 64
    out = blob[:8] + struct.pack("<Q", len(header_text) + hlen_delta) + header_text
    out += b"\0" * ((64 - len(out) % 64) % 64)
    return out + blob[data0:]


def mutate_hvt(rng, blob):
    kind = rng.randrange(6)
    if kind == 0:  # bytes anywhere
        b = bytearray(blob)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if kind == 1:  # truncation
        return blob[:rng.randrange(len(blob))]
    if kind == 2:  # header length off by a little
        return blob[:8] + struct.pack("<Q", struct.unpack("<Q", blob[8:16])[0] + rng.choice([-2, -1, 1, 2, 64, 2**63])) + blob[16:]
    header, _ = hvt_parts(blob)
    if kind == 3:  # a field of one tensor
        name = rng.choice(list(header["tensors"]))
        field = rng.choice(["dtype", "shape", "offset", "nbytes"])
        value = rng.choice([Raw(rng.choice(RAW_NUMBERS)), rng.choice(EXTREME_NUMBERS), "int8", "uint8", "int32",
                            "float32", [0, 49], [24, 49], [2**62, 0], [-1, 49], [1], 1, 63, 64])
        header["tensors"][name][field] = value
        return hvt_with_header(blob, dumps(header).encode())
    if kind == 4:  # a renamed or duplicated tensor
        name = rng.choice(list(header["tensors"]))
        new = rng.choice(["mask.b01", "mask.b+1", "mask.b1", "mask.b99", "mask.b-1", "pred", "tokens", name + "x"])
        header["tensors"][new] = dict(header["tensors"][name])
        return hvt_with_header(blob, dumps(header).encode())
    return hvt_with_header(blob, mutate_json(rng, header).encode(), rng.choice([0, 0, 1]))


def case_files(tmp):
    """Copies of the hw configs with includes as absolute paths, so each can be mutated."""
    hw = load(os.path.join(ROOT, "configs/hw/zcu102-heatvit.json"))
    hwdir = os.path.join(ROOT, "configs/hw")
    parts = {k: os.path.normpath(os.path.join(hwdir, hw[k])) for k in ("device", "ddr", "accelerator")}
    hw["default_schedules"] = {m: os.path.normpath(os.path.join(hwdir, p)) for m, p in hw["default_schedules"].items()}
    return hw, parts


def classify(proc, timeout_hit):
    err = proc.stderr.decode(errors="replace") if proc else ""
    if timeout_hit:
        return "hang"
    if proc.returncode < 0:
        return "signal %d" % -proc.returncode
    if proc.returncode == 1:
        return "exit 1: " + err.strip().splitlines()[-1][:200] if err.strip() else "exit 1"
    if proc.returncode not in (0, 2):
        return "exit %d" % proc.returncode
    if proc.returncode == 2:
        lines = [l for l in err.splitlines() if "error:" in l]
        if not lines:
            return "exit 2 without a message"
        if re.search(r"error: heatvit \w+:", lines[0]):
            return "doubled prefix: " + lines[0][:200]
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--heatvit", default=os.path.join(ROOT, "build/bin/heatvit"))
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--keep", help="directory for the inputs of findings")
    ap.add_argument("--show", action="store_true", help="print every case's exit status and message")
    ap.add_argument("--only", help="comma-separated kinds to run (default: all)")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    tmp = tempfile.mkdtemp(prefix="heatvit-mutate-")
    hw, parts = case_files(tmp)
    models = {m: load(os.path.join(ROOT, "models/presets", m + ".json")) for m in ("deit-tiny", "deit-micro", "lvvit-s")}
    schedule = load(os.path.join(ROOT, "configs/schedules/deit-tiny.json"))
    masks = open(os.path.join(ROOT, "tests/cli/data/masks-ok.hvt"), "rb").read()
    weights_path = os.path.join(ROOT, "models/deit-micro/export/deit-micro-int8.hvt")
    weights = open(weights_path, "rb").read() if os.path.exists(weights_path) else None
    kinds = ["hw", "device", "ddr", "accelerator", "schedule", "model", "masks", "options", "set"]
    if weights:
        kinds.append("weights")
    design_path = os.path.join(ROOT, "rtl_hls/deit-micro-default/design.json")
    design = None
    if weights and os.path.exists(design_path):
        dj = load(design_path)
        design = {"model": dj["model"], "hw": dj["hw"], "schedule": dj["schedule"],
                  "thresholds": [t["threshold"] for t in dj["thresholds"]]}
        kinds.append("design")
    if a.only:
        kinds = [k for k in kinds if k in a.only.split(",")]
    counts, findings = {}, []
    hv = a.heatvit
    for n in range(a.cases):
        kind = kinds[n % len(kinds)]
        d = os.path.join(tmp, "case%d" % n)
        os.makedirs(d)
        rep = os.path.join(d, "r.json")
        base_sim = [hv, "sim", "--model", "deit-micro", "--hw"]
        if kind == "hw":
            h = dict(hw, **parts)
            open(os.path.join(d, "hw.json"), "w").write(mutate_json(rng, h))
            cmd = base_sim + [os.path.join(d, "hw.json"), "--schedule", "dense", "--report", rep, "-q"]
        elif kind in ("device", "ddr", "accelerator"):
            h = dict(hw, **parts)
            inc = os.path.join(d, kind + ".json")
            open(inc, "w").write(mutate_json(rng, load(parts[kind])))
            h[kind] = inc
            open(os.path.join(d, "hw.json"), "w").write(json.dumps(h))
            cmd = base_sim + [os.path.join(d, "hw.json"), "--schedule", "dense", "--report", rep, "-q"]
        elif kind == "schedule":
            open(os.path.join(d, "s.json"), "w").write(mutate_json(rng, schedule))
            cmd = [hv, "sim", "--model", "deit-tiny", "--hw", "zcu102-heatvit", "--schedule",
                   os.path.join(d, "s.json"), "--report", rep, "-q"]
        elif kind == "model":
            name = rng.choice(sorted(models))
            open(os.path.join(d, "m.json"), "w").write(mutate_json(rng, models[name]))
            sub = rng.choice(["workload", "sim"])
            cmd = [hv, sub, "--model", os.path.join(d, "m.json")]
            cmd += ["--json"] if sub == "workload" else ["--hw", "zcu102-heatvit", "--schedule", "dense", "--report", rep, "-q"]
        elif kind == "masks":
            open(os.path.join(d, "m.hvt"), "wb").write(mutate_hvt(rng, masks))
            cmd = base_sim + ["zcu102-heatvit", "--masks", os.path.join(d, "m.hvt"), "--report", rep, "-q"]
        elif kind == "weights":
            open(os.path.join(d, "w.hvt"), "wb").write(mutate_hvt(rng, weights))
            cmd = [hv, "eval", "--model", "deit-micro", "--weights", os.path.join(d, "w.hvt"), "--limit", "3",
                   "--report", rep, "-q"]
        elif kind == "set":
            key = rng.choice(["hw.frequency_mhz", "hw.ddr.timing.tRAS", "hw.ddr.timing.tCK_ps", "hw.axi.ports",
                              "hw.accelerator.pe.to", "hw.accelerator.buffers_kib.input", "model.depth",
                              "model.embed_dim", "schedule.selectors", "hw.name", "hw.x.y", "model"])
            value = rng.choice([str(v) for v in EXTREME_NUMBERS] + RAW_NUMBERS + ["[", "[]", "{}", "\"\"", "abc",
                                                                                 "\udcff", "[" * 700 + "]" * 700])
            cmd = [hv, "sim", "--model", "deit-tiny", "--hw", "zcu102-heatvit", "--set", key + "=" + value,
                   "--report", rep, "-q"]
        elif kind == "design":
            # heatvit hls --design: a winner.json-like design point
            open(os.path.join(d, "winner.json"), "w").write(mutate_json(rng, design))
            cmd = [hv, "hls", "--design", os.path.join(d, "winner.json"), "--images", "2", "--out",
                   os.path.join(d, "prj"), "-q"]
        else:  # options
            opt = rng.choice([["--images", rng.choice(["0", "-3", "100000000", "2147483648", "1e3", "", "x"])],
                              ["--schedule", rng.choice(["", "default", "dense", "/dev/zero", d, "nope.json"])],
                              ["--tokens", rng.choice(["", ",", "1,2", "-1", "99999999999", "197," * 12])],
                              ["--report", rng.choice(["/dev/null", d, os.path.join(d, "no/dir/r.json"), ""])],
                              ["--hw", rng.choice(["nope", "", d, "/dev/null"])],
                              ["--timeline", rng.choice([d, "/dev/full"])], ["--vcd", d], ["--csv", "/dev/zero"]])
            base = {"--model": "deit-tiny", "--hw": "zcu102-heatvit", "--report": rep}
            base.pop(opt[0], None)
            cmd = [hv, "sim", "-q"] + [x for kv in base.items() for x in kv] + opt
        timeout_hit = False
        proc = None
        try:
            proc = subprocess.run([os.fsencode(c) for c in cmd], capture_output=True, timeout=a.timeout)
        except subprocess.TimeoutExpired:
            timeout_hit = True
        finding = classify(proc, timeout_hit)
        if a.show and proc is not None:
            msg = proc.stderr.decode(errors="replace").strip().splitlines()
            print("case %d (%s): exit %d %s" % (n, kind, proc.returncode, msg[-1][:160] if msg else ""))
        outcome = "finding" if finding else ("exit %d" % proc.returncode)
        counts.setdefault(kind, {}).setdefault(outcome, 0)
        counts[kind][outcome] += 1
        if finding:
            findings.append((n, kind, finding))
            print("case %d (%s): %s" % (n, kind, finding), flush=True)
            if a.keep:
                shutil.copytree(d, os.path.join(a.keep, "case%d" % n), dirs_exist_ok=True)
                open(os.path.join(a.keep, "case%d" % n, "cmd"), "w").write(" ".join(map(repr, cmd)) + "\n")
        shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)
    print("%d cases, seed %d:" % (a.cases, a.seed))
    for k in kinds:
        print("  %-12s %s" % (k, ", ".join("%s %d" % (o, c) for o, c in sorted(counts.get(k, {}).items()))))
    print("%d findings" % len(findings))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
