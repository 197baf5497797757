"""Logging and progress bars: a log file per run plus the console, on rank 0 only;
console lines never land on a progress bar's line, and bars are drawn only on a terminal."""

import logging
import sys
import time
from pathlib import Path

from tqdm import tqdm


class ConsoleHandler(logging.StreamHandler):
    """A stream handler that writes through `tqdm.write`: an open progress bar is cleared, the
    line printed on its own line, and the bar drawn again below it."""

    def emit(self, record):
        try:
            tqdm.write(self.format(record), file=self.stream)
            self.flush()  # as StreamHandler does: a redirected stdout is block-buffered
        except Exception:  # logging's own convention: report, never raise from a handler
            self.handleError(record)


def setup_logging(output_dir, phase, name, is_main=True, level="INFO"):
    """Log `level` and above to the console and to `<output_dir>/<name>_<time>_<phase>.log`
    (rank 0 only; other ranks log warnings to the console)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "hrnet_run", False):  # ours, from an earlier run in this process
            root.removeHandler(handler)
            handler.close()
    if not is_main:
        root.setLevel(logging.WARNING)
        return None
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    log_file = output_dir / f"{name}_{time.strftime('%Y-%m-%d-%H-%M')}_{phase}.log"
    formatter = logging.Formatter("%(asctime)-15s %(message)s")
    for handler in (logging.FileHandler(log_file, encoding="utf-8"), ConsoleHandler(sys.stdout)):
        handler.setFormatter(formatter)
        handler.hrnet_run = True
        root.addHandler(handler)
    root.setLevel(level)
    return log_file


def on_terminal(stream=None):
    """Whether `stream` (default: stderr, where bars go) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    return hasattr(stream, "isatty") and stream.isatty()


def progress_bar(iterable=None, enabled=True, **kwargs):
    """A tqdm bar, drawn only when `enabled` and stderr is a terminal: in CI and nohup logs a
    bar would be a stream of carriage returns, and the caller logs its progress instead."""
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, disable=not (enabled and on_terminal()), **kwargs)
