"""panorama: raw ids through colorMap.txt, list paths as the original YAML writes them, training."""

import cv2
import numpy as np
import pytest
from PIL import Image

import datasets
from datasets.panorama_augmentation import MOTION_BLUR_KERNELS, barrel_distortion_map
from datasets.transforms import augmentation_rng
from helpers.dataset_files import blocks, config, smooth_image, train_one_epoch, write_png
from helpers.paths import REPO
from utils.errors import ConfigError, DataError

COLOR_MAP = str(REPO / "colorMap.txt")
# Raw ids of the panorama table (ground 0, wall 2, layered_shelf 10, human 40) and 255 (unknown
# colour in preprocessPanorama), which is ignored.
RAW = np.array([[0, 2, 10, 40, 255]], np.uint8)
CLASSES = [[0, 2, 9, 16, 255]]


def write_panorama(data, names, label=RAW):
    """`data/image/<name>.jpg`, `data/label/<name>.png` and `<split>_list.txt` of base names."""
    for i, name in enumerate(names):
        image = smooth_image(*label.shape[:2], seed=i)
        data.joinpath("image").mkdir(parents=True, exist_ok=True)
        cv2.imencode(".jpg", image)[1].tofile(data / "image" / f"{name}.jpg")
        write_png(data / "label" / f"{name}.png", label)
    for split in ("train", "val", "test"):
        (data / f"{split}_list.txt").write_text("".join(f"{n}\n" for n in names))


def panorama_config(root, train_set, test_set="panorama/val_list.txt", *opts):
    return config("panorama", root, 17, train_set, test_set, "DATASET.COLOR_MAP", COLOR_MAP, *opts)


def config_with_table(tmp_path, table):
    """The panorama config with the class table `table` (text) as DATASET.COLOR_MAP."""
    path = tmp_path / "colorMap.txt"
    path.write_text(table + "\n")
    lists = ("panorama/train_list.txt", "panorama/val_list.txt")
    return panorama_config(tmp_path, *lists, "DATASET.COLOR_MAP", str(path))


def test_raw_ids_map_through_the_class_table(tmp_path):
    write_panorama(tmp_path / "panorama", ["store1_a_36_50", "store1_a_72_50"])
    dataset = datasets.build_dataset(panorama_config(tmp_path, "panorama/train_list.txt"), "val")
    image, label, size, name = dataset[1]
    assert label.tolist() == CLASSES and size == (1, 5) and name == "store1_a_72_50"
    assert dataset.class_names[:3] == ("ground", "ceiling", "wall")
    assert dataset.class_names[16] == "human_or_moving_objects"


def test_an_id_outside_the_table_is_an_error_naming_file_and_value(tmp_path):
    write_panorama(tmp_path / "panorama", ["a"], label=np.array([[0, 9, 255]], np.uint8))
    dataset = datasets.build_dataset(panorama_config(tmp_path, "panorama/train_list.txt"), "val")
    with pytest.raises(DataError, match=r"val_list.txt:1: label .*a\.png has value\(s\) 9 that"):
        dataset[0]


def test_list_path_as_the_original_yaml_writes_it(tmp_path, monkeypatch):
    """ROOT 'data/', TRAIN_SET 'data/panorama/train_list.txt': relative to the working folder."""
    write_panorama(tmp_path / "data" / "panorama", ["x"])
    monkeypatch.chdir(tmp_path)
    cfg = panorama_config("data/", "data/panorama/train_list.txt", "data/panorama/val_list.txt")
    for split in ("train", "val"):
        assert datasets.build_dataset(cfg, split).samples[0].image.is_file()


def test_data_next_to_the_list_outside_root(tmp_path):
    """generate_list.py writes the lists next to image/ and label/, wherever that is."""
    write_panorama(tmp_path / "merge", ["x"])
    cfg = panorama_config(tmp_path / "elsewhere", str(tmp_path / "merge" / "train_list.txt"))
    assert datasets.build_dataset(cfg, "train").samples[0].image.parent == tmp_path / "merge/image"


def test_missing_list_and_missing_images_are_named(tmp_path):
    with pytest.raises(DataError, match="nope.txt.*DATASET.ROOT"):
        datasets.build_dataset(panorama_config(tmp_path, "nope.txt"), "train")
    (tmp_path / "train_list.txt").write_text("ghost\n")
    with pytest.raises(DataError, match="train_list.txt:1: image ghost.jpg is in none"):
        datasets.build_dataset(panorama_config(tmp_path, "train_list.txt"), "train")


def test_test_list_is_read_without_labels_and_predictions_are_raw_ids(tmp_path):
    write_panorama(tmp_path / "panorama", ["a", "b"])
    cfg = panorama_config(tmp_path, "panorama/train_list.txt", "panorama/test_list.txt")
    test_set = datasets.build_dataset(cfg, "test")
    assert not test_set.labelled and test_set[0][1].numel() == 0
    # The same names in a list not called "test" are scored.
    cfg = panorama_config(tmp_path, "panorama/train_list.txt", "panorama/val_list.txt")
    assert datasets.build_dataset(cfg, "test").labelled
    path = test_set.save_prediction(np.array([[0, 9, 16]]), "a", tmp_path / "pred")
    assert np.asarray(Image.open(path)).tolist() == [[0, 10, 40]]


