"""tools/browse_dataset.py: label overlays of a YAML's list, polygon outlines of JSON annotations
(the power-line fork's vis_json_segment) and boxes of predicted regions (its draw_contours)."""

import csv
import json

import numpy as np
import pytest

import datasets
from config import load_config
from helpers.tiny_run import write_tiny_run
from helpers.tools import load_tool
from utils.cli import run_tool
from utils.image_io import read_image, write_image, write_png

browse_dataset = load_tool("browse_dataset")

GREY = 128
TRIANGLE = [[0.5, 0.1], [1.2, 0.1], [0.9, 0.4]]  # x 1.2 is clamped to the edge
TOLERANCE = 40  # JPEG output: colours land near, not on, their values


def near(pixel, colour):
    return np.abs(pixel.astype(int) - np.array(colour)).max() <= TOLERANCE


def test_labels_of_a_yaml_list_are_drawn_as_the_dataset_reads_them(tmp_path):
    cfg_file = write_tiny_run(tmp_path, num_train=5, num_val=2, size=32)
    out = tmp_path / "browse"
    args = ["labels", "--cfg", str(cfg_file), "--out", str(out), "--every", "2", "--quiet"]
    assert browse_dataset.main(args) == 0
    dataset = datasets.build_dataset(load_config(cfg_file), "train")
    names = [dataset.samples[i].name for i in (0, 2, 4)]
    assert sorted(p.stem for p in out.glob("*.jpg")) == sorted(names)
    assert read_image(out / f"{names[0]}.jpg", "rgb").shape == (32, 64, 3)
    assert (out / "legend.png").is_file()


def daodixian_job(tmp_path):
    """Two annotated items and one without results; grey 100x80 images."""
    images = tmp_path / "images"
    for name in ("a", "b", "c"):
        write_image(images / f"{name}.jpeg", np.full((80, 100, 3), GREY, np.uint8))
    square = [[0.2, 0.25], [0.6, 0.25], [0.6, 0.75], [0.2, 0.75]]  # x 20..60, y 20..60
    items = [
        {"uris": ["job/a.jpeg"], "results": {"polys": [{"poly": square}]}},
        {"uris": ["job/b.jpeg"], "results": {}},
        {"uris": ["job/c.jpeg"], "results": {"polys": [{"poly": TRIANGLE}]}},
    ]  # fmt: skip
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"items": items}))
    return job, images


def test_daodixian_outlines_are_drawn_as_the_fork_drew_them(tmp_path):
    job, images = daodixian_job(tmp_path)
    out = tmp_path / "vis"
    args = ["json", str(job), "--image-root", str(images), "--out", str(out), "--quiet"]
    assert browse_dataset.main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "c.jpg"]
    picture = read_image(out / "a.jpg", "rgb")
    blue = (0, 0, 255)  # the fork's cv2 (255, 0, 0)
    assert near(picture[40, 20], blue) and near(picture[20, 40], blue)  # on the outline
    assert near(picture[40, 40], (GREY,) * 3) and near(picture[5, 5], (GREY,) * 3)
    assert near(read_image(out / "c.jpg", "rgb")[8, 99], blue)  # x 1.2 clamped to the right edge


