"""PASCAL-Context: 59 classes (background ignored) or 60; the split names of the YAMLs."""

import sys

import numpy as np
import pytest

import datasets
from datasets.pascal_ctx import CATEGORY_IDS, CLASS_NAMES, DETAIL_IDS, segmentation_mask
from helpers.dataset_files import config, smooth_image, write_pairs
from utils.errors import DataError, UserError

RAW = np.array([[0, 1, 2, 59], [0, 30, 58, 255]], np.uint8)


@pytest.fixture
def root(tmp_path):
    voc = "VOCdevkit/VOC2010"
    pairs = [(f"{voc}/JPEGImages/a.jpg.png", smooth_image(2, 4), f"{voc}/SegCtx/a.png", RAW)]
    write_pairs(tmp_path / "pascal_ctx", pairs, list_name="val.lst")
    return tmp_path


def test_60_classes_keep_background(root):
    cfg = config("pascal_ctx", root, 60, "train", "val", "TEST.VAL_PREPARATION", "whole")
    dataset = datasets.build_dataset(cfg, "val")
    assert dataset[0][1].tolist() == [[0, 1, 2, 59], [0, 30, 58, 255]]
    assert len(dataset.class_names) == 60 and dataset.class_names[0] == "background"
    assert dataset.class_weights is None


def test_59_classes_ignore_background(root):
    cfg = config("pascal_ctx", root, 59, "train", "testval", "TRAIN.IGNORE_LABEL", "-1")
    dataset = datasets.build_dataset(cfg, "test")
    assert dataset[0][1].tolist() == [[-1, 0, 1, 58], [-1, 29, 57, -1]]
    assert dataset.class_names == CLASS_NAMES[1:]


def test_missing_list_points_to_the_converter(tmp_path):
    with pytest.raises(DataError, match="pascal_ctx/train.lst does not exist.*convert_pascal_ctx"):
        datasets.build_dataset(config("pascal_ctx", tmp_path, 59, "train", "val"), "train")


def test_class_order_is_the_sorted_detail_ids():
    assert len(DETAIL_IDS) == len(set(DETAIL_IDS)) == 60
    assert list(CATEGORY_IDS) == sorted(DETAIL_IDS) and CATEGORY_IDS[:3] == (0, 2, 9)


def test_rle_without_pycocotools_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pycocotools", None)
    with pytest.raises(UserError, match="pip install -r requirements-data.txt"):
        segmentation_mask({"size": [2, 2], "counts": [4]}, 2, 2, "x.json: image a.jpg")
