"""The forward passes of the test policies (README "Test policies"): which windows of a scaled
image run through the model, at which input size. A policy is a property of the dataset class
(`test_policy`); TEST.POLICY overrides it."""

import math

__all__ = ["POLICIES", "bounded_windows", "plan_passes", "window_starts"]

POLICIES = ("base", "cityscapes", "sliding")


def window_starts(size, crop, stride):
    """Start offsets of the windows along one dimension of length `size`: every `stride`, the
    last one anchored at `size - crop`, so together they cover 0..size-1. One window at 0 when
    the dimension fits in the crop."""
    if size <= crop:
        return [0]
    count = math.ceil((size - crop) / stride) + 1
    return [min(i * stride, size - crop) for i in range(count)]


def bounded_windows(height, width, crop):
    """Windows (y0, y1, x0, x1) of the "cityscapes" policy over an image of (height, width): a
    stride of the whole `crop` (h, w), the last row / column anchored at the image end, each at
    most the crop. One window for an image that fits."""
    boxes = []
    for y0 in _anchored_starts(height, crop[0]):
        for x0 in _anchored_starts(width, crop[1]):
            boxes.append((y0, min(y0 + crop[0], height), x0, min(x0 + crop[1], width)))
    return boxes


def _anchored_starts(size, crop):
    if size <= crop:
        return [0]
    return [max(min((i + 1) * crop, size) - crop, 0) for i in range(-(-(size - crop) // crop) + 1)]


def _base_passes(height, width, crop):
    """(box, input size) of every pass of the base policy; boxes are clipped to the image."""
    if max(height, width) <= min(crop):
        return [((0, height, 0, width), crop)]
    padded = (max(height, crop[0]), max(width, crop[1]))
    strides = [max(1, int(c * 2.0 / 3.0)) for c in crop]
    rows, cols = (-(-(p - c) // s) + 1 for p, c, s in zip(padded, crop, strides, strict=True))
    passes = []
    for row in range(rows):
        for col in range(cols):
            y0, x0 = row * strides[0], col * strides[1]
            y1, x1 = min(y0 + crop[0], padded[0]), min(x0 + crop[1], padded[1])
            passes.append(((y0, min(y1, height), x0, min(x1, width)), crop))
    return passes


def _sliding_passes(height, width, crop):
    if height <= crop[0] and width <= crop[1]:
        return [((0, height, 0, width), (height, width))]
    strides = [max(1, int(c * 2.0 / 3.0)) for c in crop]
    passes = []
    for y0 in window_starts(height, crop[0], strides[0]):
        for x0 in window_starts(width, crop[1], strides[1]):
            y1, x1 = min(y0 + crop[0], height), min(x0 + crop[1], width)
            passes.append(((y0, y1, x0, x1), (y1 - y0, x1 - x0)))
    return passes


def plan_passes(policy, height, width, crop, scale, pad_to_crop=False, base_sized=False):
    """The forward passes of one scaled image of (height, width): a list of (box, input size),
    box = (y0, y1, x0, x1) of the scaled image, padded at the bottom / right to the input size.
    `crop` None: the whole image once. `pad_to_crop`: every input padded to the crop (a model
    that only takes the crop size, e.g. a fixed-size ONNX export). `base_sized`: the image was
    resized to TEST.BASE_SIZE x scale (tools/test.py), so the cityscapes policy runs a scale
    <= 1 whole as the original did; an image at its own size (the inference API) runs whole
    only if it fits the crop."""
    if crop is None:
        return [((0, height, 0, width), (height, width))]
    if policy == "base":
        passes = _base_passes(height, width, crop)
    elif policy == "cityscapes":
        fits = height <= crop[0] and width <= crop[1]
        if scale <= 1.0 and (fits or (base_sized and not pad_to_crop)):
            passes = [((0, height, 0, width), (height, width))]
        else:
            passes = [
                (box, (box[1] - box[0], box[3] - box[2]))
                for box in bounded_windows(height, width, crop)
            ]
    else:
        passes = _sliding_passes(height, width, crop)
    if pad_to_crop:
        passes = [(box, tuple(crop)) for box, _ in passes]
    return passes
