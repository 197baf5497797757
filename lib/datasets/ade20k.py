"""ADE20K / SceneParsing (`ade20k`): 150 classes.

On disk: DATASET.ROOT/<item> (or ROOT/ade20k/<item>), list lines
`train/image/ADE_train_XXXXXXXX.jpg train/label/ADE_train_XXXXXXXX.png`; label PNGs hold 0
("other", ignored) and 1..150 (classes 0..149). For testing the short side is resized to
TEST.BASE_SIZE and padded to a multiple of 8, as the original `testval`, and for training to
TRAIN.BASE_SIZE before the augmentation (`BaseDataset.short_side`).
"""

from .base_dataset import BaseDataset
from .label_map import reduce_zero_table
from .list_reader import PairList
from .registry import register_dataset

CLASS_NAMES = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass",
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain",
    "chair", "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug",
    "field", "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub",
    "railing", "cushion", "base", "box", "column", "signboard", "chest of drawers", "counter",
    "sand", "sink", "skyscraper", "fireplace", "refrigerator", "grandstand", "path", "stairs",
    "runway", "case", "pool table", "pillow", "screen door", "stairway", "river", "bridge",
    "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill", "bench",
    "countertop", "stove", "palm", "kitchen island", "computer", "swivel chair", "boat", "bar",
    "arcade machine", "hovel", "bus", "towel", "light", "truck", "tower", "chandelier",
    "awning", "streetlight", "booth", "television receiver", "airplane", "dirt track",
    "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle", "buffet",
    "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer",
    "plaything", "swimming pool", "stool", "barrel", "basket", "waterfall", "tent", "bag",
    "minibike", "cradle", "oven", "ball", "food", "step", "tank", "trade name", "microwave",
    "pot", "animal", "bicycle", "lake", "dishwasher", "screen", "blanket", "sculpture", "hood",
    "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen", "plate",
    "monitor", "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)  # fmt: skip


@register_dataset("ade20k")
class ADE20K(BaseDataset):
    list_reader = PairList("ade20k")
    class_names = CLASS_NAMES
    num_classes_choices = (150,)
    test_policy = "base"  # the original's multi_scale_inference
    short_side = True  # the original's resize_short_length for training and testing
    crop_test_padding = False  # the original stretched its prediction over the padding

    def label_table(self):
        return reduce_zero_table(self.num_classes)
