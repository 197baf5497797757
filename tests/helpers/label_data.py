"""Small label pictures, class tables and annotations shared by the tests of datatools and
of the data tools."""

import numpy as np

from utils.image_io import write_png

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


def ramp(height, width, channels=3):
    values = np.arange(height * width * channels) % 251
    return values.reshape(height, width, channels).astype(np.uint8).squeeze()


SQUARE = [[2, 1], [5, 1], [5, 3], [2, 3]]  # columns 2..5, rows 1..3 (boundary included)


def box(height, width, rows, cols, inside, outside):
    expected = np.full((height, width), outside, np.uint8)
    expected[rows[0] : rows[1] + 1, cols[0] : cols[1] + 1] = inside
    return expected


def labelme(shapes, height=6, width=8):
    return {"imageHeight": height, "imageWidth": width, "imagePath": "x.jpg", "shapes": shapes}


def write_label_splits(tmp_path):
    """Label PNGs of IDS (and 255) for the splits val, test and train under a non-ASCII root,
    with their lists and a colorMap.txt of TABLE: (root, {split: labels}, colour map file)."""
    rng = np.random.default_rng(0)
    root = tmp_path / "数据"
    labels = {s: make_split(root, s, n, rng) for s, n in (("val", 3), ("test", 2), ("train", 5))}
    (tmp_path / "colorMap.txt").write_text(TABLE, encoding="utf-8")
    return root, labels, tmp_path / "colorMap.txt"
