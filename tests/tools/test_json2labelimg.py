"""tools/json2labelImg.py: polygons land on the right pixels (labelme, Cityscapes, daodixian)."""

import json

import numpy as np

from datatools.polygons import detect_format
from helpers.label_data import SQUARE, TABLE, box, labelme
from helpers.tools import load_tool
from utils.image_io import read_image, read_label, write_image

json2labelImg = load_tool("json2labelImg")


def test_tool_converts_a_folder_of_labelme_and_cityscapes(tmp_path):
    folder = tmp_path / "标注"
    folder.mkdir()
    (tmp_path / "colorMap.txt").write_text(TABLE, encoding="utf-8")
    (folder / "图1.json").write_text(json.dumps(labelme([{"label": "wall", "points": SQUARE}])))
    city = {"imgHeight": 6, "imgWidth": 8, "objects": [{"label": "sky", "polygon": SQUARE}]}
    (folder / "x_gtFine_polygons.json").write_text(json.dumps(city))
    out = tmp_path / "out"
    json2labelImg.main(
        [str(folder), "--out", str(out), "--color-map", str(tmp_path / "colorMap.txt"), "--quiet"]
    )
    np.testing.assert_array_equal(read_label(out / "图1.png"), box(6, 8, (1, 3), (2, 5), 2, 255))
    np.testing.assert_array_equal(
        read_label(out / "x_gtFine_labelIds.png"), box(6, 8, (1, 3), (2, 5), 23, 0)
    )


def daodixian_job(count):
    """`count` annotated items (one normalised box each) and one without results."""
    poly = [[0.1, 0.2], [0.5, 0.2], [0.5, 0.6], [0.1, 0.6]]
    items = [{"uris": [f"bucket/img{i}.jpeg"], "results": {"polys": [{"poly": poly}]}}
             for i in range(count)]  # fmt: skip
    items.insert(3, {"uris": ["bucket/empty.jpeg"], "results": {}})
    items[0]["results"]["polys"] = [{"poly": [[0.9, 0.0], [1.5, 0.0], [1.5, 2.0], [0.9, 2.0]]}]
    return {"items": items}


def test_tool_converts_a_daodixian_job(tmp_path):
    images = tmp_path / "图像"
    for i in range(9):
        write_image(images / f"img{i}.jpeg", np.zeros((10, 20, 3), np.uint8))
    job = tmp_path / "job-1.json"
    job.write_text(json.dumps(daodixian_job(9)))
    assert detect_format(json.loads(job.read_text()), "job") == "daodixian"
    save, lists = tmp_path / "daodixian_seg", tmp_path / "list"
    json2labelImg.main(
        [str(job), "--image-root", str(images), "--save-dir", str(save)]
        + ["--list-dir", str(lists), "--copy-images", "--quiet"]
    )
    val = (lists / "val_1209.lst").read_text().splitlines()
    assert val == ["val_1209/images/img7.jpeg  val_1209/annotations/img7.png"]  # 8th annotated
    train = (lists / "train_1209.lst").read_text().splitlines()
    assert len(train) == 8 and train[0] == (
        "train_1209/images/img0.jpeg  train_1209/annotations/img0.png"
    )
    # x 0.1..0.5 of 20 -> columns 2..10, y 0.2..0.6 of 10 -> rows 2..6
    expected = box(10, 20, (2, 6), (2, 10), 1, 0)
    np.testing.assert_array_equal(read_label(save / "val_1209/annotations/img7.png"), expected)
    # points clamped to [0, 1]: x 0.9..1 -> columns 18..20 (clipped), y 0..1 -> every row
    clamped = box(10, 20, (0, 9), (18, 19), 1, 0)
    np.testing.assert_array_equal(read_label(save / "train_1209/annotations/img0.png"), clamped)
    assert (save / "val_1209/images/img7.jpeg").is_file()
    json2labelImg.main(
        [str(job), "--image-root", str(images), "--save-dir", str(save), "--encoding", "color"]
        + ["--list-dir", str(lists), "--quiet"]
    )
    colors = read_image(save / "val_1209/annotations/annotations_color/img7.png", "rgb")
    np.testing.assert_array_equal(colors[4, 5], (220, 20, 60))
    np.testing.assert_array_equal(colors[0, 0], (0, 0, 0))
