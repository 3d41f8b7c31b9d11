"""Helpers every part of the training side shares: where the model's files live, one
error convention for the command line, atomic file writes, JSON reading, the training
log, checkpoint loading and the bf16 autocast context. No model or data code here
(`data.py`, `model/`)."""
import json
import os
import sys
import tempfile

from training.data import DataError

# models/deit-micro: the model's files (export, model card, backbones, latency tables,
# logs) stay where the C++ code and the users find them; checkpoints go under it too.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARTIFACTS = os.path.join(ROOT, "models", "deit-micro")


def cli(main):
    """Run a script's main(). Bad input -- a missing or malformed dataset, checkpoint,
    export or JSON file, whose messages name the file and field -- exits with status 2
    and one line on stderr instead of a traceback (HEATVIT_DEBUG=1 keeps the traceback).
    Argument errors exit 2 in argparse."""
    try:
        return main()
    except (DataError, OSError, ValueError, KeyError, EOFError) as e:
        if os.environ.get("HEATVIT_DEBUG"):
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


def load_ckpt(path, what="model", data=None):
    """A torch checkpoint dict with entry `what`; FileNotFoundError / ValueError naming the
    file for a missing, truncated or foreign file. data: the file's bytes, already read
    (path then only names it in messages)."""
    import io
    import pickle
    import torch
    if data is None and not os.path.exists(path):
        raise FileNotFoundError(f"{path}: checkpoint not found (run the earlier stage first)")
    try:
        ck = torch.load(path if data is None else io.BytesIO(data))
    except (RuntimeError, EOFError, ValueError, OSError,    # truncated or not a checkpoint
            pickle.UnpicklingError) as e:
        raise ValueError(f"{path}: cannot read checkpoint ({e})") from None
    if not isinstance(ck, dict) or what not in ck:
        raise ValueError(f"{path}: not a deit-micro checkpoint (no '{what}' entry)")
    return ck


def autocast(precision):
    """Context of a training forward pass: "bf16" runs matrix products in bfloat16 under
    torch.autocast (fp32 weights stay); "fp32" changes nothing."""
    import torch
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


def check_resume_precision(ck, path, precision, hint):
    """ValueError naming the checkpoint when a resume asks for another --precision than
    the one it was written with (checkpoints from before --precision are fp32)."""
    was = ck.get("precision", "fp32")
    if was != precision:
        raise ValueError(f"{path}: written with --precision {was}, this run asks for "
                         f"{precision} ({hint})")


def atomic_write_bytes(path, data):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_figure(fig, png, dpi=110):
    """Lay out a matplotlib figure and write it to png atomically."""
    fig.tight_layout()
    tmp = png + ".tmp.png"
    fig.savefig(tmp, dpi=dpi)
    os.replace(tmp, png)


def read_json(path, what):
    """Parses a JSON file; missing or malformed files raise ValueError naming the path."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{path}: {what} not found") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None


def atomic_write_json(path, obj, indent=1):
    atomic_write_bytes(path, (json.dumps(obj, indent=indent) + "\n").encode())


def log(path, msg):
    import time
    line = time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()) + msg
    print(line, flush=True)
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


def command_line(prog, name, argv):
    """The command that produced an output, as the output records it: the entry point's
    command and the options (sys.argv's when argv is None)."""
    import shlex
    args = sys.argv[1:] if argv is None else list(argv)
    return " ".join([prog or f"python3 -m training {name}"] + [shlex.quote(a) for a in args])
