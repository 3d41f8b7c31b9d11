import importlib


def run(argv):
    """`python3 -m training ARGV` in this process, without the entry point's exit-2 wrapper
    (errors propagate as exceptions; argparse errors as SystemExit)."""
    from training.__main__ import COMMANDS
    return importlib.import_module(COMMANDS[argv[0]]).main(
        argv[1:], prog=f"python3 -m training {argv[0]}")
