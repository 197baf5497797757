"""The base dataset: lists, reading, label tables, augmentation, errors, build_dataset."""

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import datasets
from datasets import BaseDataset, normalize
from datasets.transforms import scale_crop
from helpers.dataset_files import blocks, config, smooth_image, write_pairs, write_png
from utils.errors import ConfigError, DataError


def base(root, list_name="train.lst", num_classes=4, **kwargs):
    options = {"crop_size": (24, 32), "base_size": 40, "ignore_label": 255}
    return BaseDataset(root, list_name, num_classes, **{**options, **kwargs})


def one_pair(root, height=20, width=30, values=(0, 1, 2, 3), **kwargs):
    label = blocks(values, height, width)
    pairs = [("img/a.png", smooth_image(height, width), "lbl/a.png", label)]
    return write_pairs(root, pairs, **kwargs), label


def reference(dataset, image, label, params):
    """The original algorithm: cv2.resize the whole image, pad bottom/right, slice, mirror."""
    new_h, new_w = params["size"]
    crop_h, crop_w = dataset.crop_size
    image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    label = cv2.resize(label, (new_w, new_h), interpolation=cv2.INTER_NEAREST)
    pad_h, pad_w = max(crop_h - new_h, 0), max(crop_w - new_w, 0)
    image = cv2.copyMakeBorder(
        image, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=(0, 0, 0)
    )  # the original pad_image: black image, ignored label
    label = cv2.copyMakeBorder(label, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=255)
    y, x = params["offset"]
    image, label = image[y : y + crop_h, x : x + crop_w], label[y : y + crop_h, x : x + crop_w]
    if params["flip"]:
        image, label = image[:, ::-1], label[:, ::-1]
    return image, label


