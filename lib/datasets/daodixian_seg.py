"""Power-line wires (`daodixian_seg`, SSJ fork): wire against background.

On disk: DATASET.ROOT/daodixian_seg/{train_1209,val_1209}/{images/<id>.jpeg, annotations/<id>.png}
(or those folders directly under ROOT); lists data/list/daodixian_seg/*.lst with
`<split>/images/<id>.jpeg  <split>/annotations/<id>.png` lines (two spaces; test: image only).
Labels hold 0 (background) and 1 (wire); 255 is ignored. Predictions are saved as grey PNGs,
0 for background and 255 for wire, as the original wrote them.
"""

from .base_dataset import BaseDataset
from .list_reader import PairList
from .registry import register_dataset


@register_dataset("daodixian_seg")
class DaodixianSeg(BaseDataset):
    list_reader = PairList("daodixian_seg")
    class_names = ("background", "wire")
    num_classes_choices = (2,)
    test_policy = "cityscapes"  # the original's multi_scale_inference
    default_class_weights = (0.4373, 1.507)
    saved_values = (0, 255)  # as the original wrote them
