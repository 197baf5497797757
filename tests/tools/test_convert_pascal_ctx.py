"""tools/convert_pascal_ctx.py: Detail-API JSON -> the label PNGs and lists of pascal_ctx."""

import json

import cv2
import numpy as np
import pytest

import datasets
from config import load_config
from datasets.pascal_ctx import CATEGORY_IDS
from helpers.tools import load_tool
from utils.errors import UserError

convert_pascal_ctx = load_tool("convert_pascal_ctx")

VOC = "VOCdevkit/VOC2010"
CAR, SKY = 59, 360  # Detail category ids of "car" and "sky"
LABELS = f"{VOC}/SegmentationClassContext"


def rectangle(x0, y0, x1, y1):
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def write_detail(root, annotations):
    """Two 8x10 images (the second without height/width: read from the JPEG) and the JSON."""
    images = [
        {"image_id": 1, "file_name": "2008_000001.jpg", "phase": "train", "height": 8, "width": 10},
        {"image_id": 2, "file_name": "2008_000002.jpg", "phase": "val"},
    ]
    for image in images:
        path = root / VOC / "JPEGImages" / image["file_name"]
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), np.full((8, 10, 3), 128, np.uint8))
    categories = [{"category_id": CAR, "name": "car"}, {"category_id": SKY, "name": "sky"}]
    data = {"images": images, "annotations": annotations, "categories": categories}
    (root / VOC / "trainval_merged.json").write_text(json.dumps(data))


def read(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def test_polygons_become_label_pngs_and_lists(tmp_path, capsys):
    root = tmp_path / "pascal_ctx"
    write_detail(
        root,
        [
            {"image_id": 1, "category_id": SKY, "segmentation": rectangle(0, 0, 9, 3)},
            {"image_id": 1, "category_id": CAR, "segmentation": rectangle(2, 2, 5, 6)},
            {"image_id": 2, "category_id": CAR, "segmentation": rectangle(0, 0, 1, 1)},
        ],
    )
    assert convert_pascal_ctx.main(["--root", str(root), "--quiet"]) == 0
    assert "train: 1 images" in capsys.readouterr().out
    car, sky = CATEGORY_IDS.index(CAR), CATEGORY_IDS.index(SKY)
    label = read(root / LABELS / "2008_000001.png")
    assert label.shape == (8, 10) and label[0, 0] == sky and label[7, 9] == 0
    assert label[3, 3] == car  # painted after the sky: the later annotation wins
    lines = (root / "train.lst").read_text().split()
    assert lines == [f"{VOC}/JPEGImages/2008_000001.jpg", f"{LABELS}/2008_000001.png"]

    opts = ["DATASET.DATASET", "pascal_ctx", "DATASET.ROOT", str(tmp_path)]
    opts += ["DATASET.NUM_CLASSES", "60", "DATASET.TRAIN_SET", "train", "DATASET.TEST_SET", "val"]
    opts += ["TEST.VAL_PREPARATION", "whole"]  # the labels as written
    val = datasets.build_dataset(load_config(None, opts), "val")
    _, label, size, _ = val[0]
    assert size == (8, 10) and label[0, 0] == car and label[7, 9] == 0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools vs NumPy 2 __array__
def test_rle_segmentation(tmp_path):
    mask_utils = pytest.importorskip("pycocotools.mask")
    mask = np.zeros((8, 10), np.uint8)
    mask[1:4, 2:7] = 1
    compressed = mask_utils.encode(np.asfortranarray(mask))
    compressed["counts"] = compressed["counts"].decode("ascii")
    flat = mask.flatten(order="F")  # uncompressed RLE: run lengths, column-major, zeros first
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]])
    runs = np.diff(bounds).tolist()
    root = tmp_path / "pascal_ctx"
    write_detail(
        root,
        [
            {"image_id": 1, "category_id": CAR, "segmentation": compressed},
            {"image_id": 2, "category_id": SKY, "segmentation": {"size": [8, 10], "counts": runs}},
        ],
    )
    convert_pascal_ctx.main(["--root", str(root), "--quiet"])
    for name, category in (("2008_000001", CAR), ("2008_000002", SKY)):
        label = read(root / LABELS / f"{name}.png")
        assert np.array_equal(label, mask * CATEGORY_IDS.index(category))


def test_unknown_category_and_missing_json(tmp_path):
    root = tmp_path / "pascal_ctx"
    write_detail(root, [{"image_id": 1, "category_id": 3, "segmentation": rectangle(0, 0, 1, 1)}])
    with pytest.raises(ValueError, match="2008_000001.jpg: category_id 3 is not one of the 59"):
        convert_pascal_ctx.main(["--root", str(root), "--quiet"])
    with pytest.raises(UserError, match="annotation file .*nothing.json does not exist"):
        convert_pascal_ctx.main(["--root", str(root), "--json", str(tmp_path / "nothing.json")])


def test_help():
    with pytest.raises(SystemExit) as exit_info:
        convert_pascal_ctx.parse_args(["--help"])
    assert exit_info.value.code == 0
