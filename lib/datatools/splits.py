"""train/val/test lists of a panorama-style dataset or of the DeepGlobe layout.

Panorama (`image/<name>.jpg`, `label/<name>.png`): a label with more than `max_ignore` of its
pixels at the ignore value (colours that are not in the class table) is left out, as is a label
without its image. The rest is shuffled with a seed and cut by the ratio; each list holds base
names, one per line, sorted.

DeepGlobe (the land-use fork's `x/<split>/` images and `y/<split>/` labels): one `<split>.lst`
per split folder, `x/<split>/<image> y/<split>/<label>` per line, image-only where the split has
no labels; images and labels pair in sorted order, as the fork's tools paired them. The fork's
train/val split (a seeded shuffle of the pairs, the first `ratio` of them to val) can cut x/train
into the train and val lists.
"""

import random
from pathlib import Path

import numpy as np

from datatools.io import image_files
from utils.errors import DataError
from utils.image_io import read_label
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
        raise DataError(f"label folder {label_dir} does not exist (see --data-dir)")
    labels = sorted(label_dir.glob("*.png"))
    if not labels:
        raise DataError(f"no .png labels in {label_dir}")
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


def paired_files(image_dir, label_dir):
    """[(image, label)] of two folders, paired in sorted order; their counts must match."""
    images, labels = image_files(image_dir), image_files(label_dir, "label")
    if len(images) != len(labels):
        raise DataError(
            f"{image_dir} holds {len(images)} images but {label_dir} holds {len(labels)} labels; "
            "they pair in sorted order, so the counts must match"
        )
    return list(zip(images, labels, strict=True))


def val_split(pairs, ratio=0.18, seed=2):
    """(train pairs, val pairs): the pairs shuffled with `seed`, the first int(len * ratio) to
    val, as the land-use fork's split_train_test (random.seed(2), ratio 0.18) chose them."""
    if not 0 <= ratio <= 1:
        raise DataError(f"the val ratio is a fraction in [0, 1], got {ratio}")
    shuffled = list(pairs)
    random.Random(seed).shuffle(shuffled)
    count = int(len(shuffled) * ratio)
    return sorted(shuffled[count:]), sorted(shuffled[:count])


def deepglobe_lists(data_dir, val_ratio=None, seed=2):
    """{split: list lines} of `data_dir/x/<split>/` (+ `data_dir/y/<split>/`), paths relative
    to `data_dir`; with `val_ratio`, x/train's pairs are cut into "train" and "val"."""
    data_dir = Path(data_dir)
    x_dir = data_dir / "x"
    splits = sorted(p.name for p in x_dir.iterdir() if p.is_dir()) if x_dir.is_dir() else []
    if not splits:
        raise DataError(f"no split folders in {x_dir} (expected x/train, x/val, x/test)")
    lists = {}
    for split in splits:
        images = image_files(x_dir / split)
        if not images:
            raise DataError(f"no images in {x_dir / split}")
        labels = data_dir / "y" / split
        if labels.is_dir() and image_files(labels, "label"):
            pairs = paired_files(x_dir / split, data_dir / "y" / split)
            lists[split] = [
                tuple(p.relative_to(data_dir).as_posix() for p in pair) for pair in pairs
            ]
        else:
            lists[split] = [(p.relative_to(data_dir).as_posix(),) for p in images]
    if val_ratio is not None:
        if "val" in lists:
            raise DataError(
                f"{x_dir / 'val'} exists: the val ratio cuts x/train into the train and val lists; "
                "use the folder or the ratio"
            )
        if "train" not in lists or len(lists["train"][0]) != 2:
            raise DataError(f"the val ratio needs labelled pairs in {x_dir / 'train'}")
        pairs = len(lists["train"])
        lists["train"], lists["val"] = val_split(lists["train"], val_ratio, seed)
        if not lists["train"] or not lists["val"]:
            raise DataError(
                f"--val-ratio {val_ratio:g} cuts the {pairs} pairs of {x_dir / 'train'} into "
                f"{len(lists['train'])} train and {len(lists['val'])} val pairs (int(R x {pairs}) "
                "to val); each list needs at least one"
            )
    return lists


def write_list_files(lists, out_dir):
    """Write `<split>.lst` files ("image label" or "image" per line); {split: path}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, lines in lists.items():
        path = out_dir / f"{split}.lst"
        path.write_text("".join(" ".join(line) + "\n" for line in lines), encoding="utf-8")
        written[split] = path
    return written
