"""The evaluation resize modes of TEST.RESIZE: "keep" (the Predictor's own: each scale keeps the
image's aspect ratio, windows cover it) and "squash" (the deploy zoo's: every image resized to
the network size whatever its aspect ratio, e.g. Cityscapes' 1024x2048 to 512x512).

Squash is a step around the Predictor, which keeps its window logic: the image is resized
(bilinear) to the network size, predicted there (scales and flip apply to that image), and the
probabilities are resized back to the image size.
"""

import torch
import torch.nn.functional as F

from utils.errors import ConfigError

from .predictor import Predictor

__all__ = ["RESIZE_MODES", "SquashPredictor", "predictor_from_config"]

RESIZE_MODES = ("keep", "squash")


class SquashPredictor:
    """`predictor` run on images resized to `size` (H, W) regardless of their aspect ratio;
    probabilities (B, K, H, W) come back at the input's size. Scale 1.0 is the network size
    (the predictor's base size is not used); at it the image fits the window and runs once."""

    def __init__(self, predictor, size):
        self.size = tuple(int(s) for s in size)
        self.predictor = predictor.with_sizes(self.size, None)
        self.device = predictor.device

    def __call__(self, images):
        """Probabilities (B, K, H, W) for images (B, 3, H, W); (K, H, W) for one (3, H, W)."""
        if images.dim() == 3:
            return self(images.unsqueeze(0))[0]
        images = images.to(self.device, torch.float32)
        height, width = images.shape[-2:]
        squashed = F.interpolate(images, size=self.size, mode="bilinear", align_corners=False)
        probabilities = self.predictor(squashed)
        if (height, width) == self.size:
            return probabilities
        return self.resize(probabilities, (height, width))

    def scores(self, images):
        """What tools/test.py resizes to the label: in squash mode (the deploy zoo's, not the
        original's) the probabilities at the images' size, as `__call__`."""
        return self(images)

    def resize(self, maps, size):
        """Maps (B, K, h, w) resized to `size`, as the predictor resizes them."""
        return self.predictor.resize(maps, size)


def predictor_from_config(cfg, model, device=None, max_batch=2):
    """`Predictor.from_config`, wrapped in a `SquashPredictor` at the network size
    (TEST.IMAGE_SIZE, w x h) when TEST.RESIZE is "squash"."""
    mode = cfg.TEST.RESIZE
    if mode not in RESIZE_MODES:
        raise ConfigError(f"TEST.RESIZE is {mode!r}; expected one of {', '.join(RESIZE_MODES)}")
    predictor = Predictor.from_config(cfg, model, device, max_batch=max_batch)
    if mode == "keep":
        return predictor
    width, height = cfg.TEST.IMAGE_SIZE
    return SquashPredictor(predictor, (height, width))
