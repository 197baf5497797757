"""Class scores at image size: the original test policies (scales, flip, windows).

One implementation for tools/test.py, the inference API, the video tool, the deploy evaluation
and the benchmarks. Per scale, the image is resized (bilinear, as OpenCV's `cv2.resize` computes
it) so that its long side is `base_size * scale`, and cut into forward passes by the policy of
the dataset (`datasets.windows`; README "Test policies"):

- "base" (the original `BaseDataset.multi_scale_inference`): a scaled image that fits in the
  crop (long side <= the crop's short side) is padded to the crop and run once; otherwise it is
  padded to at least the crop and cut into windows at a stride of 2/3 of the crop, and windows
  that reach the end are padded to the crop (never moved). Padding is black (`pad_value`).
- "cityscapes" (the original `Cityscapes.multi_scale_inference`): scales <= 1 run the whole scaled
  image once, unpadded; larger scales run windows at a stride of the whole crop, the last one
  anchored at the image end, unpadded. Without a `base_size` (images at their own size, the
  inference API) a scale <= 1 larger than the crop runs in those windows too, so no pass
  exceeds the crop; with one, as the original, it runs whole (at most `base_size` long).
- "sliding" (new, for very large images): every scale in windows at a stride of 2/3 of the crop,
  the last one anchored at the image end, unpadded; a scaled image that fits runs whole.

Per pass, the logits are upsampled to the pass's input size; with flip, the mirrored input's
logits are mirrored back (swapping `flip_pairs` channels) and averaged with the unflipped ones
(here before the upsampling, which commutes with both); then `exp`. Windows are averaged by
their overlap count and each scale's map is upsampled to the image size (`align_corners`) and
summed over scales: `scores()` is that sum, the original's result. `__call__` divides it by
its per-pixel sum, so it returns probabilities with the original's argmax. Windows and flips
are batched, up to `max_batch` inputs per forward pass.

A logit above `EXP_LIMIT` would overflow float32's `exp` (at 88.7) in the sum: from the first
such pass on, an image's sum is computed divided by `exp(shift)` (the accumulated maps are
rescaled when the shift grows), which leaves its argmax and probabilities as they are. Below the
limit, as for trained models, the shift stays 0 and `scores()` is the original's sum.
"""

import copy

import numpy as np
import torch
import torch.nn.functional as F

from datasets.transforms import scaled_size
from datasets.windows import POLICIES, plan_passes
from models.outputs import main_output
from utils.errors import ConfigError

__all__ = ["Predictor", "resize_bilinear"]

EXP_LIMIT = 80.0


def _linear_taps(source, target, device):
    """(first index, second index, weight of the second) of each output pixel of a bilinear
    resize from `source` to `target` pixels, as OpenCV's INTER_LINEAR computes them (position
    and weight in double precision, the weight then rounded to single; clamped at both ends)."""
    position = (np.arange(target) + 0.5) * (1.0 / (target / source)) - 0.5
    first = np.floor(position).astype(np.int64)
    weight = position - first
    weight[first < 0] = 0
    first[first < 0] = 0
    weight[first >= source - 1] = 0
    first = np.minimum(first, source - 1)
    second = np.minimum(first + 1, source - 1)
    as_tensor = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
    return as_tensor(first), as_tensor(second), as_tensor(weight.astype(np.float32))


def resize_bilinear(images, size):
    """Images (B, C, H, W) resized to `size` (h, w) as `cv2.resize(..., INTER_LINEAR)` resizes
    them (the original resized test images with OpenCV): columns, then rows, on any device.
    `F.interpolate` computes source positions in single precision, which drifts by up to 5e-4
    of a pixel value at Cityscapes sizes."""
    for dim, target in ((-1, size[1]), (-2, size[0])):
        if images.shape[dim] != target:
            first, second, weight = _linear_taps(images.shape[dim], target, images.device)
            shape = [1] * images.dim()
            shape[dim] = target
            weight = weight.view(shape)
            images = torch.addcmul(
                images.index_select(dim, first) * (1 - weight),
                images.index_select(dim, second),
                weight,
            )
    return images


