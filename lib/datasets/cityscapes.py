"""Cityscapes (`cityscapes`): 19 classes from the gtFine labelIds.

On disk: DATASET.ROOT/leftImg8bit/<split>/<city>/<x>_leftImg8bit.png and
DATASET.ROOT/gtFine/<split>/<city>/<x>_gtFine_labelIds.png (or under ROOT/cityscapes/, the
original layout). List lines: `leftImg8bit/... gtFine/..._labelIds.png`; test lists hold images
only. Saved predictions are labelIds PNGs, the layout of the evaluation server.
"""

import numpy as np

from .base_dataset import BaseDataset
from .label_map import IGNORE
from .list_reader import PairList
from .registry import register_dataset

# labelId -> trainId; every other labelId (0-6, 9, 10, 14-16, 18, 29, 30, license plate) is ignored.
LABEL_TO_TRAIN_ID = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}  # fmt: skip

CLASS_NAMES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
)  # fmt: skip

# Loss weights of the original code (inverse-frequency style), one per trainId.
CLASS_WEIGHTS = (
    0.8373, 0.918, 0.866, 1.0345, 1.0166, 0.9969, 0.9754, 1.0489, 0.8786, 1.0023,
    0.9539, 0.9843, 1.1116, 0.9037, 1.0865, 1.0955, 1.0865, 1.1529, 1.0507,
)  # fmt: skip


@register_dataset("cityscapes")
class Cityscapes(BaseDataset):
    list_reader = PairList("cityscapes")
    class_names = CLASS_NAMES
    num_classes_choices = (19,)
    test_policy = "cityscapes"  # the original's multi_scale_inference
    default_class_weights = CLASS_WEIGHTS

    def label_table(self):
        table = np.full(256, IGNORE, np.int64)
        for label_id, train_id in LABEL_TO_TRAIN_ID.items():
            table[label_id] = train_id
        return table
