"""Render the measured tables of the model card (models/deit-micro/README.md) from
export/results.json, the other export/*.json files and the training log.

  python3 -m training card [--log FILE]   # rewrites the block between the RESULTS markers
"""
import argparse
import json
import os
import re

from training.common import ARTIFACTS, atomic_write_bytes

BEGIN, END = "<!-- RESULTS:BEGIN (python3 -m training card) -->", "<!-- RESULTS:END -->"


def pct(x):
    return f"{100 * x:.2f}"


STAGE_ORDER = ["dense", "dense2", "bank", "adapt", "adapt2", "latency", "dedicated", "qat", "quantize",
               "masks", "evaluate", "sweep"]


def stage_walls(log_lines):
    """[(stage, seconds)] in pipeline order from a training log: `stage NAME wall_s N`
    lines (the last one of a stage run twice), overridden for the training stages by
    their `done` lines (training time summed over resumed runs)."""
    walls = [(m.group(1), int(m.group(2))) for l in log_lines
             for m in [re.search(r"stage (\w+) wall_s (\d+)", l)] if m]
    last = {}
    for n, w in walls:          # a stage repeated after a discarded attempt: keep the last
        last.pop(n, None)
        last[n] = w
    second_adapt = False        # cycle 1 of adapt logs as 'adapt-c1' (older logs: 'adapt')
    for l in log_lines:         # dense: all epochs (the stage line covers only the resumed part)
        if "adapt-c1: done" in l or "stage adapt2" in l:
            second_adapt = True     # from here on, 'adapt: done' is cycle 2 (stage adapt2)
        m = re.search(r"(dense|bank|adapt-c1|adapt): done (?:'([\w-]+)' |dense )?test_acc \S+ wall_s (\d+)", l)
        if m:
            # dense: a single cycle 'dense', or cycle 1 (checkpoint dense-c1, or the older log
            # format) and cycle 2 'dense' started from it ('with earlier cycles')
            name = "dense2" if m.group(2) == "dense" and "with earlier cycles" in l else m.group(1)
            name = {"adapt-c1": "adapt", "adapt": "adapt2" if second_adapt else "adapt"}.get(name, name)
            last[name] = int(m.group(3))
        m = re.search(r"dedicated: done wall_s (\d+)", l)   # summed over resumed runs
        if m:
            last["dedicated"] = int(m.group(1))
    return sorted(((n, w) for n, w in last.items() if n in STAGE_ORDER), key=lambda kv: STAGE_ORDER.index(kv[0]))


