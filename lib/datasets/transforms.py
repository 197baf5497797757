"""Image geometry and pixel transforms shared by training crops, test images and the predictor:
the network input normalisation, resizing, the training augmentation (rescale, pad, crop, flip,
brightness) and the centre crop."""

from dataclasses import dataclass

import cv2
import numpy as np
import torch

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "FIT_STRIDE",
    "MEAN_FILL",
    "TrainAugmentation",
    "augmentation_rng",
    "center_crop",
    "normalize",
    "pad_bottom_right",
    "random_crop",
    "resize_short_side",
    "scale_crop",
    "scaled_size",
    "short_side_size",
    "squash",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # RGB
IMAGENET_STD = (0.229, 0.224, 0.225)
# The mean colour as an 8-bit RGB fill (cv2.copyMakeBorder rounded the original's float value).
MEAN_FILL = tuple(int(np.rint(m * 255)) for m in IMAGENET_MEAN)
FIT_STRIDE = 8  # the original resize_short_length's fit_stride (test and validation images)

# Nudges exact nearest-neighbour ties past warpAffine's fixed-point rounding, so they fall on the
# same source pixel as cv2.resize's floor(x * scale).
_NEAREST_EPS = 1e-3


def normalize(images, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """uint8 RGB images (..., 3, H, W) -> float32 `(x / 255 - mean) / std`, on their device."""
    scale = torch.tensor(std, dtype=torch.float32, device=images.device).view(3, 1, 1) * 255
    shift = torch.tensor(mean, dtype=torch.float32, device=images.device).view(3, 1, 1) * 255
    return images.to(torch.float32, copy=True).sub_(shift).div_(scale)


def scaled_size(height, width, long_side):
    """(height, width) resized so that the long side is `long_side`, aspect kept (as the
    original `multi_scale_aug`: the other side rounded half up)."""
    if height > width:
        return long_side, max(1, int(width * long_side / height + 0.5))
    return max(1, int(height * long_side / width + 0.5)), long_side


def short_side_size(height, width, short_side):
    """(height, width) with the short side resized to `short_side`, the other rounded half up."""
    if height < width:
        return short_side, int(width * short_side / height + 0.5)
    return int(height * short_side / width + 0.5), short_side


def resize_short_side(image, label, short_side, stride=None, label_fill=0):
    """The original `resize_short_length`: a BGR image (H, W, 3) and its label (H, W) (or None)
    with the short side resized to `short_side` (image bilinear, label nearest); with `stride`,
    padded at the bottom / right to multiples of it, the image with the mean colour and the label
    with `label_fill`."""
    new_h, new_w = short_side_size(*image.shape[:2], short_side)
    image, label = squash(image, label, (new_h, new_w))
    if stride:
        height, width = (-(-s // stride) * stride for s in (new_h, new_w))
        image = pad_bottom_right(image, height, width, MEAN_FILL[::-1])
        if label is not None:
            label = pad_bottom_right(label, height, width, int(label_fill))
    return image, label


def squash(image, label, size):
    """A BGR image (H, W, 3) and its label (or None) resized to `size` (h, w), aspect not kept
    (image bilinear, label nearest)."""
    height, width = size
    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    if label is not None:
        label = cv2.resize(label, (width, height), interpolation=cv2.INTER_NEAREST)
    return image, label


def pad_bottom_right(array, height, width, fill):
    """`array` (H, W[, C]) padded at the bottom / right with `fill` to at least (height, width)."""
    pad_h, pad_w = max(height - array.shape[0], 0), max(width - array.shape[1], 0)
    if not (pad_h or pad_w):
        return array
    return cv2.copyMakeBorder(array, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=fill)


def random_crop(image, label, crop_size, rng, label_fill):
    """The original `rand_crop`: image (black) and label (`label_fill`) padded at the bottom /
    right up to `crop_size` (h, w), then a `crop_size` window at a random offset from `rng`."""
    crop_h, crop_w = crop_size
    image = pad_bottom_right(image, crop_h, crop_w, (0, 0, 0))
    label = pad_bottom_right(label, crop_h, crop_w, int(label_fill))
    x0 = int(rng.integers(0, label.shape[1] - crop_w + 1))
    y0 = int(rng.integers(0, label.shape[0] - crop_h + 1))
    return image[y0 : y0 + crop_h, x0 : x0 + crop_w], label[y0 : y0 + crop_h, x0 : x0 + crop_w]


def augmentation_rng(seed, epoch, index):
    """The generator of one training sample's augmentation: a function of (seed, epoch,
    sample index) alone, the same in any process, worker or resumed run."""
    return np.random.default_rng((int(seed), int(epoch), int(index)))


def scale_crop(image, label, size, offset, flip, crop_size, label_fill):
    """Resize to `size` (h, w) (image bilinear, label nearest), pad the bottom/right up to the
    crop (image black, label `label_fill`), cut `crop_size` (h, w) at `offset` (y, x), mirror if
    `flip`.

    Equivalent to cv2.resize + pad + slice, but one warpAffine per array computes only the
    crop's pixels: at 2x scale that is 8x less work than resizing the whole image.
    """
    height, width = label.shape
    new_h, new_w = size
    y0, x0 = offset
    crop_h, crop_w = crop_size
    ax, ay = width / new_w, height / new_h
    # Output column x shows column X = x0 + x of the resized image, or x0 + crop_w - 1 - x.
    sx, tx = (-ax, x0 + crop_w - 1) if flip else (ax, x0)
    # cv2.resize samples bilinear at (X + 0.5) * a - 0.5 and nearest at floor(X * a).
    linear = np.array([[sx, 0, ax * (tx + 0.5) - 0.5], [0, ay, ay * (y0 + 0.5) - 0.5]])
    nearest = np.array(
        [[sx, 0, ax * tx - 0.5 + _NEAREST_EPS], [0, ay, ay * y0 - 0.5 + _NEAREST_EPS]]
    )
    flags = cv2.WARP_INVERSE_MAP
    border = cv2.BORDER_REPLICATE
    image = cv2.warpAffine(
        image, linear, (crop_w, crop_h), flags=flags | cv2.INTER_LINEAR, borderMode=border
    )
    label = cv2.warpAffine(
        label, nearest, (crop_w, crop_h), flags=flags | cv2.INTER_NEAREST, borderMode=border
    )
    # Replicated borders match cv2.resize at the image edges; beyond them is padding.
    bottom = max(new_h - y0, 0)
    image[bottom:] = 0
    label[bottom:] = label_fill
    if flip:
        pad = slice(0, max(x0 + crop_w - new_w, 0))
    else:
        pad = slice(max(new_w - x0, 0), None)
    image[:, pad] = 0
    label[:, pad] = label_fill
    return image, label


def _mirror(array):
    """`array` (H, W[, C]) mirrored left-right, contiguous (for OpenCV)."""
    return np.ascontiguousarray(array[:, ::-1])


def center_crop(image, label, base_size, crop_size, label_fill):
    """Long side resized to `base_size`, then the centre `crop_size` (padded if smaller)."""
    new_h, new_w = scaled_size(*label.shape, base_size)
    crop_h, crop_w = crop_size
    y0 = int(round((max(new_h, crop_h) - crop_h) / 2))
    x0 = int(round((max(new_w, crop_w) - crop_w) / 2))
    return scale_crop(image, label, (new_h, new_w), (y0, x0), False, crop_size, label_fill)


@dataclass(frozen=True)
class TrainAugmentation:
    """The original HRNet training augmentation: random rescale (long side
    `base_size * (0.5 + randint(0, scale_factor) / 10)`), padding to the crop (black / ignore),
    a random `crop_size` (h, w) crop (without `multi_scale` none of the three: the whole image,
    as the original), random horizontal flip, optional random brightness, label
    down-sampled by `downsample_rate`. With `squash_to_crop`, as the original LIP, the image is
    first mirrored (if flipped) and resized to the crop size (aspect not kept), then rescaled:
    its padding stays at the bottom / right."""

    crop_size: tuple
    base_size: int
    multi_scale: bool = True
    flip: bool = True
    scale_factor: int = 16
    downsample_rate: int = 1
    random_brightness: bool = False
    brightness_shift: int = 10
    squash_to_crop: bool = False

    def draw(self, height, width, rng):
        """Draw one augmentation for an image of (height, width) from `rng` (a NumPy Generator):
        a dict of the resized `size` (h, w), the crop `offset` (y, x), `flip` and the
        brightness `shift`."""
        src_h, src_w = self.crop_size if self.squash_to_crop else (height, width)
        if self.multi_scale:
            scale = 0.5 + rng.integers(0, self.scale_factor + 1) / 10
            new_h, new_w = scaled_size(src_h, src_w, int(self.base_size * scale + 0.5))
            crop_h, crop_w = self.crop_size
            x0 = int(rng.integers(0, max(new_w - crop_w, 0) + 1))
            y0 = int(rng.integers(0, max(new_h - crop_h, 0) + 1))
        else:  # the original without MULTI_SCALE: the whole image, not rescaled or cropped
            (new_h, new_w), (y0, x0) = (src_h, src_w), (0, 0)
        flip = self.flip and rng.random() < 0.5
        shift = 0
        if self.random_brightness and rng.random() < 0.5:
            shift = int(rng.integers(-self.brightness_shift, self.brightness_shift + 1))
        return {"size": (new_h, new_w), "offset": (y0, x0), "flip": flip, "shift": shift}

    def apply(self, image, label, params, labels):
        """Apply `draw(...)`'s `params` to a BGR image and a label mapped by `labels` (a
        `LabelMap`: its ignore value pads, its left/right swap follows a flip)."""
        flip = params["flip"]
        # Mirrored first where no crop follows to mirror it: the original LIP mirrors the image
        # as read, then squashes and rescales it; a whole image is the same either way.
        mirror_first = flip and (self.squash_to_crop or not self.multi_scale)
        if mirror_first:
            image, label = _mirror(image), _mirror(label)
        if self.squash_to_crop:
            image, label = squash(image, label, self.crop_size)
        if self.multi_scale:
            image, label = scale_crop(
                image,
                label,
                params["size"],
                params["offset"],
                flip and not mirror_first,
                self.crop_size,
                labels.ignore_value,
            )
        if flip:
            label = labels.flip(label)
        if params["shift"]:
            image = cv2.add(image, (params["shift"],) * 3 + (0,))
        if self.downsample_rate != 1:
            factor = 1.0 / self.downsample_rate
            label = cv2.resize(label, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
        return image, label
