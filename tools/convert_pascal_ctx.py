"""Turn the PASCAL-Context Detail-API annotations into label PNGs and train/val list files.

  python tools/convert_pascal_ctx.py --root data/pascal_ctx

reads <root>/VOCdevkit/VOC2010/trainval_merged.json (or --json), writes
<root>/VOCdevkit/VOC2010/SegmentationClassContext/<id>.png (0 background, 1..59 the classes) and
<root>/train.lst, <root>/val.lst. With --root DATASET.ROOT/pascal_ctx the pascal_ctx experiment
YAMLs (TRAIN_SET train, TEST_SET val) read them as they are. RLE annotations need pycocotools
(pip install -r requirements-data.txt).
"""

import sys
from pathlib import Path

import _init_paths  # noqa: F401

from datasets.pascal_ctx import VOC_DIR, convert_detail_json
from utils import cli
from utils.allocator import set_allocator_options
from utils.errors import DataError


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument(
        "--root", default="data/pascal_ctx", help="folder holding VOCdevkit/ (default: %(default)s)"
    )
    parser.add_argument(
        "--json", default=None, help=f"annotations (default: <root>/{VOC_DIR}/trainval_merged.json)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    cli.add_debug_argument(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    root = Path(args.root)
    json_file = Path(args.json) if args.json else root / VOC_DIR / "trainval_merged.json"
    if not json_file.is_file():
        raise DataError(f"annotation file {json_file} does not exist (see --json)")
    written = convert_detail_json(json_file, root, show_progress=not args.quiet)
    for phase, (path, count) in written.items():
        print(f"{phase}: {count} images -> {path}")
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(cli.run_tool(main))
