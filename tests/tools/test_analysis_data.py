"""tools/analysisData.py: per-class mean and variance of pixel counts, against plain NumPy."""

import csv

import numpy as np
import pytest

from helpers.label_data import IDS, expected, write_label_splits
from helpers.tools import load_tool
from utils.image_io import read_image

analysisData = load_tool("analysisData")


@pytest.fixture
def dataset(tmp_path):
    return write_label_splits(tmp_path)


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