def test_normalize_matches_the_imagenet_formula_and_keeps_its_input():
    images = torch.randint(0, 256, (2, 3, 4, 5), dtype=torch.uint8)
    mean = torch.tensor(datasets.IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(datasets.IMAGENET_STD).view(3, 1, 1)
    expected = (images.float() / 255 - mean) / std
    assert torch.allclose(normalize(images), expected, atol=1e-5)
    floats = images.float()
    normalize(floats)
    assert torch.equal(floats, images.float())


@pytest.mark.parametrize("trailing_slash", [False, True])
def test_list_with_tabs_blank_lines_and_non_ascii_paths(tmp_path, trailing_slash):
    image, label = smooth_image(20, 30), blocks((0, 1, 255), 20, 30)
    pairs = [
        ("städte/bild_ü.png", image, "städte/label_ü.png", label),
        ("b.png", image, "b_label.png", label),
    ]
    list_file = write_pairs(tmp_path, pairs, sep="\t")
    list_file.write_text("\n" + list_file.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")
    root = str(tmp_path) + ("/" if trailing_slash else "")
    dataset = base(root, mode="val")
    assert len(dataset) == 2 and dataset.labelled and dataset.samples[0].line == 2
    image_t, label_t, size, name = dataset[0]
    assert image_t.dtype == torch.uint8 and image_t.shape == (3, 20, 30)
    assert torch.equal(image_t, torch.from_numpy(image[:, :, ::-1].transpose(2, 0, 1).copy()))
    assert label_t.dtype == torch.int64 and torch.equal(label_t, torch.from_numpy(label).long())
    assert size == (20, 30) and name == "label_ü"  # the label's stem, as the original


def test_prediction_names_are_label_stems_and_never_shared(tmp_path):
    image, label = smooth_image(20, 30), blocks((0, 1, 255), 20, 30)
    pairs = [
        ("s1/img/x.png", image, "s1/lab/x.png", label),
        ("s2/img/x.png", image, "s2/lab/x.png", label),
        ("s2/img/y.png", image, "s2/lab/y_label.png", label),
    ]
    write_pairs(tmp_path, pairs)
    names = [sample.name for sample in base(tmp_path, mode="val").samples]
    assert names == ["s1/lab/x", "s2/lab/x", "y_label"]


def test_train_sample_has_crop_shape_and_dtypes(tmp_path):
    one_pair(tmp_path)
    for epoch in range(5):
        image, label, size, _ = base(tmp_path)[0, 0, epoch]
        assert image.shape == (3, 24, 32) and image.dtype == torch.uint8
        assert label.shape == (24, 32) and label.dtype == torch.int64
        assert size == (20, 30)
        assert set(label.unique().tolist()) <= {0, 1, 2, 3, 255}


def test_scale_crop_equals_resize_pad_and_crop(tmp_path):
    _, label = one_pair(tmp_path, height=30, width=44, values=(0, 1, 2, 3))
    image = smooth_image(30, 44)
    dataset = base(tmp_path, base_size=44, scale_factor=16, crop_size=(24, 32))
    rng = np.random.default_rng(3)
    agreement = []
    for _ in range(40):
        params = dataset.augmentation.draw(30, 44, rng)
        got_image, got_label = scale_crop(
            image.copy(),
            label.copy(),
            params["size"],
            params["offset"],
            params["flip"],
            dataset.crop_size,
            dataset.labels.ignore_value,
        )
        want_image, want_label = reference(dataset, image, label, params)
        assert np.abs(got_image.astype(int) - want_image).max() <= 2, params
        agreement.append((got_label == want_label).mean())
    assert min(agreement) > 0.95 and np.mean(agreement) > 0.99


def test_crop_pads_with_black_and_ignore_as_the_original(tmp_path):
    one_pair(tmp_path)
    dataset = base(tmp_path, crop_size=(24, 32), ignore_label=-1)
    raw_image = smooth_image(20, 30)
    _, raw_label = one_pair(tmp_path)
    label = dataset.labels.map(raw_label)
    params = {"size": (10, 15), "offset": (0, 0), "flip": False, "shift": 0}
    image, label = dataset.augmentation.apply(raw_image, label, params, dataset.labels)
    assert image.shape == (24, 32, 3) and label.shape == (24, 32)
    assert (image[10:] == 0).all() and (image[:, 15:] == 0).all()  # pad_image's value 0
    assert (label[10:] == dataset.labels.ignore_value).all() and (label[:, 15:] == 255).all()
    assert (label[:10, :15] < 4).all()
    tensor = dataset.labels.to_tensor(label, dataset.ignore_label)
    assert (tensor[10:] == -1).all() and (tensor[:10, :15] >= 0).all()
    flipped, flipped_label = dataset.augmentation.apply(
        raw_image, dataset.labels.map(raw_label), {**params, "flip": True}, dataset.labels
    )
    assert (flipped_label[:, :17] == 255).all() and (flipped[:, :17] == 0).all()


def test_brightness_shift_saturates_and_downsample_halves_the_label(tmp_path):
    one_pair(tmp_path)
    dataset = base(tmp_path, crop_size=(20, 30), downsample_rate=2)
    image = np.full((20, 30, 3), 250, np.uint8)
    label = np.zeros((20, 30), np.uint8)
    params = {"size": (20, 30), "offset": (0, 0), "flip": False, "shift": 10}
    out, out_label = dataset.augmentation.apply(image, label, params, dataset.labels)
    assert (out == 255).all() and out_label.shape == (10, 15)
    out, _ = dataset.augmentation.apply(image, label, {**params, "shift": -10}, dataset.labels)
    assert (out == 240).all()


def test_random_brightness_is_drawn_only_when_enabled(tmp_path):
    one_pair(tmp_path)
    rng = np.random.default_rng(1)
    assert all(base(tmp_path).augmentation.draw(20, 30, rng)["shift"] == 0 for _ in range(20))
    bright = base(tmp_path, random_brightness=True, brightness_shift=10)
    shifts = [bright.augmentation.draw(20, 30, rng)["shift"] for _ in range(40)]
    assert any(shifts) and all(-10 <= s <= 10 for s in shifts)


def test_center_crop_resizes_the_long_side_then_cuts_the_middle(tmp_path):
    one_pair(tmp_path, height=20, width=30)
    dataset = base(tmp_path, mode="val", center_crop=True, base_size=60, crop_size=(16, 16))
    image, label, size, _ = dataset[0]
    assert image.shape == (3, 16, 16) and label.shape == (16, 16) and size == (20, 30)


def test_palette_and_16_bit_labels(tmp_path):
    image = smooth_image(6, 8)
    values = np.array([[0, 1, 2, 3] * 2] * 6, np.uint8)
    write_png(tmp_path / "a.png", image)
    palette = Image.fromarray(values, mode="P")
    palette.putpalette([v for i in range(256) for v in (i, 255 - i, 0)])
    palette.save(tmp_path / "p.png")
    write_png(tmp_path / "w.png", values.astype(np.uint16))
    (tmp_path / "val.lst").write_text("a.png p.png\na.png w.png\n")
    dataset = base(tmp_path, "val.lst", mode="val")
    assert torch.equal(dataset[0][1], torch.from_numpy(values).long())
    assert torch.equal(dataset[1][1], torch.from_numpy(values).long())


def test_unknown_label_value_names_the_file_line_and_value(tmp_path):
    one_pair(tmp_path, values=(0, 1, 7))
    with pytest.raises(ValueError, match=r"train\.lst:1: label .*a\.png has value\(s\) 7 "):
        base(tmp_path, mode="val")[0]


def test_missing_files_are_found_when_the_dataset_is_built(tmp_path):
    one_pair(tmp_path)
    with open(tmp_path / "train.lst", "a") as f:
        f.write("img/missing.png lbl/a.png\n")
        for k in range(7):
            f.write(f"img/a.png lbl/gone{k}.png\n")
    pattern = r"train\.lst: 8 listed file\(s\) do not exist: line 2 image .*missing\.png; line 3"
    with pytest.raises(DataError, match=pattern) as error:
        base(tmp_path)
    assert str(error.value).count("line ") == 5 and "gone4" not in str(error.value)


def test_unreadable_image_names_the_list_line_and_path(tmp_path):
    one_pair(tmp_path)
    dataset = base(tmp_path)
    (tmp_path / "img" / "a.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"train\.lst:1: image .*a\.png cannot be decoded"):
        dataset[0]


def test_list_errors(tmp_path):
    with pytest.raises(DataError, match="list file .*nothing.lst does not exist"):
        base(tmp_path, "nothing.lst")
    (tmp_path / "empty.lst").write_text("\n  \n")
    with pytest.raises(ValueError, match=r"list file .*empty\.lst is empty"):
        base(tmp_path, "empty.lst")
    (tmp_path / "test.lst").write_text("a.png\n")
    with pytest.raises(ValueError, match=r"test\.lst:1: expected 'image label'"):
        base(tmp_path, "test.lst", mode="val")
    (tmp_path / "mixed.lst").write_text("a.png a_label.png\nb.png\n")
    with pytest.raises(ValueError, match=r"mixed\.lst:2: has no label, unlike line 1"):
        base(tmp_path, "mixed.lst", mode="test")


def test_label_and_image_of_different_sizes(tmp_path):
    pairs = [("a.png", smooth_image(10, 12), "b.png", np.zeros((10, 11), np.uint8))]
    write_pairs(tmp_path, pairs)
    with pytest.raises(ValueError, match=r"train\.lst:1: label .*b\.png is 11x10 but image"):
        base(tmp_path)[0]


def test_settings_checked_at_construction(tmp_path):
    one_pair(tmp_path)
    with pytest.raises(ConfigError, match="IGNORE_LABEL 2 is a class index"):
        base(tmp_path, ignore_label=2)
    with pytest.raises(ConfigError, match="CLASS_WEIGHTS has 2 values for 4 classes"):
        base(tmp_path, class_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="mode must be one of"):
        base(tmp_path, mode="testval")
    assert base(tmp_path).class_names == ("0", "1", "2", "3")


def test_save_prediction_writes_the_raw_ids(tmp_path):
    one_pair(tmp_path)
    dataset = base(tmp_path)
    path = dataset.save_prediction(np.array([[0, 3]], np.uint8), "städte_a", tmp_path / "out")
    saved = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    assert path.name == "städte_a.png" and saved.tolist() == [[0, 3]]


def test_build_dataset_maps_the_config(tmp_path):
    one_pair(tmp_path, list_name="train.lst")
    one_pair(tmp_path, list_name="val.lst")
    with open(tmp_path / "val.lst", "a") as f:
        f.write("img/a.png lbl/a.png\n")
    cfg = config(
        "lip", tmp_path, 20, "train.lst", "val.lst", "TRAIN.DOWNSAMPLERATE", "2",
        "TRAIN.FLIP", "False", "TEST.NUM_SAMPLES", "1", "TRAIN.RANDOM_BRIGHTNESS", "True",
    )  # fmt: skip
    train = datasets.build_dataset(cfg, "train")
    assert train.crop_size == (24, 32) and train.base_size == 40 and not train.augmentation.flip
    assert (
        train.augmentation.downsample_rate == 2
        and train.augmentation.random_brightness
        and train.ignore_label == 255
    )
    assert train[0][1].shape == (12, 16)
    val = datasets.build_dataset(cfg, "val")
    assert val.mode == "val" and len(val) == 1 and val.crop_size == (24, 40)
    assert len(datasets.build_dataset(cfg, "test")) == 2
    with pytest.raises(ConfigError, match="EXTRA_TRAIN_SET is empty"):
        datasets.build_dataset(cfg, "extra_train")
    extra = config(
        "lip", tmp_path, 20, "train.lst", "val.lst", "DATASET.EXTRA_TRAIN_SET", "val.lst"
    )
    assert len(datasets.build_dataset(extra, "extra_train")) == 2
    with pytest.raises(ValueError, match="split must be one of train, extra_train, val, test"):
        datasets.build_dataset(cfg, "testval")


def test_list_inputs_spread_over_the_list_normalised_and_resized(tmp_path):
    images = [smooth_image(20, 30, seed) for seed in range(5)]
    label = blocks([0, 1], 20, 30)
    pairs = [(f"img/{i}.png", image, f"lbl/{i}.png", label) for i, image in enumerate(images)]
    write_pairs(tmp_path, pairs, list_name="val.lst")
    cfg = config("cityscapes", tmp_path, 19)  # test images as read (LIP would squash them)

    def network_input(bgr):
        return normalize(torch.from_numpy(bgr[:, :, ::-1].copy()).permute(2, 0, 1)[None])

    inputs = list(datasets.list_inputs(cfg, "val.lst", 3, (16, 24)))
    assert [tuple(x.shape) for x in inputs] == [(1, 3, 16, 24)] * 3
    for x, index in zip(inputs, (0, 2, 4), strict=True):
        expected = F.interpolate(network_input(images[index]), size=(16, 24), mode="bilinear")
        torch.testing.assert_close(x, expected)
    unresized = next(datasets.list_inputs(cfg, "val.lst", 1, (20, 30)))
    torch.testing.assert_close(unresized, network_input(images[0]))
    assert len(list(datasets.list_inputs(cfg, "val.lst", 50, (20, 30)))) == 5


def test_unknown_dataset_lists_the_known_ones(tmp_path):
    cfg = config("cityscape", tmp_path, 19)
    with pytest.raises(ConfigError, match="unknown DATASET.DATASET 'cityscape'.*cityscapes"):
        datasets.build_dataset(cfg, "train")


def test_wrong_number_of_classes(tmp_path):
    one_pair(tmp_path)
    with pytest.raises(ConfigError, match="LIP has 20 classes; DATASET.NUM_CLASSES is 19"):
        datasets.build_dataset(config("lip", tmp_path, 19), "train")


def test_tab_separated_names_with_spaces_and_gbk_lists(tmp_path):
    pairs = [
        ("my images/a b.png", smooth_image(20, 30), "my labels/a b.png", blocks((0, 1), 20, 30)),
        ("商店/图 1.png", smooth_image(20, 30), "标注/图 1.png", blocks((2, 3), 20, 30)),
    ]
    list_file = write_pairs(tmp_path, pairs, sep="\t")
    list_file.write_bytes(list_file.read_text(encoding="utf-8").encode("gbk"))
    dataset = base(tmp_path, mode="val")
    assert [s.name for s in dataset.samples] == ["a b", "图 1"]
    assert set(dataset[1][1].unique().tolist()) <= {2, 3}
    list_file.write_text("my images/a b.png my labels/a b.png\n")
    with pytest.raises(DataError, match=r"line 1 image .*my; .*separate the columns with a tab"):
        base(tmp_path, mode="val")


def test_label_files_that_are_not_labels_say_what_they_look_like(tmp_path):
    label = blocks((0, 1, 2), 20, 30)
    one_pair(tmp_path)
    write_png(tmp_path / "lbl/a.png", np.dstack([label] * 3))
    with pytest.raises(DataError, match=r"a\.png is an RGB image whose three channels are equal"):
        base(tmp_path, mode="val")[0]
    write_png(tmp_path / "lbl/a.png", smooth_image(20, 30))
    with pytest.raises(DataError, match=r"a\.png is a colour image \(3 channels\); expected one"):
        base(tmp_path, mode="val")[0]
    (tmp_path / "lbl/a.png").write_bytes(cv2.imencode(".jpg", label)[1].tobytes())
    with pytest.raises(DataError, match=r"label .*a\.png is a JPEG file: JPEG compression"):
        base(tmp_path, mode="val")[0]


def test_swapped_columns_are_named(tmp_path):
    one_pair(tmp_path)
    (tmp_path / "train.lst").write_text("lbl/a.png img/a.png\n")
    with pytest.raises(DataError, match=r"has one channel, as a label has: are the two columns"):
        base(tmp_path, mode="val")[0]


def test_many_invalid_values_suggest_a_lossy_label(tmp_path):
    noisy = (np.arange(20 * 30).reshape(20, 30) % 40).astype(np.uint8)  # 0..39 for 4 classes
    one_pair(tmp_path)
    write_png(tmp_path / "lbl/a.png", noisy)
    with pytest.raises(DataError, match=r"36 different values: a label saved as JPEG or resized"):
        base(tmp_path, mode="val")[0]


def test_augmentation_is_a_function_of_seed_epoch_and_index(tmp_path):
    values = (0, 1, 2, 3)
    pairs = [
        (f"img/{k}.png", smooth_image(20, 30, k), f"lbl/{k}.png", blocks(values, 20, 30, k))
        for k in range(3)
    ]
    write_pairs(tmp_path, pairs)
    dataset = base(tmp_path, base_size=30, scale_factor=10)
    first = [dataset[k, 5, 2] for k in (2, 0, 1)]
    again = [dataset[k, 5, 2] for k in (0, 1, 2)]
    for a, b in zip(first, [again[2], again[0], again[1]], strict=True):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    images = {tuple(dataset[0, 5, epoch][0].flatten()[:50].tolist()) for epoch in range(6)}
    assert len(images) > 1  # other epochs draw other crops


def test_without_multi_scale_the_whole_image_is_used_as_the_original(tmp_path):
    """The original gen_sample without MULTI_SCALE: no rescale, no padding, no crop; a flip
    mirrors the whole image."""
    _, raw_label = one_pair(tmp_path)
    raw_image = smooth_image(20, 30)
    dataset = base(tmp_path, multi_scale=False)
    label = dataset.labels.map(raw_label)
    rng = np.random.default_rng(0)
    draws = [dataset.augmentation.draw(20, 30, rng) for _ in range(8)]
    assert {d["flip"] for d in draws} == {True, False}
    for params in draws:
        image, got = dataset.augmentation.apply(raw_image, label, params, dataset.labels)
        expected_image, expected = (raw_image, label)
        if params["flip"]:
            expected_image, expected = raw_image[:, ::-1], label[:, ::-1]
        np.testing.assert_array_equal(image, expected_image)
        np.testing.assert_array_equal(got, expected)
    image, label, _, _ = dataset[0, 0, 3]
    assert image.shape == (3, 20, 30) and label.shape == (20, 30)  # not the 24x32 crop
