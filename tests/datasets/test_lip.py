"""LIP: left/right classes swap under a horizontal flip; images are squashed to the crop."""

import cv2
import numpy as np
import pytest

import datasets
from datasets.lip import FLIP_PAIRS
from helpers.dataset_files import config, smooth_image, write_pairs
from utils.errors import DataError


@pytest.fixture
def lip(tmp_path):
    label = np.zeros((16, 24), np.uint8)
    label[:, :4] = 14  # left arm on the left
    label[:, 4:8] = 16  # left leg
    label[:, 8:12] = 19  # right shoe
    label[:, 12:] = 5
    pairs = [("train_images/1.png", smooth_image(16, 24), "train_segmentations/1.png", label)]
    write_pairs(tmp_path / "lip", pairs, list_name="trainList.txt")
    (tmp_path / "lip" / "trainList.txt").write_text(
        "train_images/1.png train_segmentations/1.png 1\n"  # the third column is ignored
    )
    cfg = config("lip", tmp_path, 20, "lip/trainList.txt", "lip/trainList.txt")
    return datasets.build_dataset(cfg, "train"), label


def test_flip_swaps_the_left_and_right_classes(lip):
    dataset, raw = lip
    assert dataset.flip_pairs == FLIP_PAIRS == ((14, 15), (16, 17), (18, 19))
    label = dataset.labels.map(raw)
    params = {"size": (24, 32), "offset": (0, 0), "flip": True, "shift": 0}
    _, flipped = dataset.augmentation.apply(smooth_image(16, 24), label, params, dataset.labels)
    # 24 -> 32 columns: the left 4 source columns land in output columns 27..31 after mirroring.
    assert set(np.unique(flipped[:, -4:])) == {15}
    assert set(np.unique(flipped[:, 16:20])) == {18}
    assert set(np.unique(flipped[:, 22:24])) == {17}
    _, kept = dataset.augmentation.apply(
        smooth_image(16, 24), label, {**params, "flip": False}, dataset.labels
    )
    assert set(np.unique(kept[:, :4])) == {14}


def test_training_squashes_to_the_crop_before_rescaling(lip):
    dataset, _ = lip
    params = dataset.augmentation.draw(16, 24, np.random.default_rng(0))
    new_h, new_w = params["size"]
    # The 16x24 image (2:3) takes the 24x32 crop's aspect (3:4) before the random rescale.
    assert abs(new_h / new_w - 24 / 32) < 0.02
    image, label, size, _ = dataset[0]
    assert image.shape == (3, 24, 32) and label.shape == (24, 32) and size == (16, 24)


def test_missing_training_list_says_how_to_write_it(tmp_path):
    cfg = config("lip", tmp_path, 20, "list/lip/trainList.txt", "list/lip/valList.txt")
    with pytest.raises(DataError, match="trainList.txt is not shipped") as error:
        datasets.build_dataset(cfg, "train")
    message = str(error.value)
    assert str(tmp_path / "list/lip/trainList.txt") in message
    assert "'train_images/<id>.jpg train_segmentations/<id>.png' line per training image" in message


def test_testing_squashes_the_image_to_the_crop_and_keeps_the_label(lip, tmp_path):
    """The original LIP `testval`: cv2.resize of the image to the crop, the label as read."""
    _, raw = lip
    cfg = config("lip", tmp_path, 20, "lip/trainList.txt", "lip/trainList.txt")
    dataset = datasets.build_dataset(cfg, "test")
    image, label, size, _ = dataset[0]
    expected = cv2.resize(smooth_image(16, 24), (40, 24), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(image.numpy(), expected[..., ::-1].transpose(2, 0, 1))
    assert label.shape == raw.shape == (16, 24) and size == (16, 24)
    assert dataset.prediction_crop(size) is None


def test_validation_squashes_image_and_label_to_the_crop_as_the_original(lip, tmp_path):
    """The original LIP 'val' item: image and label resized to the crop (TEST.IMAGE_SIZE);
    TEST.VAL_PREPARATION whole keeps them as read."""
    dataset, raw = lip
    cfg = config("lip", tmp_path, 20, "lip/trainList.txt", "lip/trainList.txt")
    image, label, _, _ = datasets.build_dataset(cfg, "val")[0]
    expected = cv2.resize(smooth_image(16, 24), (40, 24), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(image.numpy(), expected[..., ::-1].transpose(2, 0, 1))
    classes = cv2.resize(dataset.labels.map(raw), (40, 24), interpolation=cv2.INTER_NEAREST)
    np.testing.assert_array_equal(label.numpy(), classes)
    whole = config("lip", tmp_path, 20, "lip/trainList.txt", "lip/trainList.txt",
                   "TEST.VAL_PREPARATION", "whole")  # fmt: skip
    assert datasets.build_dataset(whole, "val")[0][0].shape == (3, 16, 24)


def _original_lip_training(image, label, params, labels, crop_size):
    """The original LIP item: mirrored as read (left/right swapped), squashed to the crop,
    rescaled (long side), padded bottom / right (black, ignore), cropped."""
    if params["flip"]:
        image, label = image[:, ::-1], labels.flip(label[:, ::-1])
    (crop_h, crop_w), (new_h, new_w), (y0, x0) = crop_size, params["size"], params["offset"]
    for size in ((crop_w, crop_h), (new_w, new_h)):
        image = cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_LINEAR)
        label = cv2.resize(np.ascontiguousarray(label), size, interpolation=cv2.INTER_NEAREST)
    pad = ((0, max(crop_h - new_h, 0)), (0, max(crop_w - new_w, 0)))
    image = np.pad(image, (*pad, (0, 0)))
    label = np.pad(label, pad, constant_values=labels.ignore_value)
    return image[y0 : y0 + crop_h, x0 : x0 + crop_w], label[y0 : y0 + crop_h, x0 : x0 + crop_w]


def test_training_mirrors_squashes_then_rescales_as_the_original(lip):
    dataset, _ = lip
    rng = np.random.default_rng(5)
    raw = rng.choice([0, 5, 14, 15, 16, 17, 18, 19], (4, 6)).astype(np.uint8)
    label = dataset.labels.map(cv2.resize(raw, (24, 16), interpolation=cv2.INTER_NEAREST))
    image = smooth_image(16, 24)
    draws = [{"size": (17, 23), "offset": (0, 0), "flip": True, "shift": 0}]  # padded
    draws += [dataset.augmentation.draw(16, 24, rng) for _ in range(20)]
    assert {d["flip"] for d in draws} == {True, False}
    for params in draws:
        got_image, got_label = dataset.augmentation.apply(image, label, params, dataset.labels)
        want_image, want_label = _original_lip_training(
            image, label, params, dataset.labels, dataset.crop_size
        )
        np.testing.assert_array_equal(got_label, want_label, err_msg=str(params))
        assert np.abs(got_image.astype(int) - want_image).max() <= 2, params
    # The flipped, downscaled draw keeps its padding on the right, as the original's.
    _, padded = dataset.augmentation.apply(image, label, draws[0], dataset.labels)
    assert (padded[:, 23:] == 255).all() and (padded[:17, :23] != 255).all()
