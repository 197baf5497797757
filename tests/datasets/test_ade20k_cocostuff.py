"""ADE20K (reduce zero label) and COCO-Stuff (172 raw ids -> 171 classes) label maps; the
short-side preparation of ADE20K, COCO-Stuff and (DATASET.SHORT_SIDE) PASCAL-Context."""

import cv2
import numpy as np
import pytest

import datasets
from datasets.cocostuff import RAW_IDS
from datasets.transforms import augmentation_rng
from helpers.dataset_files import config, smooth_image, write_pairs

SHORT_SIDE = ("DATASET.SHORT_SIDE", "True")
# (dataset, classes, options): the OCR branch's short-side datasets; PASCAL-Context as its 2021
# code (the _paddle YAMLs)
SHORT_SIDE_DATASETS = [("ade20k", 150, ()), ("cocostuff", 171, ()), ("pascal_ctx", 59, SHORT_SIDE)]


def dataset_for(tmp_path, name, num_classes, raw, folder=""):
    height, width = raw.shape
    pairs = [("val/image/x.jpg.png", smooth_image(height, width), "val/label/x.png", raw)]
    write_pairs(tmp_path / folder, pairs, list_name="val.lst")
    test_set = f"{folder}/val.lst" if folder else "val.lst"
    cfg = config(
        name, tmp_path, num_classes, "train.lst", test_set, "TEST.VAL_PREPARATION", "whole"
    )
    return datasets.build_dataset(cfg, "val")


def test_ade20k_reduces_the_zero_label(tmp_path):
    raw = np.array([[0, 1, 2, 150]], np.uint8)
    dataset = dataset_for(tmp_path, "ade20k", 150, raw, folder="ade20k")
    assert dataset[0][1].tolist() == [[255, 0, 1, 149]]
    assert len(dataset.class_names) == 150 and dataset.class_names[:2] == ("wall", "building")
    assert dataset.labels.to_ids(np.array([0, 149])).tolist() == [1, 150]


def test_ade20k_rejects_values_above_150(tmp_path):
    dataset = dataset_for(tmp_path, "ade20k", 150, np.array([[0, 151, 200]], np.uint8))
    with pytest.raises(ValueError, match=r"val\.lst:1: label .*x\.png has value\(s\) 151, 200 "):
        dataset[0]


def test_cocostuff_maps_the_172_raw_ids(tmp_path):
    assert len(RAW_IDS) == 172 and 12 not in RAW_IDS and 91 not in RAW_IDS and RAW_IDS[-1] == 182
    raw = np.array([[0, 1, 11, 13, 92, 182, 12, 91, 183, 255]], np.uint8)
    dataset = dataset_for(tmp_path, "cocostuff", 171, raw)
    assert dataset[0][1].tolist() == [[255, 0, 10, 11, 80, 170, 255, 255, 255, 255]]
    assert dataset.class_names[0] == "person" and dataset.class_names[80] == "banner"
    assert len(dataset.class_names) == 171


@pytest.mark.parametrize(
    "name, num_classes, options, crop",
    [
        (*dataset, crop)
        for dataset, crop in zip(SHORT_SIDE_DATASETS, (False, True, True), strict=True)
    ],
)
def test_testing_resizes_the_short_side_and_pads_to_a_multiple_of_8(
    tmp_path, name, num_classes, options, crop
):
    """The original `testval` (`resize_short_length`): short side to TEST.BASE_SIZE (40), the
    other rounded half up, bottom / right padded with the mean colour to a multiple of 8;
    COCO-Stuff and PASCAL-Context cut the padding off the prediction, ADE20K does not."""
    raw = np.full((30, 43), 1, np.uint8)
    dataset_for(tmp_path, name, num_classes, raw)
    cfg = config(name, tmp_path, num_classes, "train.lst", "val.lst", *options)
    dataset = datasets.build_dataset(cfg, "test")
    image, label, size, _ = dataset[0]
    new_w = int(43 * 40 / 30 + 0.5)  # 57
    resized = cv2.resize(smooth_image(30, 43), (new_w, 40), interpolation=cv2.INTER_LINEAR)
    padded = cv2.copyMakeBorder(
        resized, 0, 0, 0, 64 - new_w, cv2.BORDER_CONSTANT, value=(103.53, 116.28, 123.675)
    )  # the original's BGR mean * 255
    np.testing.assert_array_equal(image.numpy(), padded[..., ::-1].transpose(2, 0, 1))
    assert label.shape == (30, 43) and size == (30, 43)
    assert dataset.prediction_crop(size) == ((40, new_w) if crop else None)