def test_colour_labels_ignore_the_colours_of_id_255_and_refuse_unknown_ones(tmp_path):
    colours = np.array([[[0, 100, 100], [255, 0, 100], [1, 2, 3]]], np.uint8)  # RGB
    write_panorama(tmp_path / "panorama", ["c"], label=colours[..., ::-1])
    dataset = datasets.build_dataset(panorama_config(tmp_path, "panorama/train_list.txt"), "val")
    with pytest.raises(DataError, match=r"c\.png is a colour image .* colour\(s\) \(1, 2, 3\)"):
        dataset[0]
    cfg = config_with_table(tmp_path, (REPO / "colorMap.txt").read_text() + "ignore 255 1 2 3")
    assert datasets.build_dataset(cfg, "val")[0][1].tolist() == [[0, 16, 255]]


def test_malformed_class_table_names_the_line(tmp_path):
    write_panorama(tmp_path / "panorama", ["x"])
    cfg = config_with_table(tmp_path, "ground 0 0 100 100\nceiling 1 0 255 200\nwall 2 200 200")
    with pytest.raises(ValueError, match=r"colorMap.txt:3: expected 'name id R G B'"):
        datasets.build_dataset(cfg, "train")


def test_class_count_must_match_the_table(tmp_path):
    write_panorama(tmp_path / "panorama", ["x"])
    cfg = panorama_config(tmp_path, "panorama/train_list.txt", "x", "DATASET.NUM_CLASSES", "5")
    with pytest.raises(ConfigError, match="lists 17 classes but DATASET.NUM_CLASSES is 5"):
        datasets.build_dataset(cfg, "train")


C5 = str(REPO / "compressMap_c5.txt")


def compressed_config(root, *opts):
    return panorama_config(
        root, "panorama/train_list.txt", "panorama/test_list.txt",
        "DATASET.COMPRESS_MAP", C5, "DATASET.NUM_CLASSES", "5", *opts,
    )  # fmt: skip


def test_compress_map_merges_raw_ids_into_its_classes(tmp_path):
    """compressMap_c5.txt: ground {0}, ceiling {1, 20}, structure {2..8}, shelf {10, 11, 13, 14},
    other {15, 30, 40}."""
    write_panorama(tmp_path / "panorama", ["a"])
    dataset = datasets.build_dataset(compressed_config(tmp_path), "val")
    assert dataset[0][1].tolist() == [[0, 2, 3, 4, 255]]  # RAW: 0, 2, 10, 40, 255
    assert dataset.class_names == ("ground", "ceiling", "structure", "shelf", "other")
    # predictions: the smallest id of each class, so the ids map back to the same classes
    path = dataset.save_prediction(np.array([[0, 1, 2, 3, 4]]), "a", tmp_path / "pred")
    assert np.asarray(Image.open(path)).tolist() == [[0, 1, 2, 10, 15]]


def test_compress_map_reads_colour_labels_through_the_color_map(tmp_path):
    colours = np.array([[[0, 100, 100], [255, 200, 0], [255, 0, 100]]], np.uint8)
    write_panorama(tmp_path / "panorama", ["c"], label=colours[..., ::-1])
    dataset = datasets.build_dataset(compressed_config(tmp_path), "val")
    # ground, hanging_objects (id 20 -> ceiling), human (id 40 -> other)
    assert dataset[0][1].tolist() == [[0, 1, 4]]


def test_compress_map_class_count_and_dataset_are_checked(tmp_path):
    write_panorama(tmp_path / "panorama", ["x"])
    with pytest.raises(ConfigError, match="compressMap_c5.txt lists 5 classes but .* is 17"):
        datasets.build_dataset(compressed_config(tmp_path, "DATASET.NUM_CLASSES", "17"), "val")
    cfg = config(
        "cityscapes", tmp_path, 19, "panorama/train_list.txt", "x", "DATASET.COMPRESS_MAP", C5
    )
    with pytest.raises(ConfigError, match="DATASET.COMPRESS_MAP .* Cityscapes has its own"):
        datasets.build_dataset(cfg, "train")


@pytest.mark.parametrize(
    ("num_classes", "opts"),
    [
        (17, ()),
        (5, ("DATASET.COMPRESS_MAP", C5)),
        (5, ("DATASET.COMPRESS_MAP", C5, "DATASET.AUGMENTATION", "panorama")),
    ],
    ids=["colorMap", "compressMap_c5", "compressMap_c5-head-augmentation"],
)
def test_trains_through_tools_train(tmp_path, num_classes, opts):
    label = blocks([0, 2, 10, 40], 32, 32)
    write_panorama(tmp_path / "data" / "panorama", [f"s_{i}" for i in range(4)], label=label)
    out = train_one_epoch(
        tmp_path, "panorama", num_classes, "panorama/train_list.txt", "panorama/val_list.txt",
        "DATASET.COLOR_MAP", COLOR_MAP, *opts,
    )  # fmt: skip
    assert (out / "final_state.pth").is_file()


