"""Class probabilities at image size: multi-scale, flip and sliding-window inference.

One implementation for tools/test.py, validation, the inference API and the video tool. It
follows the original `BaseDataset.multi_scale_inference`, with these deliberate differences:

- it returns probabilities: the softmax of each forward pass (logits upsampled to the tile
  size first), *averaged* over flips, overlapping windows and scales. The original summed
  `exp(logits)` over scales and averaged logits over flips; the argmax is the same for a sum
  or a mean, and the mean keeps the result a probability distribution.
- batches of any size; the flipped copy and several windows go through the model together.
- the last window of a row or column is anchored at the image end (no padding needed), and a
  window is zero-padded (the mean colour in normalised space) only where the image is smaller
  than the crop; the original padded with black (-mean/std).
"""

import copy
import math

import torch
import torch.nn.functional as F

from utils.errors import ConfigError

__all__ = ["LIP_FLIP_PAIRS", "Predictor", "scaled_size", "window_starts"]

# Left/right arm, leg and shoe of LIP: their channels swap when the image is mirrored.
LIP_FLIP_PAIRS = ((14, 15), (16, 17), (18, 19))
_DATASET_FLIP_PAIRS = {"lip": LIP_FLIP_PAIRS}


def scaled_size(height, width, long_side):
    """(height, width) resized so that the long side is `long_side`, aspect kept (as the
    original `multi_scale_aug`: the other side rounded half up)."""
    if height > width:
        return long_side, max(1, int(width * long_side / height + 0.5))
    return max(1, int(height * long_side / width + 0.5)), long_side


def window_starts(size, crop, stride):
    """Start offsets of the windows along one dimension of length `size`: every `stride`, the
    last one anchored at `size - crop`, so together they cover 0..size-1. One window at 0 when
    the dimension fits in the crop."""
    if size <= crop:
        return [0]
    count = math.ceil((size - crop) / stride) + 1
    return [min(i * stride, size - crop) for i in range(count)]


