"""COCO-Stuff-10k (`cocostuff`): 171 classes (80 things, 91 stuff).

On disk: DATASET.ROOT/<item> (or ROOT/cocostuff/<item>), list lines
`train/image/COCO_train2014_xxx.jpg train/label/COCO_train2014_xxx.png`; label PNGs hold the
COCO ids: 0 unlabelled (ignored), things 1..90 and stuff 92..182, with gaps. The 172 used ids
map to their position in RAW_IDS, minus one; any other value is ignored, as in the original.
For testing the short side is resized to TEST.BASE_SIZE and padded to a multiple of 8, as the
original `testval`, and for training to TRAIN.BASE_SIZE before the augmentation
(`BaseDataset.short_side`).
"""

import numpy as np

from .base_dataset import BaseDataset
from .label_map import IGNORE
from .list_reader import PairList
from .registry import register_dataset

# COCO ids 12, 26, 29, 30, 45, 66, 68, 69, 71, 83 and 91 are not used by COCO-Stuff.
RAW_IDS = tuple(i for i in range(183) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83, 91))

CLASS_NAMES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
    "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
    "banner", "blanket", "branch", "bridge", "building-other", "bush", "cabinet", "cage",
    "cardboard", "carpet", "ceiling-other", "ceiling-tile", "cloth", "clothes", "clouds",
    "counter", "cupboard", "curtain", "desk-stuff", "dirt", "door-stuff", "fence",
    "floor-marble", "floor-other", "floor-stone", "floor-tile", "floor-wood", "flower", "fog",
    "food-other", "fruit", "furniture-other", "grass", "gravel", "ground-other", "hill",
    "house", "leaves", "light", "mat", "metal", "mirror-stuff", "moss", "mountain", "mud",
    "napkin", "net", "paper", "pavement", "pillow", "plant-other", "plastic", "platform",
    "playingfield", "railing", "railroad", "river", "road", "rock", "roof", "rug", "salad",
    "sand", "sea", "shelf", "sky-other", "skyscraper", "snow", "solid-other", "stairs",
    "stone", "straw", "structural-other", "table", "tent", "textile-other", "towel", "tree",
    "vegetable", "wall-brick", "wall-concrete", "wall-other", "wall-panel", "wall-stone",
    "wall-tile", "wall-wood", "water-other", "waterdrops", "window-blind", "window-other",
    "wood",
)  # fmt: skip


@register_dataset("cocostuff")
class COCOStuff(BaseDataset):
    list_reader = PairList("cocostuff")
    class_names = CLASS_NAMES
    num_classes_choices = (171,)
    test_policy = "base"  # the original's multi_scale_inference
    short_side = True  # the original's resize_short_length for training and testing

    def label_table(self):
        table = np.full(256, IGNORE, np.int64)
        table[list(RAW_IDS[1:])] = np.arange(len(RAW_IDS) - 1)
        return table
