"""A small synthetic segmentation dataset in the generic on-disk layout, for `tools/demo.py`.

    <root>/colorMap.txt                 class table: name id R G B
    <root>/images/<name>.png            textured background with coloured shapes
    <root>/labels/<name>.png            raw class ids (as listed in colorMap.txt)
    <root>/train.lst, <root>/val.lst    "images/<name>.png labels/<name>.png" per line

Each class is a shape (circle, rectangle, triangle) drawn in a colour near the class's hue, so a
small network learns it in minutes on a CPU.
"""

from pathlib import Path

import cv2
import numpy as np

from utils.errors import DataError
from utils.image_io import read_image, write_image, write_png

CLASSES = (  # name, raw id, display colour (RGB)
    ("background", 0, (40, 40, 40)),
    ("circle", 1, (230, 60, 60)),
    ("rectangle", 2, (60, 200, 80)),
    ("triangle", 3, (70, 110, 235)),
)
MIN_SIZE = 12  # the smallest image side: shapes get a radius of at least size // 12 = 1 pixel


def _texture(rng, size):
    """Low-frequency colour noise plus grain: a background that is not a flat colour."""
    coarse = rng.uniform(60, 190, size=(6, 6, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 12, size=(size, size, 3)).astype(np.float32)
    return smooth + grain


def _shape_mask(rng, kind, size):
    mask = np.zeros((size, size), np.uint8)
    radius = int(rng.integers(size // 12, size // 5))
    cx, cy = (int(v) for v in rng.integers(radius, size - radius, size=2))
    if kind == "circle":
        cv2.circle(mask, (cx, cy), radius, 1, -1)
    elif kind == "rectangle":
        w, h = (int(v) for v in rng.integers(radius // 2 + 2, radius + 2, size=2))
        cv2.rectangle(mask, (cx - w, cy - h), (cx + w, cy + h), 1, -1)
    else:
        angles = rng.uniform(0, 2 * np.pi) + np.array([0, 2 * np.pi / 3, 4 * np.pi / 3])
        points = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], 1)
        cv2.fillPoly(mask, [points.astype(np.int32)], 1)
    return mask.astype(bool)


def make_sample(rng, size):
    """One (RGB image uint8, raw-id label uint8) pair."""
    image = _texture(rng, size)
    label = np.zeros((size, size), np.uint8)
    for _ in range(int(rng.integers(2, 6))):
        name, raw_id, colour = CLASSES[int(rng.integers(1, len(CLASSES)))]
        mask = _shape_mask(rng, name, size)
        tint = np.clip(np.array(colour) + rng.normal(0, 20, 3), 0, 255)
        image[mask] = tint + rng.normal(0, 10, size=(int(mask.sum()), 3))
        label[mask] = raw_id
    return np.clip(image, 0, 255).astype(np.uint8), label


def _check_existing(root, lists, size):
    """DataError when the dataset under `root` is not the one asked for (another count or size)."""
    counts = {split: len((root / f"{split}.lst").read_text().split()) // 2 for split in lists}
    first = read_image(root / "images" / "train_0000.png") if counts["train"] else None
    found = first.shape[0] if first is not None else size
    if counts != lists or found != size:
        raise DataError(
            f"{root} holds a demo dataset of {counts['train']} training and {counts['val']} "
            f"validation images of {found} px, not the {lists['train']} and {lists['val']} of "
            f"{size} px asked for: delete {root}, or give --root another folder"
        )


def write_demo_dataset(root, num_train=160, num_val=40, size=128, seed=0):
    """Write the dataset under `root` (kept if it is already there, as asked); returns `root`."""
    root = Path(root)
    lists = {"train": num_train, "val": num_val}
    done = [root / f"{split}.lst" for split in lists] + [root / "colorMap.txt"]
    if all(path.is_file() for path in done):
        _check_existing(root, lists, size)
        return root
    rng = np.random.default_rng(seed)
    index = 0
    for split, count in lists.items():
        lines = []
        for _ in range(count):
            image, label = make_sample(rng, size)
            name = f"{split}_{index:04d}.png"
            write_image(root / "images" / name, image)
            write_png(root / "labels" / name, label)
            lines.append(f"images/{name} labels/{name}")
            index += 1
        (root / f"{split}.lst").write_text("\n".join(lines) + "\n")
    table = "\n".join(f"{n} {i} {r} {g} {b}" for n, i, (r, g, b) in CLASSES)
    (root / "colorMap.txt").write_text(table + "\n")
    return root
