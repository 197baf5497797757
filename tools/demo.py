"""The whole cycle in one command, on a CPU, in minutes: no data or weights to download.

  python tools/demo.py

writes a small synthetic dataset (textured backgrounds with coloured circles, rectangles and
triangles) to data/demo/ in the generic `custom` layout (images/, labels/, train.lst, val.lst,
colorMap.txt), trains HRNetV2-W18-Small-v1 from scratch with tools/train.py's code, evaluates it
on the validation split with tools/test.py's code, and writes colour predictions, overlays,
label-vs-prediction pictures and the confusion-matrix and per-class IoU charts.
It prints the mIoU and where every output is. A second run continues the first one where it
stopped (AUTO_RESUME True), so a finished demo is evaluated again without training.
"""

import argparse
import logging
import sys
import time
from pathlib import Path

import _init_paths  # noqa: F401

from config import config_name, load_config, run_dirs
from datasets.demo_data import MIN_SIZE, write_demo_dataset
from inference.demo import run_demo
from utils import cli, distributed
from utils.allocator import set_allocator_options
from utils.errors import ConfigError
from utils.logger import setup_logging

DEFAULT_CFG = (
    Path(__file__).resolve().parent.parent / "experiments/demo/seg_hrnet_w18_small_v1_demo.yaml"
)


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument(
        "--cfg", default=str(DEFAULT_CFG), help="experiment YAML (default: %(default)s)"
    )
    parser.add_argument(
        "--root", default="data/demo", help="where the data is written (default: %(default)s)"
    )
    parser.add_argument(
        "--num-train",
        type=int,
        default=160,
        help="training images, at least one batch (default: %(default)s)",
    )
    parser.add_argument(
        "--num-val", type=int, default=40, help="validation images (default: %(default)s)"
    )
    parser.add_argument(
        "--size",
        type=int,
        default=128,
        help=f"image side in pixels, at least {MIN_SIZE} (default: %(default)s)",
    )
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: GPU if any)")
    cli.add_log_level_argument(parser)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides: KEY VALUE ...")
    cli.add_debug_argument(parser)
    return parser.parse_args(argv)


def check_sizes(args, batch, processes):
    """Stop on a count or size the demo cannot use, before any data is written."""
    if args.num_train < batch * processes:
        raise ConfigError(
            f"--num-train {args.num_train}: expected at least {batch * processes} training "
            f"images, one batch (TRAIN.BATCH_SIZE_PER_GPU {batch} x {processes} process(es))"
        )
    if args.num_val < 1:
        raise ConfigError(f"--num-val {args.num_val}: expected at least 1 validation image")
    if args.size < MIN_SIZE:
        raise ConfigError(f"--size {args.size}: expected an image side of at least {MIN_SIZE}")


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    root = Path(args.root)
    opts = ["DATASET.ROOT", str(root), "DATASET.COLOR_MAP", str(root / "colorMap.txt")]
    opts = ["AUTO_RESUME", "True", *opts, *args.opts]
    cfg = load_config(args.cfg, opts)
    dist = distributed.init(args.device)
    check_sizes(args, cfg.TRAIN.BATCH_SIZE_PER_GPU, dist.world_size)
    with distributed.together():  # one process writes the data; the others wait for it
        if dist.is_main:
            write_demo_dataset(root, args.num_train, args.num_val, args.size)
    output_dir, tensorboard_dir = run_dirs(cfg, args.cfg)
    log_file = setup_logging(
        output_dir, "demo", config_name(args.cfg), dist.is_main, args.log_level
    )
    logging.getLogger("demo").info("\n%s", cfg.dump())  # the config in the log, as train.py's
    try:
        scores = run_demo(cfg, dist, output_dir, tensorboard_dir)
    finally:
        distributed.cleanup()
    if dist.is_main:
        minutes = (time.time() - start) / 60
        accuracy = scores["pixel_acc"]
        print(f"\nvalidation mIoU {scores['mIoU']:.4f} (pixel accuracy {accuracy:.4f})")
        print(f"time:        {minutes:.1f} min")
        print(f"data:        {root}/ (images/, labels/, train.lst, val.lst, colorMap.txt)")
        print(f"weights:     {output_dir}/final_state.pth, best.pth, checkpoint.pth.tar")
        print(
            f"predictions: {output_dir}/predictions/ (classes/, color/, overlay/, compare/, "
            "confusion_matrix.png, iou_per_class.png)"
        )
        print(f"log:         {log_file}; metrics: {output_dir}/metrics.jsonl")
        print(f"TensorBoard: tensorboard --logdir {tensorboard_dir}")
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(cli.run_tool(main))
