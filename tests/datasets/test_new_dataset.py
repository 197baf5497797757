"""A new dataset is one class in one file: its list layout, label table and left/right classes
are class attributes that the list reader, the label map, the augmentation and the predictor
read; nothing outside the class changes."""

import numpy as np
import torch

import datasets
from datasets import BaseDataset, register_dataset
from datasets.list_reader import PairList
from helpers.dataset_files import config, smooth_image, write_pairs
from utils.image_io import read_label
from utils.visualize import voc_palette


@register_dataset("test_mirrored_parts")
class MirroredParts(BaseDataset):
    """Raw 10 background, 11 left part, 12 right part; lists under ROOT or ROOT/parts."""

    list_reader = PairList("parts")
    class_names = ("background", "left", "right")
    num_classes_choices = (3,)
    flip_pairs = ((1, 2),)

    def label_table(self):
        table = np.full(256, -2, np.int64)  # any other value is an error
        table[[10, 11, 12]] = [0, 1, 2]
        table[255] = -1
        return table


def test_a_new_dataset_with_left_right_classes_needs_only_its_class(tmp_path):
    raw = np.full((24, 32), 10, np.uint8)
    raw[:, :8] = 11  # the left part, on the left of the picture
    write_pairs(tmp_path / "parts", [("i.png", smooth_image(24, 32), "l.png", raw)])
    options = ("TRAIN.BASE_SIZE", "32", "TRAIN.MULTI_SCALE", "False")  # crop = whole image
    cfg = config("test_mirrored_parts", tmp_path, 3, "parts/train.lst", "parts/train.lst", *options)
    train = datasets.build_dataset(cfg, "train")
    assert train.samples[0].image == tmp_path / "parts" / "i.png"
    classes = raw - 10
    mirrored = classes[:, ::-1].copy()
    mirrored[mirrored == 1] = 2  # the left part, mirrored, is a right part
    seen = set()
    for epoch in range(8):
        label = train[0, 0, epoch][1]
        flipped = not torch.equal(label, torch.from_numpy(classes).long())
        if flipped:
            assert torch.equal(label, torch.from_numpy(mirrored).long())
        seen.add(flipped)
    assert seen == {False, True}
    prediction = train.save_prediction(mirrored, "p", tmp_path / "pred")
    assert set(np.unique(read_label(prediction))) == {10, 12}  # raw values, by the table
    # What the predictor and the pictures read from the class.
    dataset_class = datasets.get_dataset_class("test_mirrored_parts")
    assert dataset_class.flip_pairs == ((1, 2),) and dataset_class.test_policy == "base"
    assert np.array_equal(datasets.palette_for(cfg), voc_palette())
