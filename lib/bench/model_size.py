"""Parameters and multiply-adds of models, as a table (tools/benchmark.py --info)."""

from pathlib import Path

import torch

from config import load_config
from models import build_model
from utils.model_info import model_info

__all__ = ["print_info"]


def print_info(cfg_files, size, opts=()):
    """Print params, GMACs and the original README's GFLOPs of each config at 1x3x`size`."""
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
