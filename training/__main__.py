"""The one entry point of the training side: `python3 -m training COMMAND [options]`
from the repository's root (`python3 -m training` lists the commands;
`python3 -m training COMMAND --help` gives each one's options)."""
import importlib
import os
import sys

from training.common import ARTIFACTS, cli

# (command, module, summary); the pipeline in the order models/deit-micro/run_training.sh
# runs it, then the analyses behind figures of the model card, then tools.
PIPELINE = [
    ("dense", "training.stages.dense", "stage 1: dense float training (or --from a finished checkpoint)"),
    ("bank", "training.stages.bank", "stage 2a: the selector bank, one selector per candidate block"),
    ("adapt", "training.stages.adapt", "stage 2b: pruning-aware joint fine-tuning (run twice)"),
    ("latency", "training.stages.latency", "stage 3: latency-aware search of the default schedule"),
    ("dedicated", "training.stages.dedicated", "stage 3': selectors for one fixed schedule (comparison)"),
    ("qat", "training.stages.qat", "stage 4: quantisation-aware fine-tuning"),
    ("quantize", "training.export.quantize", "export: qat.pt -> deit-micro-int8.hvt"),
    ("masks", "training.export.masks", "export: masks-default.hvt, reference-outputs.json"),
    ("evaluate", "training.stages.evaluate", "every figure of the model card: results.json, plot"),
    ("sweep", "training.stages.sweep", "full-test-set schedule sweep through heatvit eval"),
]
ANALYSES = [
    ("background", "training.analyses.background", "how much checkpoints lean on background tokens"),
    ("sequential-calibration", "training.analyses.sequential_calibration",
     "table vs sequential threshold calibration"),
    ("validation-search", "training.analyses.validation_search",
     "schedule search on validation images through heatvit eval"),
    ("validation-schedules", "training.analyses.validation_schedules",
     "float accuracy of schedules on validation images"),
    ("selector-quantization", "training.analyses.selector_quantization",
     "float vs fake-quantised selector accuracy"),
    ("selector-ranges", "training.analyses.selector_ranges",
     "value ranges inside the selectors vs their integer formats"),
]
TOOLS = [
    ("all", None, "every pipeline stage in order, resumable (models/deit-micro/run_training.sh)"),
    ("describe-backbone", "training.analyses.describe_backbone", "the description file of a dense backbone"),
    ("card", "training.card", "render the model card (models/deit-micro/README.md)"),
    ("teacher", "training.stages.teacher", "optional stage 0: a convolutional distillation teacher"),
    ("import-masks", "training.export.import_masks", "token-keep lists from elsewhere -> HVT masks"),
    ("analytic-latency-table", "training.model.costs", "the closed-form block latency table"),
]
COMMANDS = {c: m for c, m, _ in PIPELINE + ANALYSES + TOOLS}


def usage(out):
    print("usage: python3 -m training COMMAND [options]   (COMMAND --help for its options)", file=out)
    for title, group in (("pipeline (in order)", PIPELINE), ("analyses (model card figures)", ANALYSES),
                         ("tools", TOOLS)):
        print(f"\n{title}:", file=out)
        for c, _, s in group:
            print(f"  {c:24s}{s}", file=out)


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        usage(sys.stdout)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        print(f"error: '{cmd}' is not a command of python3 -m training", file=sys.stderr)
        usage(sys.stderr)
        return 2
    if cmd == "all":
        if rest and rest[0] in ("-h", "--help"):
            print("usage: python3 -m training all\n\nEvery pipeline stage in order, skipping the "
                  "stages whose output exists (the DM_* environment variables of "
                  "models/deit-micro/run_training.sh choose the recipe and directories).")
            return 0
        if rest:
            print("error: python3 -m training all takes no options (set DM_* variables)", file=sys.stderr)
            return 2
        script = os.path.join(ARTIFACTS, "run_training.sh")
        os.execvp("bash", ["bash", script])
    mod = importlib.import_module(COMMANDS[cmd])
    rc = cli(lambda: mod.main(rest, prog=f"python3 -m training {cmd}"))
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
