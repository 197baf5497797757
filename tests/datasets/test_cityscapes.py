"""Cityscapes: labelIds -> trainIds, both on-disk layouts, test lists, predictions as labelIds."""

import cv2
import numpy as np
import pytest
import torch

import datasets
from datasets.cityscapes import CLASS_WEIGHTS, LABEL_TO_TRAIN_ID
from helpers.dataset_files import config, smooth_image, write_pairs

LABEL_IDS = np.array([[0, 7, 8, 11, 26, 33], [1, 6, 9, 29, 30, 255]], np.uint8)
TRAIN_IDS = [[255, 0, 1, 2, 13, 18], [255] * 6]


def cityscapes_pairs(split="train", city="aachen", count=2):
    pairs = []
    for i in range(count):
        stem = f"{city}/{city}_{i:06d}_000019"
        pairs.append(
            (
                f"leftImg8bit/{split}/{stem}_leftImg8bit.png",
                smooth_image(2, 6, seed=i),
                f"gtFine/{split}/{stem}_gtFine_labelIds.png",
                LABEL_IDS,
            )
        )
    return pairs


@pytest.mark.parametrize("legacy_layout", [False, True])
def test_label_ids_map_to_train_ids(tmp_path, legacy_layout):
    data = tmp_path / "cityscapes" if legacy_layout else tmp_path
    write_pairs(data, cityscapes_pairs("val", "frankfurt"), sep="\t")
    (tmp_path / "list").mkdir()
    (data / "train.lst").rename(tmp_path / "list" / "val.lst")
    cfg = config("cityscapes", tmp_path, 19, test_set="list/val.lst")
    dataset = datasets.build_dataset(cfg, "val")
    image, label, size, name = dataset[1]
    assert label.tolist() == TRAIN_IDS and size == (2, 6)
    assert name == "frankfurt_000001_000019_gtFine_labelIds"  # the label's stem, as the original
    assert len(dataset.class_names) == 19 and dataset.class_names[13] == "car"
    assert dataset.class_weights == list(CLASS_WEIGHTS)


def test_training_crop_and_ignore_minus_one(tmp_path):
    write_pairs(tmp_path, cityscapes_pairs())
    cfg = config("cityscapes", tmp_path, 19, "train.lst", "val.lst", "TRAIN.IGNORE_LABEL", "-1")
    image, label, _, _ = datasets.build_dataset(cfg, "train")[0]
    assert image.shape == (3, 24, 32) and label.shape == (24, 32)
    assert set(label.unique().tolist()) <= {-1, 0, 1, 2, 13, 18}


def test_class_weights_from_the_config_replace_the_table(tmp_path):
    write_pairs(tmp_path, cityscapes_pairs())
    weights = ",".join(["2.0"] * 19)
    cfg = config(
        "cityscapes", tmp_path, 19, "train.lst", "val.lst", "DATASET.CLASS_WEIGHTS", weights
    )
    assert datasets.build_dataset(cfg, "train").class_weights == [2.0] * 19


def test_test_list_and_predictions_saved_as_label_ids(tmp_path):
    pairs = [
        (image, array, None, None) for image, array, _, _ in cityscapes_pairs("test", "berlin")
    ]
    write_pairs(tmp_path, pairs, list_name="test.lst")
    dataset = datasets.build_dataset(
        config("cityscapes", tmp_path, 19, test_set="test.lst"), "test"
    )
    image, label, size, name = dataset[0]
    assert not dataset.labelled and image.shape == (3, 2, 6) and label.shape == (0, 0)
    train_ids = np.arange(19, dtype=np.uint8).reshape(1, 19)
    assert dataset.labels.to_ids(train_ids).tolist() == [sorted(LABEL_TO_TRAIN_ID)]
    path = dataset.save_prediction(train_ids, name, tmp_path / "results")
    saved = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    assert path.name == "berlin_000000_000019_leftImg8bit.png"
    assert torch.equal(torch.from_numpy(saved), torch.tensor([sorted(LABEL_TO_TRAIN_ID)]).byte())
