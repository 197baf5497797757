"""Image and label files on any path (non-ASCII included), with errors that name the file.

Every image, label and prediction of the project is read and written here:

    read_image(path, order="bgr")   colour image, uint8 (H, W, 3), BGR (OpenCV's) or RGB
    read_label(path)                raw values of a one-channel label, uint8 or uint16 (H, W)
    write_png(path, array)          a one-channel array as a grey PNG (labels, class maps)
    write_image(path, image)        a colour picture (RGB by default); the suffix picks the format

Files are decoded from their bytes (cv2.imread / cv2.imwrite fail on non-ASCII paths on some
platforms). `where` (e.g. "list.lst:3") prefixes the error messages when given.
"""

import io
from pathlib import Path

import cv2
import numpy as np

from utils.errors import DataError

__all__ = [
    "LabelFileError",
    "decode_label",
    "describe_colour_label",
    "is_palette_png",
    "looks_like_label",
    "one_channel_label",
    "read_bytes",
    "read_image",
    "read_label",
    "write_image",
    "write_png",
]

ORDERS = ("bgr", "rgb")
JPEG_SIGNATURE = b"\xff\xd8\xff"


class LabelFileError(DataError):
    """A label file that is not what the dataset reads: a JPEG, a colour image where raw values
    are expected, colours that are not in the class table."""


def _prefix(where):
    return f"{where}: " if where else ""


def read_bytes(path, what="image", where=""):
    """The bytes of `path` as a uint8 array; DataError when it is missing or empty."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{_prefix(where)}{what} {path} does not exist")
    data = np.fromfile(path, np.uint8)
    if data.size == 0:
        raise DataError(f"{_prefix(where)}{what} {path} is empty")
    return data


def read_image(path, order="bgr", where=""):
    """A colour image, uint8 (H, W, 3), channels in `order` ("bgr" or "rgb")."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    image = cv2.imdecode(read_bytes(path, "image", where), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(
            f"{_prefix(where)}image {path} cannot be decoded "
            f"({Path(path).name}: not an image OpenCV can read)"
        )
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if order == "rgb" else image


def is_palette_png(data):
    """Whether the file bytes `data` are a palette PNG (whose indices are the label values)."""
    # PNG colour type 3 (byte 25 of the IHDR chunk) is a palette image.
    return data.size > 25 and data[1:4].tobytes() == b"PNG" and data[25] == 3


def check_not_jpeg(data, path, where=""):
    """JPEG compression changes pixel values: a JPEG label is an error, whatever its name."""
    if data[:3].tobytes() == JPEG_SIGNATURE:
        raise LabelFileError(
            f"{_prefix(where)}label {path} is a JPEG file: JPEG compression changes the label "
            "values; expected a PNG (lossless) of the raw label values"
        )


def describe_colour_label(label):
    """What a 3- or 4-channel label image looks like, for error messages."""
    channels = label[..., :3]
    if (channels == channels[..., :1]).all():
        return "is an RGB image whose three channels are equal (grey values saved as colour)"
    return f"is a colour image ({label.shape[2]} channels)"


def decode_label(data, path, where=""):
    """The label image of the file bytes `data` as OpenCV decodes it (unchanged: grey, 16-bit or
    colour); LabelFileError for a JPEG."""
    check_not_jpeg(data, path, where)
    label = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if label is None:
        raise DataError(f"{_prefix(where)}label {path} cannot be decoded as an image")
    return label


def read_label(path, where="", colour_as_grey=False):
    """The raw values of a one-channel (grey or palette) label image, uint8 or uint16 (H, W).
    `colour_as_grey`: a colour image is read as OpenCV's IMREAD_GRAYSCALE reads it (instead of
    being an error)."""
    data = read_bytes(path, "label", where)
    label = decode_label(data, path, where)
    if colour_as_grey and label.ndim == 3 and not is_palette_png(data):
        return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    return one_channel_label(data, label, path, where)


def one_channel_label(data, label, path, where=""):
    """The raw values of a label decoded by `decode_label` from the file bytes `data`: palette
    indices for a palette PNG; LabelFileError for a colour image."""
    if label.ndim == 3:
        # OpenCV expands palette PNGs to colour; the palette indices are the labels.
        from PIL import Image

        with Image.open(io.BytesIO(data.tobytes())) as pil:
            if pil.mode != "P":
                raise LabelFileError(
                    f"{_prefix(where)}label {path} {describe_colour_label(label)}; expected one "
                    "channel (a grey or palette PNG holding the raw label values)"
                )
            label = np.asarray(pil)
    if label.dtype not in (np.uint8, np.uint16):
        raise DataError(f"{_prefix(where)}label {path} is {label.dtype}; expected 8 or 16 bits")
    return label


def looks_like_label(path):
    """Whether the image file `path` has one channel (grey or palette), as labels have."""
    data = np.fromfile(path, np.uint8)
    if data[:3].tobytes() == JPEG_SIGNATURE:
        return False
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    return image is not None and (image.ndim == 2 or is_palette_png(data))


def _encode(path, array, suffix):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(suffix, array)
    if not ok:
        raise DataError(f"cannot encode a {array.dtype} array {array.shape} as {suffix} for {path}")
    data.tofile(path)
    return path


def write_png(path, array, palette=None):
    """Write a one-channel array (labels, class maps) as a PNG, creating the folder: grey, or
    with `palette` ((N, 3) RGB) a palette PNG of 8-bit indices that shows them in colour.
    uint16 stays 16-bit in a grey PNG, anything else is written as 8-bit. Returns the path."""
    array = np.asarray(array)
    if palette is None:
        return _encode(path, array if array.dtype == np.uint16 else array.astype(np.uint8), ".png")
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array.astype(np.uint8), mode="P")
    colours = np.zeros((256, 3), dtype=np.uint8)
    colours[: min(256, len(palette))] = palette[:256]
    image.putpalette(colours.flatten().tolist())
    image.save(path)
    return path


def write_image(path, image, order="rgb"):
    """Write a colour picture (H, W, 3) whose channels are in `order`, in the format of the file
    suffix (PNG without one), creating the folder. Returns the path."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if order == "rgb" else image
    return _encode(path, bgr, Path(path).suffix or ".png")
