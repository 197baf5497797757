"""Class balance of a panorama-style dataset: per-class pixel counts per image, per split.

For each split list (`<data_dir>/<split>_list.txt`, base names) and each class of the table, the
mean and the population variance over the images of the number of pixels of that class, as the
original analysisData.py printed them.
"""

import csv
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from datatools.io import read_label
from utils.visualize import write_image

SPLIT_COLORS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189))


def read_list(path):
    """Base names of a list file, one per line (blank lines skipped)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"list {path} does not exist (run tools/generate_list.py)")
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    names = [n for n in names if n]
    if not names:
        raise ValueError(f"list {path} is empty")
    return names


def pixel_counts(label_dir, names, values, progress=True, desc=None):
    """(len(names), len(values)) int64: pixels equal to each value in each `<name>.png`."""
    values = np.asarray(values, dtype=np.int64)
    counts = np.zeros((len(names), len(values)), dtype=np.int64)
    for row, name in enumerate(tqdm(names, disable=not progress, desc=desc, unit="label")):
        label = read_label(Path(label_dir) / f"{name}.png")
        histogram = np.bincount(label.ravel(), minlength=int(values.max()) + 1)
        counts[row] = histogram[values]
    return counts


def class_statistics(data_dir, splits, values, progress=True):
    """{split: (mean, variance)} over the images of `<data_dir>/<split>_list.txt`, per value."""
    data_dir = Path(data_dir)
    stats = {}
    for split in splits:
        names = read_list(data_dir / f"{split}_list.txt")
        counts = pixel_counts(data_dir / "label", names, values, progress, desc=split)
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


def plot_means(path, names, stats, bar=12, chart_width=600):
    """Bar chart of the mean pixel count per image: a group of bars per class, one per split."""
    splits = list(stats)
    top = 40 + 20 * len(splits)
    left = 20 + 9 * max(len(n) for n in names)
    group = bar * len(splits) + 10
    height, width = top + group * len(names) + 30, left + chart_width + 120
    canvas = np.full((height, width, 3), 255, np.uint8)
    largest = max(float(stats[s][0].max()) for s in splits) or 1.0
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(canvas, "mean pixels per image", (left, 25), font, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    for j, split in enumerate(splits):
        y = 45 + 20 * j
        color = SPLIT_COLORS[j % len(SPLIT_COLORS)]
        cv2.rectangle(canvas, (left, y - 10), (left + 20, y), color, -1)
        cv2.putText(canvas, split, (left + 28, y), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    for k, name in enumerate(names):
        y0 = top + group * k
        cv2.putText(canvas, name, (10, y0 + group // 2 + 4), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        for j, split in enumerate(splits):
            mean = float(stats[split][0][k])
            y = y0 + bar * j
            x1 = left + int(round(chart_width * mean / largest))
            color = SPLIT_COLORS[j % len(SPLIT_COLORS)]
            cv2.rectangle(canvas, (left, y), (max(left, x1), y + bar - 2), color, -1)
            text_at = (x1 + 4, y + bar - 3)
            cv2.putText(canvas, f"{mean:.0f}", text_at, font, 0.35, (60, 60, 60), 1, cv2.LINE_AA)
    cv2.line(canvas, (left, top - 4), (left, height - 25), (0, 0, 0), 1)
    write_image(path, canvas)
