"""Pictures to check annotations and predictions by eye (tools/browse_dataset.py).

- label overlays: an image beside its label's class colours blended over it, ignored pixels
  dimmed, as a dataset reads them;
- polygon outlines of JSON annotations (labelme, Cityscapes, daodixian jobs) on their images,
  as the power-line fork's `vis_json_segment.py` drew them;
- contours or bounding boxes of the regions of a predicted mask above an area threshold, on the
  original image, as the fork's `draw_contours.py` drew them.
"""

import cv2
import numpy as np

from datatools.io import image_files
from datatools.polygons import cityscapes_shapes, daodixian_polygons, labelme_shapes
from utils.errors import DataError
from utils.visualize import colorize, voc_palette

DAODIXIAN_OUTLINE = (0, 0, 255)  # RGB of the fork's cv2 (255, 0, 0) BGR
BOX_COLOR = (0, 255, 0)  # the fork's bounding boxes
CONTOUR_COLOR = (255, 0, 0)  # the fork's (commented-out) contours, (0, 0, 255) BGR
IGNORED_BRIGHTNESS = 0.35  # ignored label pixels: the image dimmed to this


def label_picture(image, label, palette, ignore_label, alpha=0.5):
    """[image | overlay] side by side: class colours blended over the image where the label has
    a class, the image dimmed where it is `ignore_label` (RGB uint8 in and out)."""
    valid = label != ignore_label
    classes = np.where(valid, label, 0).astype(np.uint8)
    colours = colorize(classes, palette).astype(np.float32)
    picture = image.astype(np.float32)
    blended = (1 - alpha) * picture + alpha * colours
    overlay = np.where(valid[..., None], blended, IGNORED_BRIGHTNESS * picture)
    return np.concatenate([image, overlay.round().astype(np.uint8)], axis=1)


def legend(names, palette, row=22, width=260):
    """A picture listing each class name beside its colour."""
    canvas = np.full((row * len(names) + 8, width, 3), 255, np.uint8)
    for index, name in enumerate(names):
        y = 4 + row * index
        colour = tuple(int(c) for c in palette[index])
        cv2.rectangle(canvas, (6, y + 3), (30, y + row - 3), colour, -1)
        cv2.rectangle(canvas, (6, y + 3), (30, y + row - 3), (0, 0, 0), 1)
        text_at = (38, y + row - 7)
        cv2.putText(canvas, f"{index} {name}", text_at, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0))
    return canvas


class LabelColours:
    """Outline colour per labelme label: its class-table colour, else a VOC colour in order of
    first appearance (the same label keeps its colour across files)."""

    def __init__(self, table=None):
        self.table = {} if table is None else dict(zip(table.names, table.colors, strict=True))
        self.seen = {}

    def __call__(self, name):
        if name in self.table:
            return tuple(int(c) for c in self.table[name])
        if name not in self.seen:
            self.seen[name] = tuple(int(c) for c in voc_palette()[len(self.seen) + 1])
        return self.seen[name]


def labelme_outlines(data, colours, source):
    """[(kind, points, colour, text)] of a labelme annotation."""
    return [(k, pts, colours(name), name) for k, pts, name in labelme_shapes(data, source)]


def cityscapes_outlines(data, source):
    """[(kind, points, colour, text)] of a Cityscapes polygons JSON, in its label colours."""
    return [
        ("polygon", points, color, name)
        for points, name, _, color in cityscapes_shapes(data, source)
    ]


def daodixian_outlines(polys, width, height, source):
    """[(kind, points, colour, text)] of a daodixian item: its polygons in pixels, in the fork's
    outline colour, without text (one class)."""
    return [
        ("polygon", points, DAODIXIAN_OUTLINE, None)
        for points in daodixian_polygons(polys, width, height, source)
    ]


def draw_outlines(image, outlines, thickness=4):
    """Draw outlines [(kind, points, colour, text)] on a copy of an RGB image: polygons closed,
    ellipses (points: bounding box), lines open, points as dots; `text` at the first point."""
    canvas = np.ascontiguousarray(image).copy()
    for kind, points, colour, text in outlines:
        if kind == "ellipse":
            x0, y0, x1, y1 = points
            centre = (round((x0 + x1) / 2), round((y0 + y1) / 2))
            axes = (round((x1 - x0) / 2), round((y1 - y0) / 2))
            cv2.ellipse(canvas, centre, axes, 0, 0, 360, colour, thickness, cv2.LINE_AA)
            anchor = (x0, y0)
        else:
            xy = np.round(np.asarray(points, np.float64)).astype(np.int32).reshape(-1, 1, 2)
            if kind == "point":
                for ((x, y),) in xy:
                    cv2.circle(canvas, (int(x), int(y)), thickness + 1, colour, -1, cv2.LINE_AA)
            else:
                cv2.polylines(canvas, [xy], kind == "polygon", colour, thickness, cv2.LINE_AA)
            anchor = points[0]
        if text:
            at = (int(anchor[0]), max(int(anchor[1]) - 4, 12))
            cv2.putText(canvas, text, at, cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    return canvas


def mask_regions(mask, min_area):
    """[(contour, (x, y, w, h), area)] of the outer contours of a boolean mask whose area (as
    cv2.contourArea measures it) is above `min_area`."""
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    regions = []
    for contour in contours:
        area = cv2.contourArea(contour)
        if area > min_area:
            regions.append((contour, cv2.boundingRect(contour), area))
    return regions


def draw_regions(image, regions, draw="boxes", thickness=2):
    """Draw the regions' bounding boxes (green) and/or contours (red) on a copy of an RGB
    image; `draw` is 'boxes', 'contours' or 'both'."""
    canvas = np.ascontiguousarray(image).copy()
    if draw in ("contours", "both"):
        contours = [contour for contour, _, _ in regions]
        cv2.drawContours(canvas, contours, -1, CONTOUR_COLOR, thickness, cv2.LINE_AA)
    if draw in ("boxes", "both"):
        for _, (x, y, w, h), _ in regions:
            cv2.rectangle(canvas, (x, y), (x + w, y + h), BOX_COLOR, thickness)
    return canvas


def foreground(prediction, threshold=127, classes=None):
    """The mask of a prediction: its value is one of `classes`, or (without classes) above
    `threshold`, as the fork thresholded its 0/255 masks at 127."""
    if classes:
        return np.isin(prediction, list(classes))
    return prediction > threshold


def index_by_stem(folder):
    """{file name without extension: path} of the images under `folder` (recursive); a name
    found twice maps to None (ambiguous)."""
    index = {}
    for path in image_files(folder):
        index[path.stem] = None if path.stem in index else path
    return index


def image_for(index, stem, what):
    """The image of `index` named `stem`, or a DataError saying why not."""
    if stem not in index:
        raise DataError(f"no image named {stem}.* for {what}")
    if index[stem] is None:
        raise DataError(f"several images are named {stem}.* (for {what}); pass a folder with one")
    return index[stem]


def sample(items, every=1, limit=0):
    """Every `every`-th item (the first, the every+1-th, ...), at most `limit` (0: all)."""
    chosen = list(items)[:: max(every, 1)]
    return chosen[:limit] if limit else chosen


class UniqueNames:
    """Output names: `name`, then `name_2`, `name_3`, ... for names seen before."""

    def __init__(self):
        self.counts = {}

    def __call__(self, name):
        self.counts[name] = self.counts.get(name, 0) + 1
        return name if self.counts[name] == 1 else f"{name}_{self.counts[name]}"
