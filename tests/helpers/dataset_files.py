"""Tiny synthetic images, labels and configs for the dataset tests."""

from pathlib import Path

import cv2
import numpy as np

from config import load_config
from helpers.model_specs import TINY_MODEL
from helpers.tools import load_tool


def write_png(path, array):
    """Write `array` as a PNG (works for non-ASCII paths); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imencode(".png", array)[1].tofile(path)
    return path


def smooth_image(height, width, seed=0):
    """A smooth BGR uint8 image (bilinear results stay close whatever the sampling grid)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (3, 4, 3)).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.uint8)


def blocks(values, height, width, seed=0):
    """A label of rectangular regions holding `values` (uint8)."""
    rng = np.random.default_rng(seed)
    grid = rng.choice(np.asarray(values, np.uint8), (3, 4))
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_NEAREST)


def write_pairs(root, pairs, list_name="train.lst", sep=" "):
    """Write (image item, image array, label item, label array) tuples and their list file."""
    root = Path(root)
    lines = []
    for image_item, image, label_item, label in pairs:
        write_png(root / image_item, image)
        if label_item is None:
            lines.append(image_item)
        else:
            write_png(root / label_item, label)
            lines.append(f"{image_item}{sep}{label_item}")
    list_file = root / list_name
    list_file.parent.mkdir(parents=True, exist_ok=True)
    list_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return list_file


def config(dataset, root, num_classes, train_set="train.lst", test_set="val.lst", *opts):
    """A frozen config for `dataset` at `root` with a small crop; `opts` are more KEY VALUE."""
    return load_config(
        None,
        [
            "DATASET.DATASET", dataset,
            "DATASET.ROOT", str(root),
            "DATASET.NUM_CLASSES", str(num_classes),
            "DATASET.TRAIN_SET", train_set,
            "DATASET.TEST_SET", test_set,
            "TRAIN.IMAGE_SIZE", "[32, 24]",
            "TRAIN.BASE_SIZE", "40",
            "TRAIN.IGNORE_LABEL", "255",
            "TEST.IMAGE_SIZE", "[40, 24]",
            "TEST.BASE_SIZE", "40",
            *opts,
        ],
    )  # fmt: skip


def train_one_epoch(tmp_path, dataset, num_classes, train_set, test_set, *opts):
    """One epoch of the tiny model through tools/train.py on `dataset` at tmp_path/data (32x32
    crops, batches of 2, ignore label 255); `opts` are more KEY VALUE. Returns the run folder."""
    cfg_file = tmp_path / "tiny.yaml"
    cfg_file.write_text(TINY_MODEL)
    run = [
        "OUTPUT_DIR", str(tmp_path / "out"), "LOG_DIR", str(tmp_path / "log"), "WORKERS", "0",
        "DATASET.DATASET", dataset, "DATASET.ROOT", str(tmp_path / "data"),
        "DATASET.NUM_CLASSES", str(num_classes),
        "DATASET.TRAIN_SET", train_set, "DATASET.TEST_SET", test_set,
        "TRAIN.IMAGE_SIZE", "[32, 32]", "TRAIN.BASE_SIZE", "32", "TRAIN.BATCH_SIZE_PER_GPU", "2",
        "TRAIN.END_EPOCH", "1", "TRAIN.IGNORE_LABEL", "255",
        "TEST.IMAGE_SIZE", "[32, 32]", "TEST.BASE_SIZE", "32", "TEST.BATCH_SIZE_PER_GPU", "2",
        *opts,
    ]  # fmt: skip
    assert load_tool("train").main(["--cfg", str(cfg_file), "--device", "cpu", *run]) == 0
    return tmp_path / "out" / dataset / "tiny"