@pytest.mark.parametrize("name, num_classes, options", SHORT_SIDE_DATASETS)
def test_training_resizes_the_short_side_before_the_augmentation(
    tmp_path, name, num_classes, options
):
    """The OCR branch's training item: `resize_short_length` to TRAIN.BASE_SIZE (40; image
    bilinear, label nearest), then `gen_sample`'s random rescale of the long side, crop and
    flip, drawn for the resized image."""
    raw = np.repeat(np.array([1, 2, 3], np.uint8), [10, 12, 8])[:, None].repeat(43, 1)
    pairs = [("train/image/x.jpg.png", smooth_image(30, 43), "train/label/x.png", raw)]
    write_pairs(tmp_path, pairs, list_name="train.lst")
    cfg = config(name, tmp_path, num_classes, "train.lst", "val.lst", *options)
    dataset = datasets.build_dataset(cfg, "train")
    image, label, size, _ = dataset[(0, 7, 2)]
    new_w = int(43 * 40 / 30 + 0.5)  # 57
    resized = cv2.resize(smooth_image(30, 43), (new_w, 40), interpolation=cv2.INTER_LINEAR)
    mapped = cv2.resize(dataset.labels.map(raw), (new_w, 40), interpolation=cv2.INTER_NEAREST)
    params = dataset.augmentation.draw(40, new_w, augmentation_rng(7, 2, 0))
    want_image, want_label = dataset.augmentation.apply(resized, mapped, params, dataset.labels)
    np.testing.assert_array_equal(image.numpy(), want_image[..., ::-1].transpose(2, 0, 1))
    np.testing.assert_array_equal(label.numpy(), want_label.astype(np.int64))
    assert size == (30, 43)
    # without the first resize the pixels differ (two resamplings, not one)
    direct = dataset.augmentation.draw(30, 43, augmentation_rng(7, 2, 0))
    once, _ = dataset.augmentation.apply(
        smooth_image(30, 43), dataset.labels.map(raw), direct, dataset.labels
    )
    assert not np.array_equal(image.numpy(), once[..., ::-1].transpose(2, 0, 1))


def test_pascal_context_keeps_the_image_as_read_by_default(tmp_path):
    """pytorch-v1.1 and the OCR branch before 2021 (the released checkpoints)."""
    raw = np.full((30, 43), 1, np.uint8)
    dataset_for(tmp_path, "pascal_ctx", 59, raw)
    dataset = datasets.build_dataset(config("pascal_ctx", tmp_path, 59, test_set="val.lst"), "test")
    image, _, size, _ = dataset[0]
    np.testing.assert_array_equal(image.numpy(), smooth_image(30, 43)[..., ::-1].transpose(2, 0, 1))
    assert dataset.prediction_crop(size) is None


@pytest.mark.parametrize("name, num_classes, options", SHORT_SIDE_DATASETS)
def test_validation_takes_a_random_crop_of_the_short_side_resized_image(
    tmp_path, name, num_classes, options
):
    """The OCR branch's 'val' item: `resize_short_length(fit_stride=8)` to TEST.BASE_SIZE (40),
    then `rand_crop` to TEST.IMAGE_SIZE (24x40), drawn anew each epoch."""
    raw = np.repeat(np.array([1, 2, 3], np.uint8), [10, 12, 8])[:, None].repeat(43, 1)
    dataset_for(tmp_path, name, num_classes, raw)
    cfg = config(name, tmp_path, num_classes, "train.lst", "val.lst", *options)
    dataset = datasets.build_dataset(cfg, "val")
    resized = cv2.resize(smooth_image(30, 43), (57, 40), interpolation=cv2.INTER_LINEAR)
    padded = cv2.copyMakeBorder(resized, 0, 0, 0, 7, cv2.BORDER_CONSTANT, value=(104, 116, 124))
    classes = cv2.resize(dataset.labels.map(raw), (57, 40), interpolation=cv2.INTER_NEAREST)
    classes = cv2.copyMakeBorder(classes, 0, 0, 0, 7, cv2.BORDER_CONSTANT, value=255)
    offsets = set()
    for epoch in range(6):
        image, label, _, _ = dataset[(0, 304, epoch)]
        rng = augmentation_rng(304, epoch, 0)
        x0, y0 = int(rng.integers(0, 64 - 40 + 1)), int(rng.integers(0, 40 - 24 + 1))
        want = padded[y0 : y0 + 24, x0 : x0 + 40]
        np.testing.assert_array_equal(image.numpy(), want[..., ::-1].transpose(2, 0, 1))
        np.testing.assert_array_equal(label.numpy(), classes[y0 : y0 + 24, x0 : x0 + 40])
        offsets.add((y0, x0))
    assert len(offsets) > 1  # another crop in another epoch
