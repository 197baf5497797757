"""Image and label files on any path (non-ASCII included), with errors that name the file."""

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from utils.errors import DataError


def read_image(path):
    """RGB uint8 image (H, W, 3); decoded from bytes so that non-ASCII paths work."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image {path} does not exist")
    image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"cannot decode image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_label(path):
    """Single-channel label image (H, W) as stored: grey values or palette indices."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"label {path} does not exist")
    try:
        with Image.open(path) as image:
            # PIL keeps palette PNGs as indices; cv2 would turn them into grey levels.
            if image.mode not in ("L", "P", "I", "I;16"):
                raise DataError(
                    f"label {path} has mode {image.mode}, expected a single-channel PNG "
                    "(grey values or a palette)"
                )
            return np.array(image)
    except OSError as error:
        raise DataError(f"cannot decode label {path}: {error}") from None


def read_color_label(path):
    """RGB label image (H, W, 3) uint8, for colour-coded annotations."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"colour label {path} does not exist")
    try:
        with Image.open(path) as image:
            return np.array(image.convert("RGB"))
    except OSError as error:
        raise DataError(f"cannot decode colour label {path}: {error}") from None


def write_label(path, label):
    """Write an (H, W) uint8 array as a grey PNG, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(label, dtype=np.uint8)).save(path)


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def image_files(folder, what="image"):
    """The image files (IMAGE_SUFFIXES) under `folder`, searched recursively, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{what} folder {folder} does not exist")
    return [
        p for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    ]


ID_MODES = ("L", "P", "I", "I;16")  # one channel: grey values or palette indices
COLOR_MODES = ("RGB", "RGBA")


def label_kind(path):
    """('ids' or 'colors', (width, height)) of a label PNG, from its header (not decoded):
    single-channel PNGs hold raw ids, RGB ones class colours, as the `custom` dataset reads them."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            mode, size = image.mode, image.size
    except OSError as error:
        raise DataError(f"cannot read label {path}: {error}") from None
    if mode in ID_MODES:
        return "ids", size
    if mode in COLOR_MODES:
        return "colors", size
    raise DataError(f"label {path} has mode {mode}; expected an 8/16-bit grey, palette or RGB PNG")


def image_size(path):
    """(width, height) of an image as OpenCV decodes it (EXIF orientation applied), from the
    header."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
            rotated = image.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # Orientation: 90 degrees
    except OSError as error:
        raise DataError(f"cannot read image {path}: {error}") from None
    return (height, width) if rotated else (width, height)
