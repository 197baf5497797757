r"""Draw the training loss, learning rate and validation mIoU of one or several runs into a PNG.

  python tools/plot_runs.py output/custom/seg_hrnet_w18_small_v1_demo --out demo_run.png
  python tools/plot_runs.py output/cityscapes/run_a output/cityscapes/run_b \
      --legend "lr 0.01" "lr 0.005" --out compare.png
  python tools/plot_runs.py old_run/seg_hrnet_w48_2020-06-01-10-00_train.log --out old.png

Each RUN is a run folder (its metrics.jsonl, else its newest *_train.log), a metrics.jsonl file
or a training log of this project or of the original code. The x axis is the epoch (steps
inside an epoch at fractions of it); every parameter group's learning rate is drawn.
"""

import sys
from pathlib import Path

import _init_paths  # noqa: F401

from core.run_log import read_run
from utils import cli
from utils.allocator import set_allocator_options
from utils.charts import run_curves_figure, save_figure
from utils.errors import UserError


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folders, metrics.jsonl or logs")
    parser.add_argument(
        "--out", default="output/runs.png", help="PNG to write (default: %(default)s)"
    )
    parser.add_argument("--legend", nargs="+", help="a name per run (default: the folder names)")
    parser.add_argument("--title", default=None, help="a title above the charts")
    cli.add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.legend and len(args.legend) != len(args.runs):
        parser.error(f"--legend has {len(args.legend)} names for {len(args.runs)} runs")
    return args


def run_name(path):
    """A run's default legend: the run folder's name."""
    path = Path(path)
    return path.name if path.is_dir() else path.parent.name or path.stem


def main(argv=None):
    args = parse_args(argv)
    names = args.legend or [run_name(path) for path in args.runs]
    if len(set(names)) < len(names):
        names = [str(Path(path)) for path in args.runs]
    runs = {}
    for name, path in zip(names, args.runs, strict=True):
        records = read_run(path)
        if not records:
            raise UserError(f"{path} holds no training or validation record")
        runs[name] = records
    figure = run_curves_figure(runs)
    if args.title:
        figure.suptitle(args.title)
    print(f"wrote {save_figure(figure, args.out)}")
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(cli.run_tool(main))
