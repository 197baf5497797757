"""tools/analysisData.py: per-class mean and variance of pixel counts, against plain NumPy."""

import csv

import numpy as np
import pytest

from datatools.statistics import class_statistics
from helpers.tools import load_tool
from utils.errors import UserError
from utils.image_io import read_image, write_png

analysisData = load_tool("analysisData")

TABLE = "ground 0 0 100 100\nwall 2 200 200 255\nlayered_shelf 10 100 50 0\n"
IDS = [0, 2, 10]


def make_split(root, split, count, rng):
    labels = []
    names = []
    for i in range(count):
        label = rng.choice(np.array(IDS + [255], np.uint8), size=(6, 9), p=[0.5, 0.3, 0.1, 0.1])
        name = f"{split}_{i}"
        write_png(root / "label" / f"{name}.png", label)
        labels.append(label)
        names.append(name)
    (root / f"{split}_list.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    return labels


def expected(labels, values):
    counts = np.array([[np.sum(label == v) for v in values] for label in labels])
    return counts.mean(axis=0), counts.var(axis=0)


@pytest.fixture
def dataset(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "数据"
    labels = {s: make_split(root, s, n, rng) for s, n in (("val", 3), ("test", 2), ("train", 5))}
    (tmp_path / "colorMap.txt").write_text(TABLE, encoding="utf-8")
    return root, labels, tmp_path / "colorMap.txt"


def test_statistics_match_numpy(dataset):
    root, labels, _ = dataset
    stats = class_statistics(root, ["val", "test", "train"], IDS, progress=False)
    for split, split_labels in labels.items():
        mean, var = expected(split_labels, IDS)
        np.testing.assert_allclose(stats[split][0], mean)
        np.testing.assert_allclose(stats[split][1], var)


def test_tool_prints_and_writes_csv_and_plot(dataset, tmp_path, capsys):
    root, labels, color_map = dataset
    csv_path, plot = tmp_path / "stats.csv", tmp_path / "图表.png"
    analysisData.main(
        ["--data-dir", str(root), "--color-map", str(color_map), "--csv", str(csv_path)]
        + ["--plot", str(plot), "--quiet"]
    )
    assert "layered_shelf" in capsys.readouterr().out
    with open(csv_path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["class"] for r in rows] == ["ground", "wall", "layered_shelf"]
    assert [int(r["value"]) for r in rows] == IDS
    for split in ("val", "test", "train"):
        mean, var = expected(labels[split], IDS)
        np.testing.assert_allclose([float(r[f"mean_{split}"]) for r in rows], mean)
        np.testing.assert_allclose([float(r[f"var_{split}"]) for r in rows], var)
    assert read_image(plot, "rgb").shape[2] == 3


def test_class_indices_and_missing_list(dataset):
    root, labels, color_map = dataset
    stats = class_statistics(root, ["val"], [0, 1, 2], progress=False)
    np.testing.assert_allclose(stats["val"][0], expected(labels["val"], [0, 1, 2])[0])
    with pytest.raises(UserError, match="extra_list.txt"):
        class_statistics(root, ["extra"], IDS, progress=False)
