"""PASCAL-Context (`pascal_ctx`): 59 classes (background ignored) or 60 (background is class 0).

The annotations come as the Detail-API file `trainval_merged.json`; `convert_detail_json` (used
by tools/convert_pascal_ctx.py) turns it once into label PNGs and list files:

    <root>/VOCdevkit/VOC2010/JPEGImages/<id>.jpg                 the VOC images (input)
    <root>/VOCdevkit/VOC2010/trainval_merged.json                the annotations (input)
    <root>/VOCdevkit/VOC2010/SegmentationClassContext/<id>.png   0 background, 1..59 classes
    <root>/train.lst, <root>/val.lst                             `image label`, relative to <root>

With <root> = DATASET.ROOT/pascal_ctx, the original YAMLs (TRAIN_SET `train`, TEST_SET `val`)
work unchanged: the names `train`, `val` and `testval` stand for pascal_ctx/train.lst and
pascal_ctx/val.lst under DATASET.ROOT.
"""

from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from utils.errors import DataError, UserError
from utils.image_io import read_image, write_png
from utils.text import load_json

from .base_dataset import BaseDataset
from .label_map import identity_table, reduce_zero_table
from .list_reader import PairList
from .registry import register_dataset

# The Detail category ids of the 59 classes and background (0). Class k is the k-th smallest id,
# as np.digitize over the sorted table made it in the original code.
DETAIL_IDS = (
    0, 2, 259, 260, 415, 324, 9, 258, 144, 18, 19, 22, 23, 397, 25, 284, 158, 159, 416, 33, 162,
    420, 454, 295, 296, 427, 44, 45, 46, 308, 59, 440, 445, 31, 232, 65, 354, 424, 68, 326, 72,
    458, 34, 207, 80, 355, 85, 347, 220, 349, 360, 98, 187, 104, 105, 366, 189, 368, 113, 115,
)  # fmt: skip
CATEGORY_IDS = tuple(sorted(DETAIL_IDS))

CLASS_NAMES = (  # the 60-class order; the 59 classes drop background
    "background", "aeroplane", "bag", "bed", "bedclothes", "bench", "bicycle", "bird", "boat",
    "book", "bottle", "building", "bus", "cabinet", "car", "cat", "ceiling", "chair", "cloth",
    "computer", "cow", "cup", "curtain", "dog", "door", "fence", "floor", "flower", "food",
    "grass", "ground", "horse", "keyboard", "light", "motorbike", "mountain", "mouse", "person",
    "plate", "platform", "pottedplant", "road", "rock", "sheep", "shelves", "sidewalk", "sign",
    "sky", "snow", "sofa", "table", "track", "train", "tree", "truck", "tvmonitor", "wall",
    "water", "window", "wood",
)  # fmt: skip

VOC_DIR = "VOCdevkit/VOC2010"
LABEL_DIR = "SegmentationClassContext"


@register_dataset("pascal_ctx")
class PascalContext(BaseDataset):
    num_classes_choices = (59, 60)
    test_policy = "base"  # the original's multi_scale_inference
    val_squash = True  # the original's 'val' items: image and label resized to the crop
    list_reader = PairList(
        "pascal_ctx",
        split_lists={
            "train": "pascal_ctx/train.lst",
            "val": "pascal_ctx/val.lst",
            "testval": "pascal_ctx/val.lst",
        },
        hint="; tools/convert_pascal_ctx.py writes the PASCAL-Context lists and labels",
    )

    @property
    def class_names(self):
        return CLASS_NAMES[1:] if self.num_classes == 59 else CLASS_NAMES

    def label_table(self):
        if self.num_classes == 59:
            return reduce_zero_table(59)
        return identity_table(60)


def _polygons_mask(polygons, height, width):
    mask = np.zeros((height, width), np.uint8)
    points = [np.round(np.asarray(p, np.float64).reshape(-1, 2)).astype(np.int32) for p in polygons]
    cv2.fillPoly(mask, points, 1)
    return mask.astype(bool)


def _rle_mask(rle, height, width, where):
    try:
        from pycocotools import mask as mask_utils
    except ImportError as err:
        raise UserError(
            f"{where}: RLE segmentations need pycocotools: pip install -r requirements-data.txt"
        ) from err
    if isinstance(rle["counts"], list):
        rle = mask_utils.frPyObjects(rle, *rle["size"])
    elif isinstance(rle["counts"], str):
        rle = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
    mask = mask_utils.decode(rle).astype(bool)
    if mask.shape != (height, width):
        raise DataError(f"{where}: RLE size {mask.shape} differs from the image {height}x{width}")
    return mask


def segmentation_mask(segmentation, height, width, where="annotation"):
    """Boolean (height, width) mask of a COCO-style polygon list or RLE dict."""
    if isinstance(segmentation, list):
        return _polygons_mask(segmentation, height, width)
    if isinstance(segmentation, dict) and "counts" in segmentation:
        return _rle_mask(segmentation, height, width, where)
    raise DataError(f"{where}: segmentation is neither a polygon list nor an RLE dict")


def convert_detail_json(json_file, root, voc_dir=VOC_DIR, show_progress=False):
    """Write a label PNG per image of the Detail-API `json_file` and one list file per phase.

    Labels hold 0 (background) and 1..59 (the classes, in CATEGORY_IDS order); annotations are
    painted in file order, a later one over an earlier one. Returns {phase: (list file, lines)}.
    """
    root = Path(root)
    json_file = Path(json_file)
    data = load_json(json_file)
    to_class = {category: k for k, category in enumerate(CATEGORY_IDS)}
    annotations = defaultdict(list)
    for annotation in data.get("annotations", []):
        annotations[annotation["image_id"]].append(annotation)
    label_dir = root / voc_dir / LABEL_DIR
    label_dir.mkdir(parents=True, exist_ok=True)
    lists = defaultdict(list)
    images = data.get("images", [])
    if show_progress:
        from tqdm import tqdm

        images = tqdm(images, desc="PASCAL-Context labels")
    for record in images:
        image_id = record.get("image_id", record.get("id"))
        file_name = record["file_name"]
        image_item = f"{voc_dir}/JPEGImages/{file_name}"
        where = f"{json_file}: image {file_name}"
        if "height" in record and "width" in record:
            height, width = int(record["height"]), int(record["width"])
        else:
            height, width = read_image(root / image_item, where=where).shape[:2]
        label = np.zeros((height, width), np.uint8)
        for annotation in annotations.get(image_id, []):
            category = annotation["category_id"]
            if category not in to_class:
                raise DataError(
                    f"{where}: category_id {category} is not one of the 59 PASCAL-Context "
                    "classes nor background"
                )
            label[segmentation_mask(annotation["segmentation"], height, width, where)] = to_class[
                category
            ]
        label_item = f"{voc_dir}/{LABEL_DIR}/{Path(file_name).stem}.png"
        write_png(root / label_item, label)
        lists[record.get("phase", "trainval")].append(f"{image_item} {label_item}")
    written = {}
    for phase, lines in sorted(lists.items()):
        path = root / f"{phase}.lst"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written[phase] = (path, len(lines))
    return written
