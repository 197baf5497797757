"""Cut equirectangular panoramas into perspective training crops.

  python tools/preprocessPanorama.py --root data/panorama_raw --fov 50 --count 10

Input: <root>/<store>/<name>.jpg with its colour label <root>/<store>/<name>.png (colours of
--color-map). Labels are converted to raw ids (unknown colours -> 255) and cached in
<root>/<store>/label/<name>.png. Output: <out>/image/<store>_<name>_<theta>_<fov>.jpg and
<out>/label/<store>_<name>_<theta>_<fov>.png. --fov is the vertical field of view; fov 50/60/70
with 10/9/8 crops per panorama makes neighbouring crops overlap by about half.
"""

import sys
from pathlib import Path

import _init_paths  # noqa: F401

from datatools.panorama import list_stores, preprocess
from utils import cli
from utils.allocator import set_allocator_options
from utils.colormap import ClassTable
from utils.errors import DataError


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument(
        "--root", default="data/panorama_raw", help="folder of store folders (default: %(default)s)"
    )
    parser.add_argument(
        "--stores", nargs="+", default=None, help="store folders to cut (default: all under --root)"
    )
    parser.add_argument("--out", default=None, help="output folder (default: <root>/merge)")
    parser.add_argument("--threads", type=int, default=3, help="parallel panoramas (default: 3)")
    parser.add_argument(
        "--fov", type=float, default=50, help="vertical field of view, degrees (default: 50)"
    )
    parser.add_argument("--count", type=int, default=10, help="crops per panorama (default: 10)")
    parser.add_argument("--width", type=int, default=1024, help="crop width (default: 1024)")
    parser.add_argument("--height", type=int, default=768, help="crop height (default: 768)")
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the start angles (default: random)"
    )
    parser.add_argument(
        "--color-map", default="colorMap.txt", help="class table (default: %(default)s)"
    )
    parser.add_argument(
        "--refresh-labels",
        action="store_true",
        help="convert the colour labels again instead of reading <store>/label/ (after editing "
        "the class table)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    cli.add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.count < 1 or args.width < 1 or args.height < 1:
        parser.error("--count, --width and --height must be positive")
    if not 0 < args.fov < 180:
        parser.error(f"--fov must be between 0 and 180 degrees, got {args.fov:g}")
    return args


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out) if args.out else Path(args.root) / "merge"
    stores = args.stores or list_stores(args.root, exclude=[out])
    if not stores:
        raise DataError(f"no store folders under {args.root}")
    table = ClassTable.from_file(args.color_map)
    panoramas, crops = preprocess(
        args.root,
        stores,
        out,
        table,
        fov=args.fov,
        count=args.count,
        width=args.width,
        height=args.height,
        threads=args.threads,
        seed=args.seed,
        refresh=args.refresh_labels,
        progress=not args.quiet,
    )
    print(f"{panoramas} panoramas from {len(stores)} store(s) -> {crops} crops in {out}")
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(cli.run_tool(main))
