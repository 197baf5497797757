"""Measurements of models and pipelines, printed as tables.

  --info   parameters and multiply-adds of a model at an input size (no timing)
  --data   per-sample time of the training data pipeline against the bare image decode time

Speed targets are ratios measured within one run; see README "Benchmarks".
"""

import argparse
import sys
from pathlib import Path

import _init_paths  # noqa: F401
import torch

from config import load_config
from models import build_model
from utils.model_info import model_info


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--info", action="store_true", help="print params and FLOPs of --cfg models")
    mode.add_argument("--data", action="store_true", help="time the training data pipeline")
    parser.add_argument("--cfg", nargs="+", default=[], help="experiment YAML file(s)")
    parser.add_argument(
        "--size", nargs=2, type=int, default=[1024, 2048], metavar=("H", "W"), help="input size"
    )
    parser.add_argument("--repeats", type=int, default=10, help="--data: samples to time")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides: KEY VALUE ...")
    args = parser.parse_args(argv)
    if args.info and not args.cfg:
        parser.error("--info needs --cfg X.yaml [Y.yaml ...]")
    return args


def print_info(cfg_files, size, opts):
    height, width = size
    print(f"input 1x3x{height}x{width}; MACs = multiply-adds of convolutions and linear layers;")
    print("legacy GFLOPs = MACs / 2**30 (the figure of the original README)")
    print("| config | model | params (M) | GMACs (1e9) | legacy GFLOPs (MACs / 2^30) |")
    print("|---|---|---:|---:|---:|")
    for cfg_file in cfg_files:
        cfg = load_config(cfg_file, ["MODEL.PRETRAINED", "", *opts])
        with torch.device("meta"):  # shapes only: instant even for W48 at 1024x2048
            model = build_model(cfg)
        info = model_info(model, (height, width))
        print(
            f"| {Path(cfg_file).name} | {cfg.MODEL.NAME} | {info['params'] / 1e6:.2f} | "
            f"{info['gmacs']:.1f} | {info['legacy_gflops']:.1f} |"
        )


def main(argv=None):
    args = parse_args(argv)
    if args.info:
        print_info(args.cfg, args.size, args.opts)
    elif args.data:
        from datasets.benchmark import measure_data_pipeline, print_data_report

        print_data_report(measure_data_pipeline(repeats=args.repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