def original_barrel_map(h, w):
    """The fork's initialize_barrel_distortion_map, transcribed: a loop over the pixels."""
    center_x, center_y = (w - 1) / 2, (h - 1) / 2
    map_x = np.ones((h, w), dtype=np.float32) * center_x
    map_y = np.ones((h, w), dtype=np.float32) * center_y
    k1, k2 = -0.3, 0.3

    def f(r_square):
        return 1 - k1 * r_square + (3 * k1**2 - k2) * r_square**2

    max_r_square = center_x**2 + center_y**2
    for y in range(h):
        for x in range(w):
            r_square = ((x - center_x) ** 2 + (y - center_y) ** 2) / max_r_square
            map_x[y][x] += (x - center_x) * f(r_square) / f(1)
            map_y[y][x] += (y - center_y) * f(r_square) / f(1)
    return map_x, map_y


def test_barrel_distortion_map_is_the_forks():
    # The fork's `+=` on a float32 element added in float64 under NumPy 1.x and adds in float32
    # under NumPy 2: the maps may differ by a float32 ulp, far below cv2.remap's 1/32 pixel.
    for h, w in ((24, 32), (27, 41)):
        maps = zip(barrel_distortion_map(h, w), original_barrel_map(h, w), strict=True)
        for ours, original in maps:
            np.testing.assert_allclose(ours, original, rtol=0, atol=1e-5)
        assert np.abs(barrel_distortion_map(h, w)[0] - np.arange(w)).max() > 1  # not identity
    assert len(MOTION_BLUR_KERNELS) == 8 and all(k.sum() == 1 for k in MOTION_BLUR_KERNELS)


@pytest.mark.parametrize("mode", ["train", "val", "test"])
def test_the_forks_head_augmentation_blurs_and_distorts_to_the_crop(tmp_path, mode):
    """DATASET.AUGMENTATION panorama: no rescale, crop or flip; a motion blur drawn per item (or
    none) and the barrel distortion of the crop size, on every labelled item, as the fork's
    __getitem__ (its test.py scored the distorted validation images)."""
    label = np.tile(np.array([0, 2, 10, 40], np.uint8).repeat(10), (30, 1))  # 30x40
    write_panorama(tmp_path / "panorama", ["a", "b"], label=label)
    cfg = panorama_config(
        tmp_path,
        "panorama/train_list.txt",
        "panorama/val_list.txt",
        "DATASET.AUGMENTATION",
        "panorama",
        "TRAIN.IMAGE_SIZE",
        "[40, 30]",
        "TEST.IMAGE_SIZE",
        "[40, 30]",
    )
    dataset = datasets.build_dataset(cfg, mode)
    blurred = set()
    for seed in range(12):
        image, got_label, _, _ = dataset[(1, seed, 0)]
        source = cv2.imread(str(tmp_path / "panorama/image/b.jpg"))
        choice = int(augmentation_rng(seed, 0, 1).integers(0, 11))  # the fork's randint(0, 10)
        if choice < 8:
            source = cv2.filter2D(source, -1, MOTION_BLUR_KERNELS[choice])
            blurred.add(choice)
        map_x, map_y = original_barrel_map(30, 40)
        want = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR)
        np.testing.assert_array_equal(image.numpy(), want[..., ::-1].transpose(2, 0, 1))
        classes = dataset.labels.map(label)
        want_label = cv2.remap(classes, map_x, map_y, cv2.INTER_NEAREST)
        np.testing.assert_array_equal(got_label.numpy(), want_label)
    assert blurred  # some draws blurred


def test_an_unknown_augmentation_is_a_config_error(tmp_path):
    write_panorama(tmp_path / "panorama", ["a"])
    cfg = panorama_config(tmp_path, "panorama/train_list.txt", "panorama/val_list.txt",
                          "DATASET.AUGMENTATION", "fisheye")  # fmt: skip
    with pytest.raises(ConfigError, match="DATASET.AUGMENTATION is 'fisheye'"):
        datasets.build_dataset(cfg, "train")


def test_image_only_lists_are_predicted_as_they_are_with_the_forks_augmentation(tmp_path):
    write_panorama(tmp_path / "panorama", ["a"])
    cfg = panorama_config(tmp_path, "panorama/train_list.txt", "panorama/test_list.txt",
                          "DATASET.AUGMENTATION", "panorama")  # fmt: skip
    image, label, size, _ = datasets.build_dataset(cfg, "test")[0]
    source = cv2.imread(str(tmp_path / "panorama/image/a.jpg"))
    np.testing.assert_array_equal(image.numpy(), source[..., ::-1].transpose(2, 0, 1))
    assert label.numel() == 0 and size == (1, 5)
