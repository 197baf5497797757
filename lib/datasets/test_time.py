"""How the original datasets prepared a test image (mode "test": tools/test.py, the deploy
evaluation, the demo's evaluation) before the multi-scale prediction.

- `SquashTestImage` (LIP): the image is resized to the crop, aspect not kept, as the original
  LIP `testval`; the prediction is resized back to the label.
- `ShortSideTestImage` (ADE20K, COCO-Stuff): the short side is resized to the base size and the
  bottom / right padded with the mean colour to a multiple of 8, as the original `testval`
  (`resize_short_length`); COCO-Stuff cuts the padding off the prediction, ADE20K does not (the
  original's quirk: its prediction is stretched over the padding).

`prediction_crop(size)` gives the part of the prediction that shows the source image of
`size` (h, w); None for the whole prediction.
"""

import cv2
import numpy as np
import torch

from .base_dataset import IMAGENET_MEAN

FIT_STRIDE = 8
# The mean colour as an 8-bit RGB fill (cv2.copyMakeBorder rounded the original's float value).
MEAN_FILL = tuple(int(np.rint(m * 255)) for m in IMAGENET_MEAN)


def resize_image(image, size):
    """A uint8 image tensor (3, H, W) resized to `size` (h, w) with cv2.INTER_LINEAR."""
    array = np.ascontiguousarray(image.permute(1, 2, 0).numpy())
    resized = cv2.resize(array, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    return torch.from_numpy(resized).permute(2, 0, 1).contiguous()


def short_side_size(height, width, short_side):
    """(height, width) with the short side resized to `short_side`, the other rounded half up."""
    if height < width:
        return short_side, int(width * short_side / height + 0.5)
    return int(height * short_side / width + 0.5), short_side


class SquashTestImage:
    """Mode "test": the image resized to `crop_size` (aspect not kept)."""

    def __getitem__(self, index):
        image, label, size, name = super().__getitem__(index)
        if self.mode == "test":
            image = resize_image(image, self.crop_size)
        return image, label, size, name

    def prediction_crop(self, size):
        return None


class ShortSideTestImage:
    """Mode "test": short side to `base_size`, padded to a multiple of 8 with the mean colour."""

    crop_test_padding = True  # cut the padding off the prediction

    def __getitem__(self, index):
        image, label, size, name = super().__getitem__(index)
        if self.mode == "test":
            new_h, new_w = short_side_size(*image.shape[-2:], self.base_size)
            resized = resize_image(image, (new_h, new_w))
            padded_h, padded_w = (-(-s // FIT_STRIDE) * FIT_STRIDE for s in (new_h, new_w))
            image = torch.tensor(MEAN_FILL, dtype=torch.uint8).view(3, 1, 1)
            image = image.repeat(1, padded_h, padded_w)
            image[:, :new_h, :new_w] = resized
        return image, label, size, name

    def prediction_crop(self, size):
        if not self.crop_test_padding:
            return None
        return short_side_size(*size, self.base_size)
