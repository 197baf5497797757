r"""Cut large images and their labels into square tiles (the land-use fork's cut_add_frame_v4).

  python tools/tile_images.py --input data/deepglobe/x --output data/urbanisation/x/train
  python tools/tile_images.py --input data/deepglobe/y --output data/urbanisation/y/train \
      --size 1024 --overlap 0 --edge pad --pad-value 0

Every image under --input (a file, or a folder searched recursively) becomes
<output>/<its sub-folder>/<name>_<k><ext>, k = 1, 2, ... over the tile grid row by row. Tiles
are --size pixels square and --overlap pixels apart; the incomplete tiles at the right and
bottom edges are padded with --pad-value (--edge pad, the default) or left out as the fork did
(--edge drop). Run it once on the images and once on the labels with the same settings: the tile
names then pair up. Labels keep their pixel values (grey, palette or colour PNG).
"""

import sys
from pathlib import Path

import _init_paths  # noqa: F401

from datatools.io import IMAGE_SUFFIXES, image_files
from datatools.tiles import EDGES, tile_file
from utils import cli
from utils.allocator import set_allocator_options
from utils.errors import DataError
from utils.logger import progress_bar


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument(
        "--input", required=True, help="an image or a folder (searched recursively)"
    )
    parser.add_argument("--output", required=True, help="folder for the tiles")
    parser.add_argument("--size", type=int, default=1024, help="tile side (default: 1024)")
    parser.add_argument(
        "--overlap", type=int, default=0, help="pixels shared by neighbouring tiles (default: 0)"
    )
    parser.add_argument(
        "--edge",
        choices=EDGES,
        default="pad",
        help="incomplete edge tiles: pad them to --size (default) or drop them (the fork)",
    )
    parser.add_argument(
        "--pad-value",
        type=int,
        default=0,
        help="value of the padding, every channel (default: 0; e.g. 255 for labels where 255 "
        "is ignored)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    cli.add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error(f"--size must be positive, got {args.size}")
    if not 0 <= args.overlap < args.size:
        parser.error(f"--overlap must be in [0, --size), got {args.overlap}")
    if not 0 <= args.pad_value <= 65535:  # 8-bit images take 0-255: checked per image
        parser.error(f"--pad-value must be in [0, 65535], got {args.pad_value}")
    return args


def find_images(source):
    """[(image, output sub-folder)] of an image file or a folder searched recursively."""
    source = Path(source)
    if source.is_file():
        return [(source, Path())]
    if not source.is_dir():
        raise DataError(f"input {source} does not exist")
    images = image_files(source)
    if not images:
        raise DataError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {source}")
    return [(p, p.parent.relative_to(source)) for p in images]


def main(argv=None):
    args = parse_args(argv)
    images = find_images(args.input)
    output = Path(args.output)
    count, empty = 0, []
    for path, folder in progress_bar(images, enabled=not args.quiet, unit="img"):
        written = tile_file(
            path, output / folder, args.size, args.overlap, args.edge, args.pad_value
        )
        count += len(written)
        if not written:
            empty.append(path.name)
    print(f"{len(images)} image(s) -> {count} tiles of {args.size}x{args.size} in {output}")
    if empty:
        print(
            f"{len(empty)} image(s) smaller than a tile gave none with --edge drop: "
            + ", ".join(empty),
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(cli.run_tool(main))
