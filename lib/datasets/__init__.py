"""Datasets by name: `build_dataset(cfg, split)` reads DATASET.DATASET and the TRAIN/TEST keys.

Items are `(image uint8 (3, H, W) RGB, label int64 (H, W), size (h, w), name)`; turn an image
batch into the network input with `normalize(batch)` after moving it to the device.
"""

import numpy as np
import torch.nn.functional as F

from utils.errors import ConfigError

# Each dataset module registers its class on import.
from . import (  # noqa: F401
    ade20k,
    cityscapes,
    cocostuff,
    custom,
    daodixian_seg,
    lip,
    panorama,
    pascal_ctx,
    urbanisation,
)
from .base_dataset import BaseDataset
from .palette import palette_for
from .registry import dataset_names, get_dataset_class, register_dataset
from .transforms import IMAGENET_MEAN, IMAGENET_STD, normalize

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "SPLITS",
    "BaseDataset",
    "build_dataset",
    "dataset_names",
    "get_dataset_class",
    "list_inputs",
    "normalize",
    "palette_for",
    "register_dataset",
]

SPLITS = ("train", "extra_train", "val", "test")


VAL_PREPARATIONS = ("original", "whole")


def validation_preparation(test):
    """TEST.VAL_PREPARATION, checked."""
    if test.VAL_PREPARATION not in VAL_PREPARATIONS:
        raise ConfigError(
            f"TEST.VAL_PREPARATION is {test.VAL_PREPARATION!r}; expected "
            f"{' or '.join(VAL_PREPARATIONS)}"
        )
    return test.VAL_PREPARATION


def build_dataset(cfg, split):
    """The DATASET.DATASET dataset for `split`.

    - "train": DATASET.TRAIN_SET with the TRAIN augmentation (first TRAIN.NUM_SAMPLES if > 0).
    - "extra_train": the same on DATASET.EXTRA_TRAIN_SET.
    - "val": DATASET.TEST_SET, no augmentation (first TEST.NUM_SAMPLES if > 0; centre crop with
      TEST.CENTER_CROP_TEST).
    - "test": DATASET.TEST_SET, every line; image-only lists allowed.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    data, train, test = cfg.DATASET, cfg.TRAIN, cfg.TEST
    dataset_class = get_dataset_class(data.DATASET)
    common = {
        "root": data.ROOT,
        "num_classes": data.NUM_CLASSES,
        "ignore_label": train.IGNORE_LABEL,
        "class_weights": list(data.CLASS_WEIGHTS) or None,
        "color_map": data.COLOR_MAP,
        "compress_map": data.COMPRESS_MAP,
        "short_side": data.SHORT_SIDE,
        "fork_augmentation": data.AUGMENTATION,
    }
    if split in ("train", "extra_train"):
        list_path = data.TRAIN_SET if split == "train" else data.EXTRA_TRAIN_SET
        if not list_path:
            raise ConfigError(
                "DATASET.EXTRA_TRAIN_SET is empty; set it to the extra training list (TRAIN."
                "EXTRA_EPOCH > 0 trains on it)"
            )
        width, height = train.IMAGE_SIZE
        return dataset_class(
            list_path=list_path,
            mode="train",
            crop_size=(height, width),
            base_size=train.BASE_SIZE,
            multi_scale=train.MULTI_SCALE,
            flip=train.FLIP,
            scale_factor=train.SCALE_FACTOR,
            downsample_rate=train.DOWNSAMPLERATE,
            random_brightness=train.RANDOM_BRIGHTNESS,
            brightness_shift=train.RANDOM_BRIGHTNESS_SHIFT_VALUE,
            num_samples=train.NUM_SAMPLES,
            **common,
        )
    width, height = test.IMAGE_SIZE
    return dataset_class(
        list_path=data.TEST_SET,
        mode=split,
        crop_size=(height, width),
        base_size=test.BASE_SIZE,
        center_crop=test.CENTER_CROP_TEST,
        num_samples=test.NUM_SAMPLES if split == "val" else 0,
        original_validation=validation_preparation(test) == "original",
        **common,
    )


def list_inputs(cfg, list_file, count, size):
    """Up to `count` network inputs, float32 (1, 3, H, W), from the images of `list_file` (read
    with DATASET of `cfg`, as evaluation reads them): evenly spread over the list, normalised and
    resized (bilinear) to `size` = (H, W). For int8 calibration and benchmark inputs."""
    cfg = cfg.clone()
    cfg.defrost()
    cfg.DATASET.TEST_SET = str(list_file)
    cfg.freeze()
    dataset = build_dataset(cfg, "test")
    indices = np.unique(np.linspace(0, len(dataset) - 1, min(count, len(dataset))).astype(int))
    for index in indices:
        image = normalize(dataset[index][0].unsqueeze(0))
        if tuple(image.shape[-2:]) != tuple(size):
            image = F.interpolate(image, size=tuple(size), mode="bilinear", align_corners=False)
        yield image
