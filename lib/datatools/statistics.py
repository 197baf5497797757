"""Class balance of a panorama-style dataset: per-class pixel counts per image, per split.

For each split list (`<data_dir>/<split>_list.txt`, base names) and each class of the table, the
mean and the population variance over the images of the number of pixels of that class, as the
original analysisData.py printed them.
"""

import csv
from pathlib import Path

import numpy as np

from utils.colormap import IGNORE
from utils.errors import DataError
from utils.image_io import read_label
from utils.logger import progress_bar
from utils.text import read_text


def read_list(path):
    """Base names of a list file, one per line (blank lines skipped)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"list {path} does not exist (run tools/generate_list.py)")
    names = [line.strip() for line in read_text(path, "list").splitlines()]
    names = [n for n in names if n]
    if not names:
        raise DataError(f"list {path} is empty")
    return names


def pixel_counts(label_dir, names, values, progress=True, desc=None, ignored=()):
    """(len(names), len(values)) int64: pixels equal to each value in each `<name>.png`. A value
    that is neither counted, nor `ignored`, nor 255 (unlabelled) is a DataError."""
    values = np.asarray(values, dtype=np.int64)
    counts = np.zeros((len(names), len(values)), dtype=np.int64)
    for row, name in enumerate(progress_bar(names, enabled=progress, desc=desc, unit="label")):
        path = Path(label_dir) / f"{name}.png"
        label = read_label(path)
        histogram = np.bincount(label.ravel(), minlength=int(values.max()) + 1)
        unknown = sorted(
            set(np.flatnonzero(histogram).tolist()) - {*values.tolist(), *ignored, IGNORE}
        )
        if unknown:
            raise DataError(
                f"label {path} holds id(s) {unknown[:10]} that are in no line of the class table "
                f"(its ids: {values.tolist()}; 255: unlabelled)"
            )
        counts[row] = histogram[values]
    return counts


def class_statistics(data_dir, splits, values, progress=True, ignored=()):
    """{split: (mean, variance)} over the images of `<data_dir>/<split>_list.txt`, per value
    (`ignored`: other values the labels may hold, not counted)."""
    data_dir = Path(data_dir)
    stats = {}
    for split in splits:
        names = read_list(data_dir / f"{split}_list.txt")
        counts = pixel_counts(data_dir / "label", names, values, progress, split, ignored)
        stats[split] = (counts.mean(axis=0), counts.var(axis=0))
    return stats


def rows(names, values, stats):
    """Header and one row per class: name, value, mean per split, variance per split."""
    splits = list(stats)
    header = ["class", "value"] + [f"mean_{s}" for s in splits] + [f"var_{s}" for s in splits]
    body = []
    for k, (name, value) in enumerate(zip(names, values, strict=True)):
        means = [float(stats[s][0][k]) for s in splits]
        variances = [float(stats[s][1][k]) for s in splits]
        body.append([name, int(value), *means, *variances])
    return header, body


def format_table(header, body):
    """The rows as an aligned text table."""
    cells = [header] + [
        [r[0], str(r[1])] + [f"{v:.6g}" if isinstance(v, float) else str(v) for v in r[2:]]
        for r in body
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in cells
    ]
    return "\n".join(lines)


def write_csv(path, header, body):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(body)
