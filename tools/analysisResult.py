r"""Rank saved predictions by pixel accuracy; show the easiest and hardest images.

  python tools/analysisResult.py --data-dir data/panorama --pred-dir data/panorama/predict \
      --out-dir data/panorama/output --top-k 20

For every <pred-dir>/<name>.png (raw ids, as tools/test.py saves them; class indices with
--pred-values classes) against <data-dir>/label/<name>.png (raw ids of
--color-map, or class indices with --values classes; with --compress-map, raw ids are scored as
its merged classes): the pixel accuracy over labelled pixels
(--count-ignore: over all pixels, unlabelled ones counting as errors, as the original did).
Writes <out-dir>/scores.csv (every image, most accurate first) and, for the --top-k most and
least accurate, <out-dir>/easy/ and <out-dir>/hard/<rank>_<name>_compare.png:
image | label colours | prediction colours.
"""

import sys
from pathlib import Path

import _init_paths  # noqa: F401

from datatools.results import rank, score_folder, write_comparisons, write_scores
from utils import cli
from utils.allocator import set_allocator_options
from utils.colormap import ClassTable


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument(
        "--data-dir",
        default="data/panorama",
        help="folder holding image/ and label/ (default: %(default)s)",
    )
    parser.add_argument(
        "--pred-dir",
        default="data/panorama/predict",
        help="prediction PNGs, raw ids or class indices (--pred-values) (default: %(default)s)",
    )
    parser.add_argument(
        "--out-dir",
        default="data/panorama/output",
        help="where scores.csv, easy/ and hard/ go (default: %(default)s)",
    )
    parser.add_argument(
        "--top-k", type=int, default=20, help="images in easy/ and in hard/ (default: 20)"
    )
    cli.add_class_table_arguments(parser)
    parser.add_argument(
        "--compress-map",
        default=None,
        help="class merging table ('name R G B id1 id2 ...', the panorama fork's compressMap.txt, "
        "DATASET.COMPRESS_MAP of the run): score and colour its classes instead of --color-map's",
    )
    parser.add_argument(
        "--pred-values",
        choices=("ids", "classes"),
        default="ids",
        help="prediction pixels are raw ids (default: what tools/test.py writes) or class "
        "indices (tools/pipeline.py's labels/ folder)",
    )
    parser.add_argument(
        "--count-ignore",
        action="store_true",
        help="score over all pixels, unlabelled (255) ones counting as errors",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    cli.add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.top_k < 0:
        parser.error(f"--top-k must be >= 0, got {args.top_k}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.compress_map:
        table = ClassTable.from_compress_file(args.compress_map)
    else:
        table = ClassTable.from_file(args.color_map)
    scores = score_folder(
        args.data_dir,
        args.pred_dir,
        table,
        args.values,
        args.count_ignore,
        not args.quiet,
        args.pred_values,
    )
    ranked = rank(scores)
    unscored = [s for s in scores if not s.counted]
    out = Path(args.out_dir)
    write_scores(out / "scores.csv", ranked, unscored)
    k = min(args.top_k, len(ranked))
    folders = {"easy": ranked[:k], "hard": ranked[::-1][:k]}
    for folder, chosen in folders.items():
        write_comparisons(
            out / folder, chosen, args.data_dir, args.pred_dir, table, args.values, args.pred_values
        )
    if ranked:
        mean = sum(s.accuracy for s in ranked) / len(ranked)
        print(
            f"{len(ranked)} images, mean accuracy {mean:.4f}, best {ranked[0].name} "
            f"{ranked[0].accuracy:.4f}, worst {ranked[-1].name} {ranked[-1].accuracy:.4f}"
        )
    if unscored:
        print(f"{len(unscored)} image(s) without labelled pixels were not ranked")
    print(f"scores -> {out / 'scores.csv'}; {k} comparisons each in {out / 'easy'}, {out / 'hard'}")
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(cli.run_tool(main))