def render(R, log_lines):
    out = []
    walls = stage_walls(log_lines)
    if walls:
        out += ["### Wall time per stage (2 CPU cores, shared)", "",
                "Measured by `run_training.sh` (`stage NAME wall_s N` lines of the training log, "
                "copied to `logs/train.log`; dense, bank, adapt and dedicated: training time summed over "
                "their resumed runs, from their `done` lines; for a stage run twice the kept run's time).", "", "| stage | wall time |", "| --- | --- |"]
        for n, s in walls:
            out.append(f"| {n} | {s // 60} min {s % 60} s |")
        tot = sum(s for _, s in walls)
        out += [f"| sum (dedicated runs concurrently with qat, one core each) | "
                f"{tot // 60} min {tot % 60} s |", ""]
    d = R["int8_dense"]
    out += ["### Accuracy and MACs (Fashion-MNIST test set, 10,000 images)", "",
            "Command: `/usr/bin/python3 -m training evaluate --ckpt-dir "
            "models/deit-micro/checkpoints/bf16 --out-dir models/deit-micro/export` "
            "(what stage `evaluate` of `run_training.sh` runs on a run's own checkpoint and "
            "export directories; raw numbers in `export/results.json`). "
            "MACs include patch embedding, blocks, head and the active selectors; "
            "reduction is relative to dense int8 "
            f"({d['macs_per_image'] / 1e6:.2f} M MACs).", "",
            "| model | accuracy % | MACs / image (M) | MAC reduction | mean tokens entering blocks 0..11 |",
            "| --- | --- | --- | --- | --- |",
            f"| float dense (after stage 1) | {pct(R['float_dense_acc'])} | {R['dense_macs'] / 1e6:.2f} | 0 | 50 |",
            f"| float dense (backbone after the bank stage) | {pct(R['float_bank_dense_acc'])} | "
            f"{R['dense_macs'] / 1e6:.2f} | 0 | 50 |"]
    for key, what in (("float_adapt_c1_dense_acc", "the first cycle of pruning-aware fine-tuning"),
                      ("float_adapt_dense_acc", "pruning-aware fine-tuning"),
                      ("float_latency_dense_acc", "the latency-aware stage")):
        if key in R:
            out.append(f"| float dense (backbone after {what}) | {pct(R[key])} | "
                       f"{R['dense_macs'] / 1e6:.2f} | 0 | 50 |")
    out += [
            f"| int8 dense (integer reference) | {pct(d['accuracy'])} | {d['macs_per_image'] / 1e6:.2f} | 0 | 50 |"]
    f = R["int8_default_full"]
    sch = ", ".join(f"{s['block']}:{s['keep']}" for s in f["schedule"])
    out.append(f"| int8 + selectors, default schedule ({sch}) | {pct(f['accuracy'])} | "
               f"{f['macs_per_image'] / 1e6:.2f} | {pct(f['mac_reduction'])} % | "
               f"{' '.join(f'{t:.1f}' for t in f['tokens_mean'])} |")
    out += ["", "Default schedule, achieved keep rate (mean over the test images of kept / entering) "
                "versus target: " + "; ".join(f"block {s['block']}: {s['keep']} -> "
                                               f"{f['achieved_keep'][str(s['block'])]:.3f}" for s in f["schedule"]) + ".",
            "", f"#### More schedules (int8, first {R['curve_images']} test images)", "",
            f"Dense int8 on these images: {pct(R['int8_dense_curve']['accuracy'])} %.", "",
            "| schedule | accuracy % | MACs / image (M) | MAC reduction | achieved keep per selector | mean tokens per block |",
            "| --- | --- | --- | --- | --- | --- |"]
    for p in R["int8_schedules"]["heatvit"]:
        sch = ", ".join(f"{s['block']}:{s['keep']}" for s in p["schedule"])
        ach = ", ".join(f"{p['achieved_keep'][str(s['block'])]:.2f}" for s in p["schedule"])
        out.append(f"| {p['name']} ({sch}) | {pct(p['accuracy'])} | {p['macs_per_image'] / 1e6:.2f} | "
                   f"{pct(p['mac_reduction'])} % | {ach} | {' '.join(f'{t:.1f}' for t in p['tokens_mean'])} |")
    out += ["", "### Against DynamicViT-style and EViT-style top-k at the same token budget", "",
            f"Integer reference, first {R['curve_images']} test images, same backbone; top-k keeps k = round(49 * cumulative keep) "
            "patch tokens at the same blocks. DynamicViT-style: ranked by the same trained "
            "selector scores, pruned tokens dropped. EViT-style: ranked by the previous "
            "block's CLS attention, the rest fused into one token. Neither baseline was "
            "retrained for its rule.", "",
            "| schedule | HeatViT acc % (MACs M) | DynamicViT-style acc % (MACs M) | EViT-style acc % (MACs M) |",
            "| --- | --- | --- | --- |"]
    c = R["int8_schedules"]
    for h, t, e in zip(c["heatvit"], c["dynamicvit_topk"], c["evit_cls_topk"]):
        out.append(f"| {h['name']} | {pct(h['accuracy'])} ({h['macs_per_image'] / 1e6:.2f}) | "
                   f"{pct(t['accuracy'])} ({t['macs_per_image'] / 1e6:.2f}) | "
                   f"{pct(e['accuracy'])} ({e['macs_per_image'] / 1e6:.2f}) |")
    b = R["bank_vs_dedicated_float"]
    sch = ", ".join(f"{s['block']}:{s['keep']}" for s in b["schedule"])
    out += ["", "### Selector bank versus a dedicated schedule (float)", "",
            f"Schedule {sch}; both calibrated sequentially on 1,000 training images.", "",
            "| model | accuracy % | MACs / image (M) |", "| --- | --- | --- |",
            f"| bank (subset chosen after training) | {pct(b['bank']['accuracy'])} | {b['bank']['macs_per_image'] / 1e6:.2f} |",
            f"| dedicated (trained for this schedule only) | {pct(b['dedicated']['accuracy'])} | "
            f"{b['dedicated']['macs_per_image'] / 1e6:.2f} |",
            ""]
    return "\n".join(out)


