"""Image files of a folder and what their headers say (mode, size), without decoding them;
reading and writing them is utils.image_io."""

from pathlib import Path

from PIL import Image

from utils.errors import DataError

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
