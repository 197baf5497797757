"""The panorama fork's augmentation at its `pytorch-v1.1` HEAD (DATASET.AUGMENTATION panorama).

From 2020-09-30 the fork's `Panorama.__getitem__` no longer rescaled, cropped or flipped: every
labelled item (training, validation, and the labelled lists tools/test.py scored) got a random
motion blur (11 equally
likely draws: 8 line kernels of 5 pixels, or none for the last 3), then a fixed barrel distortion
whose map has the dataset's crop size, so the output has the crop size whatever the input's
(the fork's crops were already that size). The image is resampled bilinearly, the label nearest.
"""

from functools import lru_cache

import cv2
import numpy as np

__all__ = ["MOTION_BLUR_KERNELS", "barrel_distortion_map", "panorama_augmentation"]

# Eight 5x5 lines through the centre (each sums to 5, divided by 5), in the fork's order.
_LINES = (
    "10000 01000 00100 00010 00001",
    "01000 01000 00100 00010 00010",
    "00100 00100 00100 00100 00100",
    "00010 00010 00100 01000 01000",
    "00001 00010 00100 01000 10000",
    "00000 00011 00100 11000 00000",
    "00000 00000 11111 00000 00000",
    "00000 11000 00100 00011 00000",
)
MOTION_BLUR_KERNELS = tuple(
    np.array([[int(c) for c in row] for row in kernel.split()], np.float32) / 5 for kernel in _LINES
)
_BLUR_CHOICES = 11  # randint(0, 10): 0-7 a kernel, 8-10 no blur
_K1, _K2 = -0.3, 0.3


def _radial_scale(r_square):
    return 1 - _K1 * r_square + (3 * _K1**2 - _K2) * r_square**2


@lru_cache(maxsize=4)
def barrel_distortion_map(height, width):
    """cv2.remap's (map_x, map_y), float32 (height, width): each output pixel samples the input
    at its offset from the centre scaled by f(r^2) / f(1), r^2 normalised by the corner's, so the
    corners stay in place and the middle is magnified."""
    center_x, center_y = (width - 1) / 2, (height - 1) / 2
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r_square = ((x - center_x) ** 2 + (y - center_y) ** 2) / (center_x**2 + center_y**2)
    scale, fit_scale = _radial_scale(r_square), _radial_scale(1.0)
    map_x = (center_x + (x - center_x) * scale / fit_scale).astype(np.float32)
    map_y = (center_y + (y - center_y) * scale / fit_scale).astype(np.float32)
    return map_x, map_y


def panorama_augmentation(image, label, crop_size, rng):
    """A BGR image (H, W, 3) and its label (H, W) with a random motion blur drawn from `rng`
    (a NumPy Generator) and the barrel distortion of `crop_size` (h, w): the output's size."""
    choice = int(rng.integers(0, _BLUR_CHOICES))
    if choice < len(MOTION_BLUR_KERNELS):
        image = cv2.filter2D(image, -1, MOTION_BLUR_KERNELS[choice])
    map_x, map_y = barrel_distortion_map(*crop_size)
    image = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR)
    label = cv2.remap(label, map_x, map_y, cv2.INTER_NEAREST)
    return image, label
