"""Command-line flags that several tools/ scripts share, with one spelling and one help text."""

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

from utils.errors import OtherProcessFailed, UserError

__all__ = [
    "ArgumentParser",
    "add_class_table_arguments",
    "add_debug_argument",
    "add_inference_arguments",
    "add_log_level_argument",
    "add_model_arguments",
    "add_split_arguments",
    "shown_path",
    "run_tool",
]

# How long a process stopped by another one's error waits before it exits: torchrun stops the
# job at the first process that ends and names it the root cause, so the one with the message
# should end first.
QUIET_EXIT_DELAY_S = 2.0

UNDERSCORE_NOTE = "Every --flag-name is also accepted as --flag_name (the forks' spelling)."


class ArgumentParser(argparse.ArgumentParser):
    """The parser of every tool: the description (the docstring with its examples) keeps its
    line breaks, and every hyphenated flag is also accepted with underscores (`--batch_size`
    for `--batch-size`, the forks' spelling), without listing the aliases twice in --help."""

    def __init__(self, description=None, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        kwargs.setdefault("epilog", UNDERSCORE_NOTE)
        super().__init__(description=description, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args([self._hyphenated(a) for a in args], namespace)

    def _hyphenated(self, token):
        """`--a_b` / `--a_b=v` -> `--a-b` / `--a-b=v` when `--a-b` is a flag of this parser."""
        if not token.startswith("--") or "_" not in token:
            return token
        flag, equals, value = token.partition("=")
        hyphenated = "--" + flag[2:].replace("_", "-")
        if flag in self._option_string_actions or hyphenated not in self._option_string_actions:
            return token
        return hyphenated + equals + value


def add_model_arguments(parser):
    """--cfg and --pth: the experiment YAML and its weights file."""
    parser.add_argument("--cfg", required=True, help="experiment YAML file")
    parser.add_argument("--pth", default=None, help="weights file (default: TEST.MODEL_FILE)")


def add_inference_arguments(parser):
    """--device, --exact and the config overrides (`opts`: the rest of the command line, so
    add these last)."""
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: GPU if any)")
    parser.add_argument(
        "--exact",
        action="store_true",
        help="the model as trained, fp32 (default: BatchNorm folded, bf16/fp16 autocast)",
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides: KEY VALUE ...")


def add_split_arguments(parser, ratio):
    """--ratio TRAIN VAL TEST (default `ratio`) and --seed: a seeded split of the files."""
    parser.add_argument(
        "--ratio",
        type=float,
        nargs=3,
        default=tuple(ratio),
        metavar=("TRAIN", "VAL", "TEST"),
        help=f"split ratio (default: {' '.join(f'{r:g}' for r in ratio)})",
    )
    parser.add_argument("--seed", type=int, default=0, help="shuffle seed (default: 0)")


def add_class_table_arguments(parser):
    """--color-map and --values: the class table and whether label pixels hold its raw ids or
    class indices."""
    parser.add_argument(
        "--color-map", default="colorMap.txt", help="class table (default: %(default)s)"
    )
    parser.add_argument(
        "--values",
        choices=("ids", "classes"),
        default="ids",
        help="label pixels are raw ids of the table (default) or class indices",
    )


def shown_path(path):
    """`path` as a user types it: relative to the current folder when it is under it (so
    printed commands can be pasted), else absolute; forward slashes."""
    path = Path(path).resolve()
    try:
        return path.relative_to(Path.cwd()).as_posix() or "."
    except ValueError:
        return path.as_posix()


def add_log_level_argument(parser):
    """--log-level: the lowest level of the messages shown and written to the log file."""
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="messages shown and logged (default: %(default)s)",
    )


DEBUG_ENV = "HRNET_DEBUG"


def add_debug_argument(parser):
    """--debug, which `run_tool` reads: errors show their Python traceback."""
    parser.add_argument(
        "--debug",
        action="store_true",
        help=f"on an error, show the Python traceback too (or set {DEBUG_ENV}=1)",
    )


def run_tool(main, argv=None):
    """Run a tool's `main(argv)` and return its exit status: a `UserError` is printed as one
    line `error: <message>` on stderr with status 2, after its traceback when `--debug` is on the
    command line or the environment variable HRNET_DEBUG is set.

    Ctrl-C ends it with `error: interrupted (Ctrl-C)` and status 130, without a traceback.
    In a multi-process job every process does the same; a process that stops because another
    one failed exits with status 2 quietly (`OtherProcessFailed`, after QUIET_EXIT_DELAY_S so
    the failing one ends first), or, when it lost the connection to a process that died, with
    one line saying so.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    if "--debug" in args:
        args.remove("--debug")
    try:
        return main(args)
    except OtherProcessFailed:
        if debug:
            raise
        time.sleep(QUIET_EXIT_DELAY_S)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        _print_error("interrupted (Ctrl-C)")
        return 130  # the shell's status for SIGINT
    except UserError as error:
        if debug:
            traceback.print_exc()
        _print_error(str(error))
        return 2
    except RuntimeError as error:
        if debug or not _lost_another_process(error):
            raise
        _print_error(
            f"process {os.environ.get('RANK')} lost the connection to another process of this "
            "job, which stopped or was killed (see its message)"
        )
        return 2


def _print_error(message):
    # The processes of a job share the terminal: another one's progress bar may be mid-line.
    start = "\n" if int(os.environ.get("RANK", "0")) > 0 else ""
    print(f"{start}error: {message}", file=sys.stderr)


def _lost_another_process(error):
    # What gloo raises in the survivors when a process of the job dies mid-collective.
    multi_process = int(os.environ.get("WORLD_SIZE", "1")) > 1
    lost = ("Connection closed by peer", "Connection reset by peer")
    return multi_process and any(text in str(error) for text in lost)
