"""DeepGlobe land cover (`urbanisation`, land-use fork): 7 classes from grey label values.

On disk: DATASET.ROOT/urbanisation/x/{train,val,test}/<image> and .../y/{train,val,test}/<label>
(or x/ and y/ directly under ROOT), lists DATASET.ROOT/list/urbanisation/{train,val,test}.lst
with `x/train/<image> y/train/<label>` lines (test: the image alone).

Labels are the DeepGlobe colours converted to grey: floor(0.299 R + 0.587 G + 0.114 B), the
original's values, or rounded as PIL's convert("L") and OpenCV write them (urban 179 instead of
178, agriculture 226 instead of 225, forest 150 instead of 149); any other grey value is an error
naming the file. DeepGlobe's own RGB masks are read as the fork read every label, with OpenCV's
IMREAD_GRAYSCALE, which gives the floor values. 255 is a class here (barren), which is why the
experiment sets TRAIN.IGNORE_LABEL -1: padding is ignored, no label value is (the fork's uint8
labels saturated -1 to 0: its padding trained as "unknown"). Predictions are saved as the
original saved them: P-mode PNGs with the VOC palette holding its grey values, which are the
input greys shifted by a few levels for five classes (e.g. water 29 -> 36).
"""

import numpy as np

from utils.image_io import read_label
from utils.visualize import voc_palette

from .base_dataset import BaseDataset
from .label_map import INVALID
from .list_reader import PairList
from .registry import register_dataset

CLASS_NAMES = ("unknown", "urban", "agriculture", "rangeland", "forest", "water", "barren")

# Grey value of each class's DeepGlobe colour, in class order: unknown (0, 0, 0), urban
# (0, 255, 255), agriculture (255, 255, 0), rangeland (255, 0, 255), forest (0, 255, 0),
# water (0, 0, 255), barren (255, 255, 255).
LABEL_GREYS = (0, 178, 225, 105, 149, 29, 255)
ROUNDED_GREYS = {179: 1, 226: 2, 150: 4}  # where rounding differs from the original's floor

# Grey value the original wrote for each class in its predictions.
PREDICTION_GREYS = (0, 177, 226, 106, 150, 36, 255)

CLASS_WEIGHTS = (1.0, 0.8, 0.8, 1.5, 1.8, 2.0, 0.7)


@register_dataset("urbanisation")
class Urbanisation(BaseDataset):
    list_reader = PairList("urbanisation")
    class_names = CLASS_NAMES
    num_classes_choices = (7,)
    test_policy = "cityscapes"  # the original's multi_scale_inference
    default_class_weights = CLASS_WEIGHTS
    saved_values = PREDICTION_GREYS
    saved_palette = voc_palette()

    def load_label(self, path, where):
        return read_label(path, where, colour_as_grey=True)

    def label_table(self):
        table = np.full(256, INVALID, np.int64)
        table[list(LABEL_GREYS)] = np.arange(len(LABEL_GREYS))
        table[list(ROUNDED_GREYS)] = list(ROUNDED_GREYS.values())
        return table