class Predictor:
    """Turns a normalised float image batch (B, 3, H, W), or one image (3, H, W), into class
    probabilities (B, K, H, W) or (K, H, W) on `device` (`scores()`: the original's summed map).

    `crop_size` (height, width) is the window (TEST.IMAGE_SIZE); None runs every scale whole.
    `base_size` None takes each image's own long side. `policy` is one of `POLICIES`;
    `pad_value` the per-channel value of padding (default: black in ImageNet-normalised space,
    as the original). The model is used as given: put it in eval mode first.
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
        policy="base",
        pad_value=None,
        pad_to_crop=False,
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
        if policy not in POLICIES:
            raise ConfigError(f"TEST.POLICY is {policy!r}; expected one of {', '.join(POLICIES)}")
        self.policy = policy
        self.pad_to_crop = bool(pad_to_crop)
        if device is None:
            device = next((p.device for p in model.parameters()), torch.device("cpu"))
        self.device = torch.device(device)
        if int(max_batch) < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.max_batch = int(max_batch)
        self.flip_channels = self._flip_permutation(flip_pairs or ())
        if pad_value is None:
            from datasets import IMAGENET_MEAN, IMAGENET_STD

            pad_value = [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)]
        self.pad_value = torch.tensor(pad_value, dtype=torch.float32, device=self.device)

    @classmethod
    def from_config(cls, cfg, model, device=None, max_batch=2):
        """A predictor with the TEST settings of `cfg` and the test policy and flip pairs of
        the DATASET.DATASET class (TEST.POLICY overrides the policy). A model with a
        `fixed_size` (a fixed-size ONNX export) gets every input padded to the crop."""
        import datasets

        dataset_class = datasets.get_dataset_class(cfg.DATASET.DATASET)
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
            flip_pairs=dataset_class.flip_pairs,
            max_batch=max_batch,
            policy=cfg.TEST.POLICY or getattr(dataset_class, "test_policy", "base"),
            pad_to_crop=getattr(model, "fixed_size", None) is not None,
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
        scores = self.scores(images)
        return scores.div_(scores.sum(dim=1, keepdim=True))

    def scores(self, images):
        """The original's result for images (B, 3, H, W) at (H, W): `exp` of the flip-averaged
        logits, averaged over windows and summed over scales."""
        if images.dim() != 4:
            raise ValueError(
                f"expected images (B, 3, H, W) or (3, H, W), got shape {tuple(images.shape)}"
            )
        images = images.to(self.device, torch.float32)
        height, width = images.shape[-2:]
        accumulated = [None]  # the sum over scales, rescaled with `shift`
        shift = images.new_zeros(len(images), 1, 1, 1)
        with torch.no_grad():
            for scale in self.scales:
                long_side = int((self.base_size or max(height, width)) * scale + 0.5)
                size = scaled_size(height, width, long_side)
                scores = self._scale_scores(
                    resize_bilinear(images, size), scale, shift, accumulated
                )
                if size != (height, width):
                    scores = self.resize(scores, (height, width))
                accumulated[0] = scores if accumulated[0] is None else accumulated[0].add_(scores)
        return accumulated[0]

    def resize(self, maps, size):
        """Maps (B, K, h, w) resized to `size` (bilinear, `align_corners`)."""
        return F.interpolate(maps, size=size, mode="bilinear", align_corners=self.align_corners)

    def _scale_scores(self, images, scale, shift, accumulated):
        batch, _, height, width = images.shape
        passes = plan_passes(
            self.policy,
            height,
            width,
            self.crop_size,
            scale,
            self.pad_to_crop,
            base_sized=self.base_size is not None,
        )
        scores = count = None
        copies = 2 if self.flip else 1
        per_forward = max(1, self.max_batch // (batch * copies))
        start = 0
        while start < len(passes):
            tile = passes[start][1]
            chunk = [passes[start]]
            while (
                len(chunk) < per_forward
                and start + len(chunk) < len(passes)
                and passes[start + len(chunk)][1] == tile
            ):
                chunk.append(passes[start + len(chunk)])
            start += len(chunk)
            inputs = []
            for box, _ in chunk:
                window = self._pad(images[:, :, box[0] : box[1], box[2] : box[3]], tile)
                inputs += [window, window.flip(-1)] if self.flip else [window]
            outputs, peaks = self._forward(torch.cat(inputs))
            outputs, peaks = outputs.split(batch), peaks.split(batch)
            for index, ((y0, y1, x0, x1), _) in enumerate(chunk):
                logits, peak = outputs[index * copies], peaks[index * copies]
                if self.flip:
                    mirrored = outputs[index * copies + 1]
                    if self.flip_channels is not None:
                        mirrored = mirrored[:, self.flip_channels]
                    # Mirroring and averaging commute with the bilinear upsampling (mirrored
                    # pixels sample mirrored positions): done at the model's resolution, the
                    # original's upsample-both-then-average up to float rounding, at half the cost.
                    logits = torch.add(logits, mirrored.flip(-1)).mul_(0.5)
                    peak = torch.maximum(peak, peaks[index * copies + 1])
                self._raise_shift(peak, shift, [scores, *accumulated])
                logits = self.resize(logits, tile)[:, :, : y1 - y0, : x1 - x0]
                exp = logits.sub_(shift).exp_()
                if len(passes) == 1:
                    return exp
                if scores is None:
                    scores = images.new_zeros(batch, self.num_classes, height, width)
                    count = images.new_zeros(height, width)
                scores[:, :, y0:y1, x0:x1] += exp
                count[y0:y1, x0:x1] += 1
        if count.max() > 1:
            scores /= count
        return scores

    @staticmethod
    def _raise_shift(peak, shift, maps):
        """Where an image's `peak` logit (B, 1, 1, 1) exceeds `EXP_LIMIT + shift`, raise its
        `shift` and rescale its accumulated `maps` to the new shift (`exp` then stays finite)."""
        peak = peak - EXP_LIMIT
        if (peak > shift).any():
            raised = torch.maximum(shift, peak)
            factor = torch.exp(shift - raised)
            for accumulated in maps:
                if accumulated is not None:
                    accumulated.mul_(factor)
            shift.copy_(raised)

    def _pad(self, window, tile):
        pad_h, pad_w = tile[0] - window.shape[-2], tile[1] - window.shape[-1]
        if pad_h == 0 and pad_w == 0:
            return window
        padded = self.pad_value.view(1, -1, 1, 1).expand(*window.shape[:2], *tile).clone()
        padded[:, :, : window.shape[-2], : window.shape[-1]] = window
        return padded

    def _forward(self, inputs):
        """Logits of `inputs` (float, the model's resolution) and the largest logit of each
        input (B, 1, 1, 1), which bounds the upsampled ones; at most `max_batch` inputs per
        forward pass."""
        outputs, peaks = [], []
        for part in inputs.split(self.max_batch):
            out = main_output(self.model(part), self.output_index)
            if out.dim() != 4 or out.shape[1] != self.num_classes:
                raise ConfigError(
                    f"the model gave an output of shape {tuple(out.shape)}; expected "
                    f"(N, {self.num_classes}, h, w) for DATASET.NUM_CLASSES {self.num_classes}"
                )
            out = out.float()
            peaks.append(out.amax(dim=(1, 2, 3), keepdim=True))
            outputs.append(out)
        if len(outputs) == 1:
            return outputs[0], peaks[0]
        return torch.cat(outputs), torch.cat(peaks)