class Predictor:
    """Turns a normalised float image batch (B, 3, H, W), or one image (3, H, W), into class
    probabilities (B, K, H, W) or (K, H, W) on `device`.

    Per scale the image is resized (bilinear) so that its long side is `base_size * scale`
    (the image's own long side times `scale` when `base_size` is None). When it fits in
    `crop_size` (height, width) it is padded to the crop and run once; otherwise windows of the
    crop size slide with a stride of 2/3 of the crop, and overlapping predictions are averaged.
    `crop_size=None` runs the whole scaled image at once. With `flip`, the mirrored input is run
    as well and its output mirrored back (swapping the channels of `flip_pairs`). At most
    `max_batch` images go through the model per forward pass.

    The model is used as given: put it in eval mode first.
    """

    def __init__(
        self,
        model,
        num_classes,
        align_corners=False,
        output_index=-1,
        scales=(1.0,),
        flip=False,
        crop_size=None,
        base_size=None,
        device=None,
        flip_pairs=None,
        max_batch=2,
    ):
        self.model = model
        self.num_classes = int(num_classes)
        self.align_corners = bool(align_corners)
        self.output_index = int(output_index)
        self.scales = [float(s) for s in scales]
        if not self.scales or min(self.scales) <= 0:
            raise ConfigError(f"TEST.SCALE_LIST must be positive numbers, got {list(scales)}")
        self.flip = bool(flip)
        self._set_sizes(crop_size, base_size)
        if device is None:
            device = next((p.device for p in model.parameters()), torch.device("cpu"))
        self.device = torch.device(device)
        if int(max_batch) < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.max_batch = int(max_batch)
        self.flip_channels = self._flip_permutation(flip_pairs or ())

    @classmethod
    def from_config(cls, cfg, model, device=None, flip_pairs=None, max_batch=2):
        """A predictor with the TEST settings of `cfg`; LIP gets its left/right channel pairs."""
        if flip_pairs is None:
            flip_pairs = _DATASET_FLIP_PAIRS.get(cfg.DATASET.DATASET.lower())
        width, height = cfg.TEST.IMAGE_SIZE
        return cls(
            model,
            cfg.DATASET.NUM_CLASSES,
            align_corners=cfg.MODEL.ALIGN_CORNERS,
            output_index=cfg.TEST.OUTPUT_INDEX,
            scales=cfg.TEST.SCALE_LIST,
            flip=cfg.TEST.FLIP_TEST,
            crop_size=(height, width),
            base_size=cfg.TEST.BASE_SIZE,
            device=device,
            flip_pairs=flip_pairs,
            max_batch=max_batch,
        )

    def with_sizes(self, crop_size, base_size):
        """A copy with the same model and settings but another `crop_size` and `base_size`."""
        other = copy.copy(self)
        other._set_sizes(crop_size, base_size)
        return other

    def _set_sizes(self, crop_size, base_size):
        self.crop_size = None if crop_size is None else tuple(int(c) for c in crop_size)
        if self.crop_size is not None and (len(self.crop_size) != 2 or min(self.crop_size) < 1):
            raise ConfigError(
                f"the crop (TEST.IMAGE_SIZE, width height) must be two sizes >= 1, got {crop_size}"
            )
        self.base_size = int(base_size) if base_size else None

    def _flip_permutation(self, flip_pairs):
        permutation = list(range(self.num_classes))
        for pair in flip_pairs:
            if len(pair) != 2 or not all(0 <= c < self.num_classes for c in pair):
                raise ValueError(
                    f"flip pair {tuple(pair)} is not two class indices in 0..{self.num_classes - 1}"
                )
            a, b = pair
            permutation[a], permutation[b] = b, a
        if permutation == list(range(self.num_classes)):
            return None
        return torch.tensor(permutation, device=self.device)

    def __call__(self, images):
        """Probabilities (B, K, H, W) for images (B, 3, H, W); (K, H, W) for one (3, H, W)."""
        if images.dim() == 3:
            return self(images.unsqueeze(0))[0]
        if images.dim() != 4:
            raise ValueError(
                f"expected images (B, 3, H, W) or (3, H, W), got shape {tuple(images.shape)}"
            )
        images = images.to(self.device, torch.float32)
        with torch.no_grad():
            total = sum(self._predict_scale(images, scale) for scale in self.scales)
        return total / len(self.scales)

    def _predict_scale(self, images, scale):
        height, width = images.shape[-2:]
        long_side = int((self.base_size or max(height, width)) * scale + 0.5)
        size = scaled_size(height, width, long_side)
        if size != (height, width):
            images = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
        probs = self._sliding_window(images)
        if size != (height, width):
            probs = F.interpolate(
                probs, size=(height, width), mode="bilinear", align_corners=self.align_corners
            )
        return probs

    def _sliding_window(self, images):
        batch, _, height, width = images.shape
        tile = self.crop_size or (height, width)
        strides = [max(1, int(c * 2.0 / 3.0)) for c in tile]
        boxes = [
            (y0, min(y0 + tile[0], height), x0, min(x0 + tile[1], width))
            for y0 in window_starts(height, tile[0], strides[0])
            for x0 in window_starts(width, tile[1], strides[1])
        ]
        jobs = [(box, mirrored) for box in boxes for mirrored in (False, True)[: 1 + self.flip]]
        probs = images.new_zeros(batch, self.num_classes, height, width)
        count = images.new_zeros(1, 1, height, width)
        jobs_per_pass = max(1, self.max_batch // batch)
        for start in range(0, len(jobs), jobs_per_pass):
            chunk = jobs[start : start + jobs_per_pass]
            inputs = torch.cat([self._tile(images, box, tile, mirrored) for box, mirrored in chunk])
            outputs = self._forward(inputs, tile).split(batch)
            for (box, mirrored), out in zip(chunk, outputs, strict=True):
                if mirrored:
                    out = out.flip(-1)
                    if self.flip_channels is not None:
                        out = out[:, self.flip_channels]
                y0, y1, x0, x1 = box
                probs[:, :, y0:y1, x0:x1] += out[:, :, : y1 - y0, : x1 - x0]
                count[:, :, y0:y1, x0:x1] += 1
        return probs / count

    @staticmethod
    def _tile(images, box, tile, mirrored):
        y0, y1, x0, x1 = box
        crop = images[:, :, y0:y1, x0:x1]
        crop = F.pad(crop, (0, tile[1] - (x1 - x0), 0, tile[0] - (y1 - y0)))
        return crop.flip(-1) if mirrored else crop

    def _forward(self, inputs, tile):
        outputs = self.model(inputs)
        if isinstance(outputs, list | tuple):
            if not -len(outputs) <= self.output_index < len(outputs):
                raise ConfigError(
                    f"TEST.OUTPUT_INDEX {self.output_index} does not pick one of the model's "
                    f"{len(outputs)} outputs"
                )
            outputs = outputs[self.output_index]
        if outputs.dim() != 4 or outputs.shape[1] != self.num_classes:
            raise ConfigError(
                f"the model gave an output of shape {tuple(outputs.shape)}; expected "
                f"(N, {self.num_classes}, h, w) for DATASET.NUM_CLASSES {self.num_classes}"
            )
        logits = F.interpolate(
            outputs.float(), size=tile, mode="bilinear", align_corners=self.align_corners
        )
        return logits.softmax(dim=1)
