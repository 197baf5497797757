"""LIP, Look Into Person (`lip`): 20 human-parsing classes.

On disk: DATASET.ROOT/<item> (or ROOT/lip/<item>) as in the list files, e.g.
`val_images/<id>.jpg val_segmentations/<id>.png`; grey label PNGs with values 0..19.
Training squashes the image to the crop size before the random rescale, as the original did, and
a horizontal flip swaps the left/right classes. For testing the image is squashed to the crop
(TEST.IMAGE_SIZE) and the prediction resized to the label, as the original `testval`. The training
list, data/list/lip/trainList.txt, is not shipped (the original repository's file could not be
obtained); README says how to write it from the LIP download.
"""

from .base_dataset import BaseDataset
from .list_reader import PairList
from .registry import register_dataset

CLASS_NAMES = (
    "background", "hat", "hair", "glove", "sunglasses", "upper-clothes", "dress", "coat",
    "socks", "pants", "jumpsuits", "scarf", "skirt", "face", "left-arm", "right-arm",
    "left-leg", "right-leg", "left-shoe", "right-shoe",
)  # fmt: skip

# Left/right arm, leg and shoe: the classes trade places when the image is mirrored.
FLIP_PAIRS = ((14, 15), (16, 17), (18, 19))


@register_dataset("lip")
class LIP(BaseDataset):
    list_reader = PairList(
        "lip",
        hint=(
            "; data/list/lip/trainList.txt is not shipped: write it from the LIP download, one "
            "'train_images/<id>.jpg train_segmentations/<id>.png' line per training image "
            "(README, Datasets: LIP's training list)"
        ),
    )
    class_names = CLASS_NAMES
    num_classes_choices = (20,)
    test_policy = "base"  # the original's multi_scale_inference
    flip_pairs = FLIP_PAIRS
    squash_to_crop = True  # training and testing, as the original
    val_squash = True  # the original's 'val' items: image and label resized to the crop
