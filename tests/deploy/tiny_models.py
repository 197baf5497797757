"""Tiny HRNet models trained for a few steps on a synthetic task, for the inference and
deployment tests.

With random weights the top two logits are so close at many pixels that any rounding flips
them (bf16 agrees with fp32 on only 94-99% of pixels), unlike a trained model. A few Adam steps
on "class = argmax of a fixed linear map of the colour" give predictions that follow image
regions with clear margins, in a few seconds.
"""

import sys
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from helpers import experiment, tiny_config  # noqa: E402

import models  # noqa: E402

LITE_18 = "cityscapes/seg_litehrnet_18_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"
# Lite-HRNet-18 at a fraction of its width and depth (one block per stage); four branches.
LITE_SMALL = [
    "MODEL.EXTRA.stages_spec.num_modules", "[1, 1, 1]",
    "MODEL.EXTRA.stages_spec.num_blocks", "[1, 1, 1]",
    "MODEL.EXTRA.stages_spec.num_channels", "[[8, 16], [8, 16, 32], [8, 16, 32, 64]]",
]  # fmt: skip
# The fork's Lite-HRNet options: a HANet per branch after every stage, BN + ReLU on the logits.
LITE_FORK = ["MODEL.EXTRA.with_hanet", "True", "MODEL.EXTRA.logits_relu", "True"]


def model_config(name, num_classes):
    """tiny_config for the HRNet family (seg_hrnet, seg_hrnet_ocr, seg_hrnet_hanet); for
    "seg_litehrnet" the small Lite-HRNet-18, for "seg_litehrnet_fork" the same with the fork's
    HANets and final ReLU (the released Lite-HRNet checkpoints' architecture)."""
    if name.startswith("seg_litehrnet"):
        fork = LITE_FORK if name == "seg_litehrnet_fork" else []
        return experiment(LITE_18, "DATASET.NUM_CLASSES", str(num_classes), *LITE_SMALL, *fork)
    return tiny_config(name, num_classes)


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
    """A tiny `name` model (tests/models/helpers.py) trained for `steps` steps, in eval mode.
    Built once per argument set; every call returns its own copy."""
    model = _trained(name, num_classes, seed, steps)
    copy = models.build_model(model_config(name, num_classes), pretrained=False)
    copy.load_state_dict(model.state_dict())
    return copy.eval()
