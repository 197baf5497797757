"""Cut large images (satellite scenes and their labels) into square tiles.

The land-use fork's cut_add_frame_v4 cut every image into non-overlapping 1024x1024 tiles and
dropped the incomplete ones at the right and bottom edges; a tile is written as
`<name>_<k><ext>`, k = 1, 2, ... over the grid row by row. Here tiles may overlap, and edge tiles
are padded to the full size by default instead of dropped, so no pixel is lost; the naming is
the same. Images keep their mode (grey, palette, RGB, 16-bit), so labels stay exact.
"""

import math
from pathlib import Path

from PIL import Image

from utils.errors import DataError

Image.MAX_IMAGE_PIXELS = None  # satellite mosaics are larger than PIL's bomb limit

EDGES = ("pad", "drop")


def tile_starts(length, size, stride, edge="pad"):
    """Start offsets of the tiles along one side of `length` pixels: every `stride`; with "pad"
    the last tile reaches past the end (and is padded), with "drop" only whole tiles."""
    if edge == "drop":
        return list(range(0, length - size + 1, stride))
    return [i * stride for i in range(1 + math.ceil(max(length - size, 0) / stride))]


def cut_tiles(image, size, overlap=0, edge="pad", pad_value=0):
    """[(k, tile)] of a PIL image: `size` x `size` tiles `overlap` pixels apart, numbered from 1
    row by row; edge tiles padded with `pad_value` (every band) or dropped."""
    if edge not in EDGES:
        raise ValueError(f"edge must be one of {', '.join(EDGES)}, got {edge!r}")
    if not 0 <= overlap < size:
        raise ValueError(f"overlap must be in [0, {size}) for {size}-pixel tiles, got {overlap}")
    width, height = image.size
    stride = size - overlap
    rows = tile_starts(height, size, stride, edge)
    columns = tile_starts(width, size, stride, edge)
    tiles = []
    for row, y in enumerate(rows):
        for column, x in enumerate(columns):
            tile = image.crop((x, y, min(x + size, width), min(y + size, height)))
            if tile.size != (size, size):
                tile = _padded(tile, size, pad_value)
            tiles.append((row * len(columns) + column + 1, tile))
    return tiles


def _padded(tile, size, pad_value):
    bands = len(tile.getbands())
    canvas = Image.new(tile.mode, (size, size), pad_value if bands == 1 else (pad_value,) * bands)
    if tile.mode == "P":
        canvas.putpalette(tile.getpalette())
    canvas.paste(tile, (0, 0))
    return canvas


def tile_file(path, out_dir, size, overlap=0, edge="pad", pad_value=0):
    """Cut `path` into `out_dir/<stem>_<k><suffix>` files; returns their paths."""
    path, out_dir = Path(path), Path(out_dir)
    try:
        with Image.open(path) as image:
            image.load()
    except OSError as error:
        raise DataError(f"cannot read image {path}: {error}") from None
    if image.mode in ("1", "L", "P", "RGB", "RGBA", "CMYK", "LA") and pad_value > 255:
        raise DataError(f"--pad-value {pad_value} does not fit the 8-bit image {path} (0-255)")
    out_dir.mkdir(parents=True, exist_ok=True)
    # JPEG at quality 100, as the fork wrote its tiles; PNG is lossless anyway.
    options = {"quality": 100} if path.suffix.lower() in (".jpg", ".jpeg") else {}
    written = []
    for k, tile in cut_tiles(image, size, overlap, edge, pad_value):
        target = out_dir / f"{path.stem}_{k}{path.suffix}"
        tile.save(target, **options)
        written.append(target)
    return written
