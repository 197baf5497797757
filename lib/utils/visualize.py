"""Pictures of results: palettes, colour class maps and overlays (charts with axes:
utils.charts; writing them: utils.image_io)."""

import cv2
import numpy as np


def voc_palette(num_colors=256):
    """The PASCAL VOC palette the original code used: bits of the index spread over R, G, B."""
    palette = np.zeros((num_colors, 3), dtype=np.uint8)
    for index in range(num_colors):
        value, shift = index, 7
        while value:
            for channel in range(3):
                palette[index, channel] |= ((value >> channel) & 1) << shift
            value >>= 3
            shift -= 1
    return palette


def colorize(class_map, palette):
    """RGB image (H, W, 3) of a class map; values outside the palette are black."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[: min(256, len(palette))] = palette[:256]
    return lut[np.asarray(class_map, dtype=np.uint8)]


def overlay(image_rgb, class_map, palette, alpha=0.5):
    """Blend the colour classes over an RGB image."""
    return cv2.addWeighted(image_rgb, 1 - alpha, colorize(class_map, palette), alpha, 0)


def label_and_prediction(image_rgb, label, prediction, palette, ignore_label=255, gap=4):
    """One RGB picture: the image, the label over it and the prediction over it, side by side
    (ignored label pixels show the bare image). Cheap enough for every validation."""
    labelled = label != ignore_label
    label_picture = overlay(image_rgb, np.where(labelled, label, 0), palette)
    label_picture[~labelled] = image_rgb[~labelled]
    white = np.full((image_rgb.shape[0], gap, 3), 255, np.uint8)
    panels = [image_rgb, white, label_picture, white, overlay(image_rgb, prediction, palette)]
    return np.hstack(panels)
