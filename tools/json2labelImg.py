r"""Polygon annotations (JSON) -> label PNGs: labelme, Cityscapes and daodixian jobs.

  python tools/json2labelImg.py annotations/ --format labelme --out data/mydata/label
  python tools/json2labelImg.py gtFine/train --format cityscapes
  python tools/json2labelImg.py job-365971-1.json --format daodixian \
      --image-root /data/daodixian_seg/images --save-dir data/daodixian_seg --copy-images

labelme: shape labels are class names of --color-map; written as their raw ids on --background
(default 255 = ignore) to <out>/<json name>.png (--out defaults to the JSON's folder).
Cityscapes: `*_gtFine_polygons.json` -> `*_gtFine_labelIds.png` next to it (or in --out).
daodixian: normalised polygons of one class (wire = 1 on 0); every --val-every-th annotated
item goes to val: <save-dir>/{train,val}_<tag>/annotations/<name>.png and the lists
<list-dir>/{train,val}_<tag>.lst. --encoding color writes class colours instead of ids.
Inputs may be JSON files or folders (searched recursively for *.json).
"""

import sys

import _init_paths  # noqa: F401

from datatools.polygons import (
    ENCODINGS,
    FORMATS,
    convert_daodixian,
    convert_file,
    detect_format,
    json_files,
    load_json,
)
from utils import cli
from utils.allocator import set_allocator_options
from utils.colormap import ClassTable
from utils.errors import ConfigError
from utils.logger import progress_bar


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument("inputs", nargs="+", help="JSON files or folders of them")
    parser.add_argument(
        "--format",
        choices=("auto", *FORMATS),
        default="auto",
        help="annotation format (default: detected per file)",
    )
    parser.add_argument(
        "--encoding", choices=ENCODINGS, default="ids", help="ids or colours (default: ids)"
    )
    parser.add_argument(
        "--out", default=None, help="labelme/Cityscapes output folder (default: beside the JSON)"
    )
    parser.add_argument(
        "--color-map", default="colorMap.txt", help="labelme class table (default: %(default)s)"
    )
    parser.add_argument(
        "--background",
        type=int,
        default=255,
        help="labelme: id of unannotated pixels (default: 255 = ignore)",
    )
    daodixian = parser.add_argument_group("daodixian jobs")
    daodixian.add_argument("--image-root", default=None, help="folder of the job's images")
    daodixian.add_argument(
        "--save-dir", default="data/daodixian_seg", help="dataset folder (default: %(default)s)"
    )
    daodixian.add_argument(
        "--list-dir",
        default="data/list/daodixian_seg",
        help="where the .lst files go (default: %(default)s)",
    )
    daodixian.add_argument(
        "--tag", default="1209", help="split folder / list suffix (default: %(default)s)"
    )
    daodixian.add_argument(
        "--val-every",
        type=int,
        default=8,
        help="every N-th annotated item goes to val; 0: none (default: 8)",
    )
    daodixian.add_argument(
        "--copy-images", action="store_true", help="copy the images into <split>_<tag>/images/"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    cli.add_debug_argument(parser)
    args = parser.parse_args(argv)
    if not 0 <= args.background <= 255:
        parser.error(f"--background must be in 0..255, got {args.background}")
    if args.val_every < 0:
        parser.error(f"--val-every must be >= 0, got {args.val_every}")
    return args


def main(argv=None):
    args = parse_args(argv)
    by_format = {fmt: [] for fmt in FORMATS}
    for path in json_files(args.inputs):
        fmt = args.format
        if fmt == "auto":
            fmt = detect_format(load_json(path), str(path))
        by_format[fmt].append(path)
    table = ClassTable.from_file(args.color_map) if by_format["labelme"] else None
    skipped = 0
    for fmt in ("labelme", "cityscapes"):
        for path in progress_bar(by_format[fmt], enabled=not args.quiet and bool(by_format[fmt])):
            _, n = convert_file(path, fmt, args.encoding, args.out, table, args.background)
            skipped += n
        if by_format[fmt]:
            print(f"{fmt}: {len(by_format[fmt])} label image(s) written")
    if skipped:
        print(f"labelme: {skipped} line/point shape(s) skipped (they cover no area)")
    if by_format["daodixian"]:
        if not args.image_root:
            raise ConfigError("daodixian jobs need --image-root (the folder of the images)")
        counts = convert_daodixian(
            by_format["daodixian"],
            args.image_root,
            args.save_dir,
            args.list_dir,
            args.tag,
            args.val_every,
            args.encoding,
            args.copy_images,
            progress=not args.quiet,
        )
        print(
            f"daodixian: {counts['train']} train, {counts['val']} val -> {args.save_dir}; "
            f"lists in {args.list_dir}"
        )
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(cli.run_tool(main))
