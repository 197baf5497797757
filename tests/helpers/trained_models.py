"""Tiny HRNet models trained for a few steps on a synthetic task, for the inference and
deployment tests.

With random weights the top two logits are so close at many pixels that any rounding flips
them (bf16 agrees with fp32 on only 94-99% of pixels), unlike a trained model. A few Adam steps
on "class = argmax of a fixed linear map of the colour" give predictions that follow image
regions with clear margins, in a few seconds.
"""

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

import models
from helpers.model_specs import model_config


def smooth_input(batch, height, width, seed=0):
    """Normalised-image-like input: bilinearly upsampled coarse noise."""
    coarse = torch.randn(batch, 3, 4, 6, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(2 * coarse, size=(height, width), mode="bilinear", align_corners=False)


def target(x, num_classes, seed=0):
    """Class of each pixel: the argmax of a fixed random linear map of its colour."""
    mixing = torch.randn(num_classes, 3, generator=torch.Generator().manual_seed(seed))
    return torch.einsum("kc,bchw->bkhw", mixing, x).argmax(1)


@lru_cache
def _trained(name, num_classes, seed, steps):
    torch.manual_seed(seed)
    model = models.build_model(model_config(name, num_classes), pretrained=False)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):  # the original N(0, 0.001) makes denormals: 30x slower
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    optimizer = torch.optim.Adam(model.parameters(), 1e-2)
    model.train()
    for step in range(steps):
        x = smooth_input(2, 64, 96, seed * 1000 + step)
        labels = target(x, num_classes, seed)
        outputs = model(x)
        loss = sum(
            F.cross_entropy(F.interpolate(o, size=labels.shape[-2:], mode="bilinear"), labels)
            for o in (outputs if isinstance(outputs, list) else [outputs])
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval().requires_grad_(False)


def tiny_model(name="seg_hrnet", num_classes=5, seed=2, steps=12):
    """A tiny `name` model (helpers.model_specs.model_config) trained for `steps` steps, in eval
    mode. Built once per argument set; every call returns its own copy."""
    model = _trained(name, num_classes, seed, steps)
    copy = models.build_model(model_config(name, num_classes), pretrained=False)
    copy.load_state_dict(model.state_dict())
    return copy.eval()
