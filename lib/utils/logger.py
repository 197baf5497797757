"""Run folders and logging: a log file per run plus the console, on rank 0 only."""

import logging
import sys
import time
from pathlib import Path

from config import config_name


def run_dirs(cfg, cfg_file):
    """(output folder, TensorBoard folder) of a run: OUTPUT_DIR/<dataset>/<cfg name>, LOG_DIR/..."""
    name = config_name(cfg_file) if cfg_file else "default"
    output = Path(cfg.OUTPUT_DIR or "output") / cfg.DATASET.DATASET / name
    tensorboard = Path(cfg.LOG_DIR or "log") / cfg.DATASET.DATASET / cfg.MODEL.NAME / name
    return output, tensorboard


def setup_logging(output_dir, phase, name, is_main=True):
    """Log INFO to the console and to `<output_dir>/<name>_<time>_<phase>.log` (rank 0 only)."""
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
    for handler in (
        logging.FileHandler(log_file, encoding="utf-8"),
        logging.StreamHandler(sys.stdout),
    ):
        handler.setFormatter(formatter)
        handler.hrnet_run = True
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    return log_file
