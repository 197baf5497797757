"""Class balance of a dataset: per-class mean and variance of the pixel count per image, per split.

  python tools/analysisData.py --data-dir data/panorama --plot class_means.png

Reads <data-dir>/<split>_list.txt (base names) and <data-dir>/label/<name>.png. Labels hold the
raw ids of --color-map (as tools/preprocessPanorama.py writes them); --values classes counts
class indices 0..K-1 instead. Prints a table (class, value, mean per split, variance per split;
population variance as the original), writes it as CSV and optionally draws a bar chart.
"""

import sys
from pathlib import Path

import _init_paths  # noqa: F401
import numpy as np

from datatools.statistics import class_statistics, format_table, rows, write_csv
from utils import cli
from utils.allocator import set_allocator_options
from utils.charts import class_means_figure, save_figure
from utils.colormap import ClassTable


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument(
        "--data-dir",
        default="data/panorama_raw/merge",
        help="folder holding label/ and the lists (default: %(default)s)",
    )
    parser.add_argument(
        "--splits",
        nargs="+",
        default=["val", "test", "train"],
        help="lists <split>_list.txt to analyse (default: val test train)",
    )
    cli.add_class_table_arguments(parser)
    parser.add_argument(
        "--csv", default=None, help="CSV output (default: <data-dir>/class_statistics.csv)"
    )
    parser.add_argument(
        "--plot",
        default=None,
        help="also draw the means (and standard deviations) as a bar chart PNG",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    cli.add_debug_argument(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    table = ClassTable.from_file(args.color_map)
    ids = args.values == "ids"
    values = table.ids if ids else np.arange(len(table))
    ignored = table.ignored_ids.tolist() if ids else ()
    stats = class_statistics(args.data_dir, args.splits, values, not args.quiet, ignored)
    header, body = rows(table.names, values, stats)
    print(format_table(header, body))
    csv_path = Path(args.csv) if args.csv else Path(args.data_dir) / "class_statistics.csv"
    write_csv(csv_path, header, body)
    print(f"table -> {csv_path}")
    if args.plot:
        save_figure(class_means_figure(table.names, stats), args.plot)
        print(f"chart -> {args.plot}")
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(cli.run_tool(main))
