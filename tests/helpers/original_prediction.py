"""The original HRNet-Semantic-Segmentation test-time prediction, transcribed for the tests:
`BaseDataset.inference` / `multi_scale_inference` ("base") and the `Cityscapes` override
("cityscapes"), one input per forward pass, on HWC numpy images resized with OpenCV."""

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from datasets import IMAGENET_MEAN, IMAGENET_STD

BLACK = -np.array(IMAGENET_MEAN) / np.array(IMAGENET_STD)


def main_output(outputs):
    return outputs[-1] if isinstance(outputs, list | tuple) else outputs


def original_inference(model, image, flip, align_corners, pairs=()):
    """BaseDataset.inference (LIP's with `pairs`): logits at the input size, flip-averaged, exp."""
    size = image.shape[-2:]
    logits = main_output(model(image))
    pred = F.interpolate(logits, size, mode="bilinear", align_corners=align_corners)
    if flip:
        flipped = torch.from_numpy(image.numpy()[:, :, :, ::-1].copy())
        out = F.interpolate(
            main_output(model(flipped)), size, mode="bilinear", align_corners=align_corners
        )
        swapped = out.numpy().copy()
        for a, b in pairs:
            swapped[:, a], swapped[:, b] = out[:, b].numpy(), out[:, a].numpy()
        pred += torch.from_numpy(swapped[:, :, :, ::-1].copy())
        pred = pred * 0.5
    return pred.exp()


def resize_long_side(image, long_side):
    h, w = image.shape[:2]
    if h > w:
        new_h, new_w = long_side, int(w * long_side / h + 0.5)
    else:
        new_w, new_h = long_side, int(h * long_side / w + 0.5)
    return cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)


def pad_bottom_right(image, size):
    pad_h, pad_w = max(size[0] - image.shape[0], 0), max(size[1] - image.shape[1], 0)
    if pad_h == 0 and pad_w == 0:
        return image
    return cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=BLACK)


def as_input(hwc):
    return torch.from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1))[None])


def original_multi_scale(
    model, image, scales, flip, crop, base_size, align_corners, policy="base", pairs=()
):
    """The summed map (1, K, H, W) of a normalised image (1, 3, H, W), as the original."""
    _, _, ori_h, ori_w = image.shape
    hwc = image[0].numpy().transpose(1, 2, 0).copy()
    final = 0
    for scale in scales:
        scaled = resize_long_side(hwc, int(base_size * scale + 0.5))
        height, width = scaled.shape[:2]
        if policy == "base" and max(height, width) <= min(crop):
            preds = original_inference(
                model, as_input(pad_bottom_right(scaled, crop)), flip, align_corners, pairs
            )[:, :, :height, :width]
        elif policy == "cityscapes" and scale <= 1.0:
            preds = original_inference(model, as_input(scaled), flip, align_corners, pairs)
        else:
            if policy == "base":
                stride = (int(crop[0] * 2.0 / 3.0), int(crop[1] * 2.0 / 3.0))
                scaled = pad_bottom_right(scaled, crop)
            else:
                stride = crop
            new_h, new_w = scaled.shape[:2]
            rows = int(np.ceil((new_h - crop[0]) / stride[0])) + 1
            cols = int(np.ceil((new_w - crop[1]) / stride[1])) + 1
            preds, count = 0, torch.zeros(1, 1, new_h, new_w)
            for r in range(rows):
                for c in range(cols):
                    h0, w0 = r * stride[0], c * stride[1]
                    h1, w1 = min(h0 + crop[0], new_h), min(w0 + crop[1], new_w)
                    if policy == "cityscapes":
                        h0, w0 = max(h1 - crop[0], 0), max(w1 - crop[1], 0)
                    window = scaled[h0:h1, w0:w1]
                    if policy == "base" and (h1 == new_h or w1 == new_w):
                        window = pad_bottom_right(window, crop)
                    pred = original_inference(model, as_input(window), flip, align_corners, pairs)
                    if isinstance(preds, int):
                        preds = pred.new_zeros(1, pred.shape[1], new_h, new_w)
                    preds[:, :, h0:h1, w0:w1] += pred[:, :, : h1 - h0, : w1 - w0]
                    count[:, :, h0:h1, w0:w1] += 1
            preds = (preds / count)[:, :, :height, :width]
        final += F.interpolate(preds, (ori_h, ori_w), mode="bilinear", align_corners=align_corners)
    return final
