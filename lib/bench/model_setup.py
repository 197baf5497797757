"""The models and inputs the benchmarks time.

Without trained weights the models get random He-normal weights: the original N(0, 0.001)
initialisation makes activations denormal after a few layers, which slows fp32 (not bf16)
arithmetic many times and would inflate every speed-up.
"""

import torch
import torch.nn.functional as F
from torch import nn

from config import load_config
from models import build_model, load_weights

__all__ = ["he_normal_", "benchmark_model", "sample_image"]


def he_normal_(model):
    """Give every convolution of `model` random He-normal weights, in place; returns `model`."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return model


def benchmark_model(cfg_file, pth=None, opts=()):
    """(cfg, model in eval mode) of `cfg_file`: `pth` weights, or random He-normal ones."""
    cfg = load_config(cfg_file, ["MODEL.PRETRAINED", "", *opts])
    torch.manual_seed(0)
    model = build_model(cfg, pretrained=False)
    if pth:
        load_weights(model, pth)
    else:
        he_normal_(model)
    return cfg, model.eval()


def sample_image(size, seed=0):
    """A smooth random normalised image (1, 3, H, W): upsampled coarse noise."""
    coarse = torch.randn(1, 3, 8, 16, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(coarse, size=tuple(size), mode="bilinear", align_corners=False)
