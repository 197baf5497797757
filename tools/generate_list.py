"""Write the list files of a dataset: the panorama layout or the DeepGlobe x/ + y/ layout.

  python tools/generate_list.py --data-dir data/panorama_raw/merge --ratio 4 1 1 --seed 0
  python tools/generate_list.py --layout deepglobe --data-dir data/urbanisation [--val-ratio]

panorama (default): reads <data-dir>/label/*.png (and checks <data-dir>/image/<name>.jpg), leaves
out labels with more than --max-ignore of their pixels at the ignore value, shuffles the rest
with --seed and cuts it by --ratio (train val test). Lists hold base names, one per line; the
names left out and why go to dropped.txt next to them.

deepglobe (the land-use fork's lst_transform and split_train_test): one <split>.lst per folder
x/<split>/, "x/<split>/<image> y/<split>/<label>" per line (the image alone when y/<split>/ is
missing, as for test), images and labels paired in sorted order. --val-ratio R cuts x/train's
pairs into train.lst and val.lst: shuffled with --seed, the first R of them (default 0.18) to
val, the fork's split; no file is moved, and an R that leaves either list empty is an error.
Lists go to <data-dir>/../list/<data-dir name>/ (data/list/urbanisation for data/urbanisation)
unless --out says otherwise.
"""

import sys
from pathlib import Path

import _init_paths  # noqa: F401

from datatools.splits import (
    deepglobe_lists,
    screen_labels,
    split_names,
    write_list_files,
    write_lists,
)
from utils import cli
from utils.allocator import set_allocator_options

PANORAMA_DEFAULTS = {"ratio": (4, 1, 1), "max_ignore": 0.01, "ignore_label": 255, "seed": 0}
DEEPGLOBE_SEED = 2  # the land-use fork's random.seed(2)


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument(
        "--layout",
        choices=("panorama", "deepglobe"),
        default="panorama",
        help="image/ + label/ with base-name lists (default), or DeepGlobe x/<split>/ + "
        "y/<split>/ with <split>.lst lists",
    )
    parser.add_argument(
        "--data-dir",
        default="data/panorama_raw/merge",
        help="folder holding image/ and label/, or x/ and y/ (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="where the lists go (default: --data-dir; deepglobe: <data-dir>/../list/<name>)",
    )
    cli.add_split_arguments(parser, PANORAMA_DEFAULTS["ratio"])
    parser.set_defaults(ratio=None, seed=None)  # resolved per --layout below
    parser.add_argument(
        "--val-ratio",
        type=float,
        nargs="?",
        const=0.18,
        default=None,
        metavar="R",
        help="deepglobe: cut x/train's pairs into train and val lists, R of them to val "
        f"(R defaults to 0.18, the land-use fork's ratio; --seed defaults to {DEEPGLOBE_SEED}, "
        "the fork's, and --ratio does not apply)",
    )
    parser.add_argument(
        "--max-ignore",
        type=float,
        default=None,
        help="panorama: largest fraction of ignore pixels a kept label may have "
        "(default: 0.01 = 1%%)",
    )
    parser.add_argument(
        "--ignore-label", type=int, default=None, help="panorama: ignore value (default: 255)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    cli.add_debug_argument(parser)
    args = parser.parse_args(argv)
    panorama_only = ("ratio", "max_ignore", "ignore_label")
    if args.layout == "deepglobe":
        given = [name for name in panorama_only if getattr(args, name) is not None]
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            parser.error(f"{flags} apply to the panorama layout only")
        if args.seed is None:
            args.seed = DEEPGLOBE_SEED
        if args.val_ratio is not None and not 0 <= args.val_ratio <= 1:
            parser.error(f"--val-ratio is a fraction in [0, 1], got {args.val_ratio}")
        return args
    if args.val_ratio is not None:
        parser.error("--val-ratio applies to the deepglobe layout only (panorama: --ratio)")
    for name, value in PANORAMA_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if any(r < 0 for r in args.ratio) or sum(args.ratio) <= 0:
        parser.error(f"--ratio needs non-negative numbers with a positive sum, got {args.ratio}")
    if not 0 <= args.max_ignore <= 1:
        parser.error(f"--max-ignore is a fraction in [0, 1], got {args.max_ignore}")
    return args


def panorama(args):
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


def deepglobe(args):
    data_dir = Path(args.data_dir)
    lists = deepglobe_lists(data_dir, args.val_ratio, args.seed)
    out = Path(args.out) if args.out else data_dir.absolute().parent / "list" / data_dir.name
    for split, path in write_list_files(lists, out).items():
        kind = "pairs" if len(lists[split][0]) == 2 else "images"
        print(f"{split}: {len(lists[split])} {kind} -> {path}")


def main(argv=None):
    args = parse_args(argv)
    (deepglobe if args.layout == "deepglobe" else panorama)(args)
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(cli.run_tool(main))
