"""tools/analysisResult.py: easy/hard comparisons, the CSV, size mismatches, compress maps."""

import csv

import numpy as np
import pytest

from helpers.label_data import TABLE
from helpers.tools import load_tool
from utils.colormap import ClassTable
from utils.errors import UserError
from utils.image_io import read_image, write_image, write_png
from utils.visualize import colorize

analysisResult = load_tool("analysisResult")

WRONG = {"a": 30, "b": 0, "c": 75, "d": 10, "e": 50}  # wrong pixels out of 100


@pytest.fixture
def folders(tmp_path):
    """Labels in raw ids (wall = 2), predictions in class indices (wall = 1)."""
    data, pred = tmp_path / "数据", tmp_path / "预测"
    label = np.full((10, 10), 2, np.uint8)
    for name, wrong in WRONG.items():
        write_png(data / "label" / f"{name}.png", label)
        write_image(data / "image" / f"{name}.jpg", np.full((10, 10, 3), 90, np.uint8))
        prediction = np.ones(100, np.uint8)
        prediction[:wrong] = 0
        write_png(pred / f"{name}.png", prediction.reshape(10, 10))
    (tmp_path / "colorMap.txt").write_text(TABLE, encoding="utf-8")
    return data, pred, tmp_path / "colorMap.txt"


def test_tool_ranks_and_writes_easy_and_hard(folders, tmp_path):
    data, pred, color_map = folders
    out = tmp_path / "输出"
    (out / "easy").mkdir(parents=True)
    (out / "easy" / "999_stale_compare.png").write_bytes(b"")
    analysisResult.main(
        ["--data-dir", str(data), "--pred-dir", str(pred), "--out-dir", str(out)]
        + ["--top-k", "2", "--color-map", str(color_map), "--quiet", "--pred-values", "classes"]
    )
    with open(out / "scores.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == ["b", "d", "a", "e", "c"]
    assert [float(r["accuracy"]) for r in rows] == [1.0, 0.9, 0.7, 0.5, 0.25]
    assert sorted(p.name for p in (out / "easy").iterdir()) == [
        "001_b_compare.png",
        "002_d_compare.png",
    ]
    assert sorted(p.name for p in (out / "hard").iterdir()) == [
        "001_c_compare.png",
        "002_e_compare.png",
    ]
    picture = read_image(out / "hard" / "001_c_compare.png", "rgb")
    assert picture.shape == (10, 30, 3)
    palette = ClassTable.parse(TABLE).palette()
    np.testing.assert_array_equal(picture[:, 10:20], colorize(np.ones((10, 10)), palette))
    # c: the first 75 pixels predicted ground (class 0), the last 25 wall (class 1).
    np.testing.assert_array_equal(picture[0, 20], palette[0])
    np.testing.assert_array_equal(picture[9, 29], palette[1])


def test_size_mismatch_is_named(folders):
    data, pred, color_map = folders
    write_png(pred / "a.png", np.zeros((5, 5), np.uint8))
    with pytest.raises(ValueError, match=r"a\.png is 5x5 but label .*a\.png is 10x10"):
        analysisResult.main(
            ["--data-dir", str(data), "--pred-dir", str(pred), "--out-dir", str(data / "out")]
            + ["--color-map", str(color_map), "--quiet"]
        )


def test_compress_map_scores_merged_classes(tmp_path):
    """Label ids 1 and 20 are one class of the merging table (ceiling), so a prediction of
    hanging_objects (20) on a ceiling (1) pixel is right with --compress-map, wrong without."""
    data, pred = tmp_path / "data", tmp_path / "pred"
    write_png(data / "label" / "x.png", np.array([[1, 1, 2, 2]], np.uint8))
    write_image(data / "image" / "x.jpg", np.zeros((1, 4, 3), np.uint8))
    write_png(pred / "x.png", np.array([[20, 1, 2, 0]], np.uint8))  # raw ids, as test.py
    (tmp_path / "colorMap.txt").write_text(
        "ground 0 0 100 100\nceiling 1 0 255 200\nwall 2 200 200 255\nhanging 20 255 200 0\n"
    )
    (tmp_path / "compress.txt").write_text(
        "ground 0 100 100 0\nceiling 0 255 200 1 20\nwall 200 200 255 2\n"
    )
    argv = ["--data-dir", str(data), "--pred-dir", str(pred), "--quiet"]
    argv += ["--color-map", str(tmp_path / "colorMap.txt")]
    accuracy = {}
    for name, extra in (
        ("plain", []),
        ("merged", ["--compress-map", str(tmp_path / "compress.txt")]),
    ):
        out = tmp_path / name
        assert analysisResult.main([*argv, "--out-dir", str(out), *extra]) == 0
        with open(out / "scores.csv", encoding="utf-8") as f:
            accuracy[name] = float(next(csv.DictReader(f))["accuracy"])
    assert accuracy == {"plain": 0.5, "merged": 0.75}


def test_ids_in_no_line_of_the_table_are_named(folders, tmp_path):
    data, pred, color_map = folders
    argv = ["--data-dir", str(data), "--pred-dir", str(pred), "--out-dir", str(tmp_path / "o")]
    argv += ["--color-map", str(color_map), "--quiet"]
    # the predictions hold class indices 0 and 1; 1 is no raw id of the table (0, 2, 10)
    with pytest.raises(UserError, match=r"预测.a\.png holds id\(s\) \[1\] that are in no line"):
        analysisResult.main(argv)
    write_png(data / "label" / "a.png", np.full((10, 10), 50, np.uint8))
    with pytest.raises(UserError, match=r"label.a\.png holds id\(s\) \[50\]"):
        analysisResult.main([*argv, "--pred-values", "classes"])
