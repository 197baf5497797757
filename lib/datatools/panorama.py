"""Equirectangular panoramas with colour labels -> perspective crops with raw-id labels.

Input: `<root>/<store>/<name>.jpg` and its colour label `<root>/<store>/<name>.png` (colours of
colorMap.txt). The colour label is converted once to raw ids (unknown colours -> 255) and cached
as `<root>/<store>/label/<name>.png`; a cached label is used as it is.

Output: `<out>/image/<store>_<name>_<theta>_<fov>.jpg` and `<out>/label/<same>.png` (raw ids,
255 where the colour was not in the table), `count` crops per panorama at yaw angles
`int((i * 360 / count + start) % 360)`, `start` random in 0..359, no tilt.

Geometry (the original tool's): a crop is a pinhole view looking at yaw `theta`; `fov` is the
field of view across the rows (vertical), the columns span
`2 * atan(width / height * tan(fov / 2))` (63.7 degrees for fov 50 at 1024x768).
Panorama column `u` is longitude `2 pi (u + 0.5) / W` (yaw 0 at the left edge, growing to the
right), row `v` is latitude `pi (v + 0.5) / H - pi / 2` (straight up at the top).
"""

import zlib
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from utils.errors import DataError
from utils.image_io import read_image, read_label, write_image, write_png
from utils.logger import progress_bar

IMAGE_SUFFIXES = (".jpg", ".jpeg")


def crop_maps(pano_height, pano_width, theta, fov, width, height):
    """`cv2.remap` maps (map_x, map_y), each (height, width) float32, of the view at yaw `theta`.

    `theta` and `fov` (vertical) are in degrees. Map values are panorama pixel coordinates
    (pixel centres at integers); columns may fall in [-0.5, 0), which BORDER_WRAP takes from the
    other side of the seam.
    """
    if not 0 < fov < 180:
        raise ValueError(f"fov must be in (0, 180) degrees, got {fov}")
    half_rows = np.tan(np.radians(fov) / 2)
    half_cols = half_rows * width / height
    # The image plane at distance 1: x grows down the rows, y to the right.
    x = ((np.arange(height) + 0.5) * (2 * half_rows / height) - half_rows)[:, None]
    y = ((np.arange(width) + 0.5) * (2 * half_cols / width) - half_cols)[None, :]
    longitude = np.radians(theta) + np.arctan(y)
    latitude = np.arctan2(x, np.sqrt(1 + y * y))
    map_x = np.mod(longitude, 2 * np.pi) * (pano_width / (2 * np.pi)) - 0.5
    map_y = (latitude + np.pi / 2) * (pano_height / np.pi) - 0.5
    map_x = np.broadcast_to(map_x, (height, width)).astype(np.float32)
    return map_x, map_y.astype(np.float32)


def crop(panorama, theta, fov, width, height, nearest=False):
    """Perspective view (height, width) of an equirectangular image at yaw `theta` degrees.

    Bilinear sampling for images; `nearest=True` for labels (only input values appear).
    """
    map_x, map_y = crop_maps(panorama.shape[0], panorama.shape[1], theta, fov, width, height)
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.remap(panorama, map_x, map_y, interpolation, borderMode=cv2.BORDER_WRAP)


def yaw_angles(count, start):
    """The original's crop angles: `count` steps of 360/count degrees from `start`, as ints."""
    return [int((i * 360 / count + start) % 360) for i in range(count)]


@dataclass(frozen=True)
class Panorama:
    store: str
    name: str
    image: Path
    color_label: Path
    cached_label: Path


def list_stores(root, exclude=()):
    """Sub-folders of `root` (sorted), except `merge` and the folders in `exclude`."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"panorama root {root} does not exist (see --root)")
    skip = {Path(p).resolve() for p in exclude}
    return [
        p.name
        for p in sorted(root.iterdir())
        if p.is_dir() and p.name != "merge" and p.resolve() not in skip
    ]


def find_panoramas(root, stores):
    """Every `<root>/<store>/<name>.jpg` with its colour label or cached id label.

    Raises naming the missing stores or labels before any work is done.
    """
    root = Path(root)
    missing_stores = [s for s in stores if not (root / s).is_dir()]
    if missing_stores:
        raise DataError(
            f"store folder(s) {', '.join(missing_stores)} not found under {root}; "
            f"present: {', '.join(list_stores(root)) or 'none'}"
        )
    panoramas, missing = [], []
    for store in stores:
        for image in sorted((root / store).iterdir()):
            if not image.is_file() or image.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            item = Panorama(
                store,
                image.stem,
                image,
                image.with_suffix(".png"),
                root / store / "label" / f"{image.stem}.png",
            )
            if not item.color_label.is_file() and not item.cached_label.is_file():
                missing.append(str(item.color_label))
            panoramas.append(item)
    if missing:
        shown = ", ".join(missing[:10]) + (", ..." if len(missing) > 10 else "")
        raise DataError(f"{len(missing)} panorama(s) have no colour label: {shown}")
    return panoramas


def id_label(panorama, table, refresh=False):
    """Raw-id label of a panorama: the cached one, or converted from colours and cached."""
    if panorama.cached_label.is_file() and not refresh:
        return read_label(panorama.cached_label)
    ids = table.classes_to_ids(table.colors_to_classes(read_image(panorama.color_label, "rgb")))
    write_png(panorama.cached_label, ids)
    return ids


def crop_name(store, name, theta, fov):
    return f"{store}_{name}_{theta}_{fov:g}"


def process_panorama(panorama, out, table, fov, count, width, height, seed=None, refresh=False):
    """Write the `count` crops of one panorama; returns their names."""
    image = read_image(panorama.image, "rgb")
    label = id_label(panorama, table, refresh)
    if label.shape != image.shape[:2]:
        raise DataError(
            f"label of {panorama.image} is {label.shape[1]}x{label.shape[0]} but the panorama is "
            f"{image.shape[1]}x{image.shape[0]}: its crops would not match"
        )
    if seed is None:
        rng = np.random.default_rng()
    else:
        # Seeded per panorama so results do not depend on the thread schedule.
        key = zlib.crc32(f"{panorama.store}/{panorama.name}".encode())
        rng = np.random.default_rng([seed, key])
    names = []
    for theta in yaw_angles(count, int(rng.integers(0, 360))):
        name = crop_name(panorama.store, panorama.name, theta, fov)
        write_image(Path(out) / "image" / f"{name}.jpg", crop(image, theta, fov, width, height))
        write_png(Path(out) / "label" / f"{name}.png", crop(label, theta, fov, width, height, True))
        names.append(name)
    return names


def preprocess(
    root,
    stores,
    out,
    table,
    fov=50,
    count=10,
    width=1024,
    height=768,
    threads=3,
    seed=None,
    refresh=False,
    progress=True,
):
    """Crop every panorama of the stores; returns (number of panoramas, number of crops)."""
    panoramas = find_panoramas(root, stores)
    if not panoramas:
        raise DataError(f"no .jpg panoramas in {root}/{{{','.join(stores)}}}")
    crops = 0
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        jobs = [
            pool.submit(process_panorama, p, out, table, fov, count, width, height, seed, refresh)
            for p in panoramas
        ]
        for job in progress_bar(as_completed(jobs), total=len(jobs), enabled=progress, unit="pano"):
            crops += len(job.result())
    return len(panoramas), crops
