"""Write train_list.txt, val_list.txt and test_list.txt for a panorama-style dataset.

  python tools/generate_list.py --data-dir data/panorama_raw/merge --ratio 4 1 1 --seed 0

Reads <data-dir>/label/*.png (and checks <data-dir>/image/<name>.jpg), leaves out labels with
more than --max-ignore of their pixels at the ignore value, shuffles the rest with --seed and
cuts it by --ratio (train val test). Lists hold base names, one per line; the names left out
and why go to dropped.txt next to them.
"""

import sys
from pathlib import Path

import _init_paths  # noqa: F401

from datatools.splits import screen_labels, split_names, write_lists
from utils import cli
from utils.allocator import set_allocator_options
from utils.cli import add_split_arguments


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument(
        "--data-dir",
        default="data/panorama_raw/merge",
        help="folder holding image/ and label/ (default: %(default)s)",
    )
    parser.add_argument("--out", default=None, help="where the lists go (default: --data-dir)")
    add_split_arguments(parser, (4, 1, 1))
    parser.add_argument(
        "--max-ignore",
        type=float,
        default=0.01,
        help="largest fraction of ignore pixels a kept label may have (default: 0.01 = 1%%)",
    )
    parser.add_argument("--ignore-label", type=int, default=255, help="ignore value (default: 255)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if any(r < 0 for r in args.ratio) or sum(args.ratio) <= 0:
        parser.error(f"--ratio needs non-negative numbers with a positive sum, got {args.ratio}")
    if not 0 <= args.max_ignore <= 1:
        parser.error(f"--max-ignore is a fraction in [0, 1], got {args.max_ignore}")
    return args


def main(argv=None):
    args = parse_args(argv)
    data_dir = Path(args.data_dir)
    # The original README pointed at .../merge/label; accept that as the dataset folder.
    if data_dir.name == "label" and not (data_dir / "label").is_dir():
        data_dir = data_dir.parent
    kept, dropped = screen_labels(data_dir, args.max_ignore, args.ignore_label, not args.quiet)
    splits = split_names(kept, args.ratio, args.seed)
    written = write_lists(splits, args.out or data_dir, dropped)
    too_many = sum(kind == "ignore" for _, kind, _ in dropped)
    print(
        f"{len(kept) + len(dropped)} labels: {len(kept)} kept, {len(dropped)} dropped "
        f"({too_many} with more than {100 * args.max_ignore:g}% ignore pixels, "
        f"{len(dropped) - too_many} without an image; see dropped.txt)"
    )
    for split, path in written.items():
        print(f"{split}: {len(splits[split])} -> {path}")
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(main())