def test_every_and_limit_sample_the_annotated_images(tmp_path):
    images = tmp_path / "images"
    for index in range(7):
        write_image(images / f"{index}.png", np.zeros((20, 20, 3), np.uint8))
        shape = {"label": "wall", "points": [[2, 2], [10, 10]], "shape_type": "rectangle"}
        data = {"imageHeight": 20, "imageWidth": 20, "imagePath": f"../images/{index}.png"}
        (tmp_path / "json").mkdir(exist_ok=True)
        (tmp_path / "json" / f"{index}.json").write_text(json.dumps({**data, "shapes": [shape]}))
    out = tmp_path / "vis"
    args = ["json", str(tmp_path / "json"), "--out", str(out), "--every", "3", "--limit", "2"]
    assert browse_dataset.main([*args, "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["0.jpg", "3.jpg"]


def test_labelme_and_cityscapes_outlines_take_their_class_colours(tmp_path):
    write_image(tmp_path / "img/x.png", np.zeros((40, 50, 3), np.uint8))
    write_image(
        tmp_path / "img/aachen_000000_000019_leftImg8bit.png", np.zeros((40, 50, 3), np.uint8)
    )
    (tmp_path / "colorMap.txt").write_text("wall 2 200 200 255\n")
    polygon = [[10, 10], [30, 10], [30, 30], [10, 30]]
    labelme = {"imageHeight": 40, "imageWidth": 50, "imagePath": "elsewhere/x.png"}
    labelme["shapes"] = [{"label": "wall", "points": polygon, "shape_type": "polygon"}]
    (tmp_path / "x.json").write_text(json.dumps(labelme))
    city = {"imgHeight": 40, "imgWidth": 50, "objects": [{"label": "road", "polygon": polygon}]}
    (tmp_path / "aachen_000000_000019_gtFine_polygons.json").write_text(json.dumps(city))
    out = tmp_path / "vis"
    args = [
        "json",
        str(tmp_path / "x.json"),
        str(tmp_path / "aachen_000000_000019_gtFine_polygons.json"),
    ]
    args += ["--image-root", str(tmp_path / "img"), "--color-map", str(tmp_path / "colorMap.txt")]
    assert browse_dataset.main([*args, "--out", str(out), "--quiet", "--thickness", "3"]) == 0
    assert near(read_image(out / "x.jpg", "rgb")[20, 30], (200, 200, 255))
    assert near(
        read_image(out / "aachen_000000_000019_leftImg8bit.jpg", "rgb")[30, 20], (128, 64, 128)
    )


def regions(out):
    with open(out / "regions.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_boxes_of_regions_above_the_area_are_drawn_and_listed(tmp_path):
    prediction = np.zeros((200, 220), np.uint8)
    prediction[20:140, 10:130] = 255  # 120 x 120: contour area 119 * 119 = 14161 > 10000
    prediction[160:190, 170:200] = 255  # 30 x 30: too small
    write_png(tmp_path / "pred/p1.png", prediction)
    write_image(tmp_path / "img/sub/p1.jpeg", np.full((200, 220, 3), GREY, np.uint8))
    out = tmp_path / "boxes"
    args = ["contours", "--predictions", str(tmp_path / "pred"), "--images", str(tmp_path / "img")]
    assert browse_dataset.main([*args, "--out", str(out), "--quiet"]) == 0
    rows = regions(out)
    assert [(r["x"], r["y"], r["width"], r["height"]) for r in rows] == [("10", "20", "120", "120")]
    assert float(rows[0]["area"]) == 119 * 119
    picture = read_image(out / "p1.jpg", "rgb")
    assert near(picture[20, 60], (0, 255, 0)) and near(picture[80, 60], (GREY,) * 3)
    assert near(picture[160, 170], (GREY,) * 3)  # the small region has no box

    # class maps: the regions of chosen class values
    classes = np.zeros((200, 220), np.uint8)
    classes[20:140, 10:130] = 2
    write_png(tmp_path / "pred/p1.png", classes)
    args += ["--classes", "2", "--min-area", "100", "--draw", "both"]
    assert browse_dataset.main([*args, "--out", str(out), "--quiet"]) == 0
    assert len(regions(out)) == 1


def test_predictions_must_fit_their_images(tmp_path, capsys):
    write_png(tmp_path / "pred/p1.png", np.zeros((10, 12), np.uint8))
    write_image(tmp_path / "img/p1.png", np.zeros((10, 13, 3), np.uint8))
    args = ["contours", "--predictions", str(tmp_path / "pred"), "--images", str(tmp_path / "img")]
    assert run_tool(browse_dataset.main, [*args, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "is 12x10 but image" in capsys.readouterr().err
    write_png(tmp_path / "pred/lonely.png", np.zeros((10, 12), np.uint8))
    assert run_tool(browse_dataset.main, [*args, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "no image named lonely.*" in capsys.readouterr().err


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        browse_dataset.parse_args(["--help"])
    assert "browse_dataset.py json job-365971-1.json" in capsys.readouterr().out
