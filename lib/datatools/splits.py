"""train/val/test lists of a panorama-style dataset (`image/<name>.jpg`, `label/<name>.png`).

A label with more than `max_ignore` of its pixels at the ignore value (colours that are not in
the class table) is left out, as is a label without its image. The rest is shuffled with a seed
and cut by the ratio; each list holds base names, one per line, sorted.
"""

import random
from pathlib import Path

import numpy as np

from datatools.io import read_label
from utils.logger import progress_bar

SPLITS = ("train", "val", "test")


def split_counts(total, ratio):
    """Sizes of the splits: `total` cut by `ratio`, remainders to the largest fractions."""
    if len(ratio) != len(SPLITS) or any(r < 0 for r in ratio) or sum(ratio) <= 0:
        raise ValueError(f"ratio must be three non-negative numbers (train val test), got {ratio}")
    exact = [total * r / sum(ratio) for r in ratio]
    counts = [int(e) for e in exact]
    by_fraction = sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])
    for i in by_fraction[: total - sum(counts)]:
        counts[i] += 1
    return counts


def split_names(names, ratio=(4, 1, 1), seed=0):
    """{'train': [...], 'val': [...], 'test': [...]}: names shuffled with `seed`, cut by ratio."""
    shuffled = sorted(names)
    random.Random(seed).shuffle(shuffled)
    splits, start = {}, 0
    for split, count in zip(SPLITS, split_counts(len(shuffled), ratio), strict=True):
        splits[split] = sorted(shuffled[start : start + count])
        start += count
    return splits


def screen_labels(data_dir, max_ignore=0.01, ignore_label=255, progress=True):
    """(kept names, dropped [(name, kind, detail)]) for every `label/*.png` of `data_dir`.

    `kind` is "ignore" (too many ignore pixels) or "no image".
    """
    label_dir, image_dir = Path(data_dir) / "label", Path(data_dir) / "image"
    if not label_dir.is_dir():
        raise FileNotFoundError(f"label folder {label_dir} does not exist (see --data-dir)")
    labels = sorted(label_dir.glob("*.png"))
    if not labels:
        raise FileNotFoundError(f"no .png labels in {label_dir}")
    kept, dropped = [], []
    for path in progress_bar(labels, enabled=progress, unit="label"):
        name = path.stem
        if not (image_dir / f"{name}.jpg").is_file():
            dropped.append((name, "no image", f"{image_dir / name}.jpg does not exist"))
            continue
        fraction = float(np.mean(read_label(path) == ignore_label))
        if fraction > max_ignore:
            detail = f"{100 * fraction:.2f}% of the pixels are {ignore_label} (ignore)"
            dropped.append((name, "ignore", detail))
            continue
        kept.append(name)
    return kept, dropped


def write_lists(splits, out_dir, dropped=()):
    """Write `<split>_list.txt` files and `dropped.txt` (name, tab, why, per line)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, names in splits.items():
        path = out_dir / f"{split}_list.txt"
        path.write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
        written[split] = path
    text = "".join(f"{name}\t{detail}\n" for name, _, detail in dropped)
    (out_dir / "dropped.txt").write_text(text, encoding="utf-8")
    return written
