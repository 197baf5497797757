"""daodixian_seg: the SSJ layout and two-space lists, 0/1 labels, 0/255 predictions, training."""

import cv2
import numpy as np
import pytest

import datasets
from config import load_config
from helpers.dataset_files import blocks, config, smooth_image, train_one_epoch, write_png
from helpers.paths import EXPERIMENTS, REPO

LABEL = np.array([[0, 1, 1], [255, 0, 1]], np.uint8)
YAML = EXPERIMENTS / "daodixian_seg" / "seg_hrnet_ocr_w48_epoch48_1209.yaml"


def write_daodixian(root, split, labels, image_only=False):
    """ROOT/daodixian_seg/<split>/{images,annotations}/ and ROOT/list/daodixian_seg/<split>.lst."""
    lines = []
    for i, label in enumerate(labels):
        image = root / "daodixian_seg" / split / "images" / f"{i:032x}.jpeg"
        image.parent.mkdir(parents=True, exist_ok=True)
        cv2.imencode(".jpg", smooth_image(*label.shape, seed=i))[1].tofile(image)
        item = f"{split}/images/{image.name}"
        if not image_only:
            write_png(root / "daodixian_seg" / split / "annotations" / f"{i:032x}.png", label)
            item += f"  {split}/annotations/{i:032x}.png"
        lines.append(item)
    list_file = root / "list" / "daodixian_seg" / f"{split}.lst"
    list_file.parent.mkdir(parents=True, exist_ok=True)
    list_file.write_text("\n".join(lines) + "\n")


def daodixian_config(root, *opts):
    return config(
        "daodixian_seg", root, 2, "list/daodixian_seg/train_1209.lst",
        "list/daodixian_seg/val_1209.lst", *opts,
    )  # fmt: skip


def test_two_space_lists_and_labels(tmp_path):
    write_daodixian(tmp_path, "val_1209", [LABEL])
    dataset = datasets.build_dataset(daodixian_config(tmp_path), "val")
    image, label, size, name = dataset[0]
    assert label.tolist() == [[0, 1, 1], [255, 0, 1]] and size == (2, 3) and name == "0" * 32
    assert dataset.class_names == ("background", "wire")
    assert dataset.class_weights == [0.4373, 1.507]


def test_other_label_values_are_an_error(tmp_path):
    write_daodixian(tmp_path, "val_1209", [np.array([[0, 2]], np.uint8)])
    dataset = datasets.build_dataset(daodixian_config(tmp_path), "val")
    with pytest.raises(ValueError, match=r"has value\(s\) 2 "):
        dataset[0]


def test_image_only_list_and_0_255_predictions(tmp_path):
    write_daodixian(tmp_path, "test_1209", [LABEL], image_only=True)
    cfg = daodixian_config(tmp_path, "DATASET.TEST_SET", "list/daodixian_seg/test_1209.lst")
    dataset = datasets.build_dataset(cfg, "test")
    assert not dataset.labelled
    path = dataset.save_prediction(np.array([[0, 1], [1, 0]]), "x", tmp_path / "pred")
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).tolist() == [[0, 255], [255, 0]]


def test_experiment_lists_are_in_the_repository():
    cfg = load_config(YAML)
    for list_path in (cfg.DATASET.TRAIN_SET, cfg.DATASET.TEST_SET):
        lines = (REPO / cfg.DATASET.ROOT / list_path).read_text().splitlines()
        image, label = lines[0].split("  ")
        assert image.startswith(("train_1209/images/", "val_1209/images/"))
        assert label.startswith(image.split("/")[0] + "/annotations/")


def test_trains_through_tools_train(tmp_path):
    labels = [blocks([0, 1], 32, 32, seed=i) for i in range(4)]
    write_daodixian(tmp_path / "data", "train_1209", labels)
    write_daodixian(tmp_path / "data", "val_1209", labels[:2])
    out = train_one_epoch(
        tmp_path, "daodixian_seg", 2, "list/daodixian_seg/train_1209.lst",
        "list/daodixian_seg/val_1209.lst",
    )  # fmt: skip
    assert (out / "final_state.pth").is_file()