def render_sweep(S):
    """Table of the full-test-set sweep (command `sweep`) and the best schedule at >= 40 % fewer MACs."""
    rows = S["schedules"]
    dense = next(r for r in rows if r["name"] == "dense")
    da = dense["accuracy"]
    out = ["### Schedule sweep on all 10,000 test images (C++ functional model)", "",
           f"Command: `/usr/bin/python3 -m training sweep` (what stage `sweep` of "
           f"`run_training.sh` runs on a run's own export; runs `heatvit eval`, bit-exact with the integer reference; raw "
           f"numbers in `export/sweep.json`, plot `accuracy_vs_macs_bank.png`). Every schedule "
           f"uses the one exported bank; keep rates are set only through the calibrated "
           f"thresholds. Dense int8: {pct(da)} %, {dense['macs_per_image'] / 1e6:.2f} M MACs.", "",
           "| schedule | accuracy % | vs dense int8 (points) | MACs / image (M) | MAC reduction | achieved keep per selector |",
           "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if r["name"] == "dense":
            continue
        sch = ", ".join(f"{s['block']}:{s['keep']}" for s in r["schedule"])
        ach = ", ".join(f"{r['achieved_keep'][str(s['block'])]:.2f}" for s in r["schedule"])
        out.append(f"| {r['name']} ({sch}) | {pct(r['accuracy'])} | {100 * (r['accuracy'] - da):+.2f} | "
                   f"{r['macs_per_image'] / 1e6:.2f} | {pct(r['mac_reduction'])} % | {ach} |")
    big = [r for r in rows if r["mac_reduction"] >= 0.40]
    if big:
        b = max(big, key=lambda r: r["accuracy"])
        ok = [r for r in big if r["accuracy"] >= da - 0.010]
        out += ["", f"Best schedule at >= 40 % fewer MACs: **{b['name']}**, {pct(b['accuracy'])} % at "
                    f"{pct(b['mac_reduction'])} % fewer MACs ({100 * (b['accuracy'] - da):+.2f} points "
                    f"versus dense int8); {len(ok)} of {len(big)} swept schedules at >= 40 % are within "
                    f"1.0 point."]
    return "\n".join(out + [""])


def render_latency(S):
    """The latency-aware stages recorded in schedule-default.json."""
    out = ["### Latency-aware multi-stage training: the stages", "",
           "From `export/schedule-default.json` (`stages`); cycles are the latency table's "
           "expected cycles of the schedule relative to dense; accuracies on the 1,000 held-out "
           "training images, float, sequential calibration.", "",
           "| stage | added selector | cycles goal | cycles | val acc before fine-tuning | after | dense after |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for h in S.get("stages", []):
        out.append(f"| {h['stage']} | block {h['block']} keep {h['keep']} | {h.get('goal', float('nan')):.3f} | "
                   f"{h['cycles_ratio']:.3f} | {pct(h['val_acc_before_ft'])} | "
                   f"{pct(h['val_acc_after_ft']) if 'val_acc_after_ft' in h else '-'} | "
                   f"{pct(h['val_acc_dense_after_ft']) if 'val_acc_dense_after_ft' in h else '-'} |")
    return "\n".join(out + [""])


def render_seqcal(Q):
    """Table rule versus per-schedule sequential calibration (command `sequential-calibration`)."""
    out = ["### Stored table versus per-schedule sequential calibration", "",
           f"Command: `/usr/bin/python3 -m training sequential-calibration` (raw numbers in "
           f"`export/seqcal.json`). Integer reference, first {Q['test_images']} test images "
           f"(dense int8 {pct(Q['dense_int8_accuracy'])} %). Table: the stored dense-pass "
           f"tables at the cumulative keep rate (`heatvit eval --calibration table`). "
           f"Sequential: each selector calibrated with the earlier ones active, on the same "
           f"{Q['calibration_images']} training images (the default of `heatvit eval`, the "
           f"exported masks and every other table of this card).", "",
           "| schedule | rule | accuracy % | MAC reduction | achieved keep per selector |",
           "| --- | --- | --- | --- | --- |"]
    for r in Q["schedules"]:
        for rule in ("table", "sequential"):
            e = r[rule]
            ach = ", ".join(f"{v:.2f}" for v in e["achieved_keep"].values())
            out.append(f"| {r['name']} | {rule} | {pct(e['accuracy'])} | {pct(e['mac_reduction'])} % | {ach} |")
    return "\n".join(out + [""])


def render_background(B):
    names = list(B["checkpoints"])
    scheds = list(B["checkpoints"][names[0]]["pixel_topk"])
    out = ["### Does the backbone need the background tokens? (float, validation images)", "",
           f"Command: `/usr/bin/python3 -m training background` (raw numbers in "
           f"`export/background.json`; the last {B['images']} training images, "
           f"{100 * B['zero_patch_fraction']:.1f} % of whose patch tokens are all zero). Every "
           "selector is replaced by a training-free pixel score (patch standard deviation plus "
           "mean brightness, so blank patches go first), top-k kept, pruned tokens dropped; in "
           "brackets the same top-k with the checkpoint's own trained selectors.", "",
           "| schedule | MAC reduction | " + " | ".join(f"`{n}`" for n in names) + " |",
           "| --- | --- |" + " --- |" * len(names),
           "| dense | 0 | " + " | ".join(pct(B["checkpoints"][n]["dense"]) for n in names) + " |"]
    for s in scheds:
        cells = []
        for n in names:
            c = B["checkpoints"][n]
            own = c["selector_topk"].get(s)
            cells.append(pct(c["pixel_topk"][s]["accuracy"])
                         + (f" ({pct(own['accuracy'])})" if own else ""))
        red = B["checkpoints"][names[0]]["pixel_topk"][s]["mac_reduction"]
        out.append(f"| {s} | {100 * red:.1f} % | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.strip().split("\n\n")[0])
    ap.add_argument("--results", default=os.path.join(ARTIFACTS, "export", "results.json"))
    ap.add_argument("--log", default=os.path.join(ARTIFACTS, "logs", "train.log"))
    ap.add_argument("--readme", default=os.path.join(ARTIFACTS, "README.md"))
    ap.add_argument("--sweep", default=os.path.join(ARTIFACTS, "export", "sweep.json"))
    ap.add_argument("--seqcal", default=os.path.join(ARTIFACTS, "export", "seqcal.json"))
    ap.add_argument("--background", default=os.path.join(ARTIFACTS, "export", "background.json"))
    a = ap.parse_args(argv)
    R = json.load(open(a.results))
    lines = open(a.log).read().splitlines() if os.path.exists(a.log) else []
    body = render(R, lines)
    sp = os.path.join(os.path.dirname(a.results), "schedule-default.json")
    if os.path.exists(sp):
        body += "\n" + render_latency(json.load(open(sp)))
    if os.path.exists(a.sweep):
        body += "\n" + render_sweep(json.load(open(a.sweep)))
    if os.path.exists(a.seqcal):
        body += "\n" + render_seqcal(json.load(open(a.seqcal)))
    if os.path.exists(a.background):
        body += "\n" + render_background(json.load(open(a.background)))
    txt = open(a.readme).read()
    i, j = txt.index(BEGIN), txt.index(END)
    new = txt[:i + len(BEGIN)] + "\n" + body + "\n" + txt[j:]
    atomic_write_bytes(a.readme, new.encode())
