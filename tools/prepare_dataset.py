r"""Turn a folder of images and a folder of labels into a dataset tools/train.py trains on.

  python tools/prepare_dataset.py --images data/mydata/images --labels data/mydata/labels
  python tools/prepare_dataset.py --images data/mydata/images --labels data/mydata/labels \
      --model ocr-w48 --crop 768 768 --ratio 7 2 1 --class-weights median
  python tools/prepare_dataset.py --labels data/mydata/labels      # only look at the labels

Images and labels are paired by their path without extension (images/a/1.jpg <-> labels/a/1.png).
Labels are PNGs holding, per pixel, a raw class id (grey or palette PNG; 255 = ignored) or a class
colour (RGB PNG). The tool refuses unpaired files, folders mixing id and colour labels, and
labels whose size differs from their image, naming the files. It prints every value found with
its pixel share and the number of images holding it, then writes, in --out (default: the folder
holding images and labels):

  colorMap.txt              one class per value found, `name id R G B`: rename the classes
  train.lst, val.lst        `image label` per line, a seeded split by --ratio (test.lst too if
                            its share is not 0)
  experiments/<out name>/<model>_<W>x<H>.yaml    (--yaml) the `custom` dataset with the model,
                            loss and optimiser of --model, the --crop, TRAIN.BASE_SIZE = the
                            median long side of the images, and --class-weights if asked

and prints the train command. With --labels only, it writes colorMap.txt and prints the values.
Nothing is overwritten without --force.

--class-weights (DATASET.CLASS_WEIGHTS, from the training split): `median` is median frequency
balancing, w_c = median(f) / f_c with f_c = pixels of class c / pixels of the images holding c;
`enet` is w_c = 1 / ln(1.02 + p_c) with p_c the share of class c in all class pixels.
"""

import sys

import _init_paths  # noqa: F401

import datasets
from config import load_config
from datatools.prepare import MODEL_TEMPLATES, WEIGHTINGS, format_values, prepare
from utils import cli
from utils.allocator import set_allocator_options
from utils.cli import add_split_arguments, run_tool, shown_path


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument(
        "--labels", required=True, help="folder of label PNGs (searched recursively)"
    )
    parser.add_argument("--images", default=None, help="folder of images (searched recursively)")
    parser.add_argument(
        "--out", default=None, help="where colorMap.txt and the lists go; DATASET.ROOT"
    )
    parser.add_argument("--yaml", default=None, help="the experiment YAML to write")
    parser.add_argument(
        "--model",
        default="w18-small-v1",
        help=f"{', '.join(MODEL_TEMPLATES)} or an experiment YAML to copy the model from "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--crop",
        type=int,
        nargs=2,
        default=(512, 512),
        metavar=("WIDTH", "HEIGHT"),
        help="training crop and test window (default: 512 512)",
    )
    add_split_arguments(parser, (8, 2, 0))
    parser.add_argument(
        "--class-weights",
        choices=WEIGHTINGS,
        default="none",
        help="loss weights from the class frequencies (default: none; see above)",
    )
    parser.add_argument(
        "--ignore",
        nargs="+",
        default=(),
        metavar="VALUE",
        help="label values that are no class: ids (0) or colours (224,224,192); id 255 always",
    )
    parser.add_argument("--epochs", type=int, default=100, help="TRAIN.END_EPOCH (default: 100)")
    parser.add_argument(
        "--batch-size", type=int, default=8, help="TRAIN.BATCH_SIZE_PER_GPU (default: 8)"
    )
    parser.add_argument("--workers", type=int, default=4, help="WORKERS (default: 4)")
    parser.add_argument("--force", action="store_true", help="replace files that exist")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    cli.add_debug_argument(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    result = prepare(
        args.labels,
        args.images,
        args.out,
        args.yaml,
        args.model,
        tuple(args.crop),
        tuple(args.ratio),
        args.seed,
        args.class_weights,
        args.ignore,
        args.epochs,
        args.batch_size,
        args.workers,
        args.force,
        progress=not args.quiet,
    )
    kind = "id labels (single-channel PNG)" if result.kind == "ids" else "colour labels (RGB PNG)"
    print(f"{len(result.pairs)} {kind}; values found:")
    print(format_values(result.found, result.kind))
    for what, path in result.files.items():
        count = result.counts.get(what.split()[0])
        pairs = f" ({count} pairs)" if count is not None else ""
        print(f"wrote {what}: {shown_path(path)}{pairs}")
    if result.weights:
        print(f"class weights ({args.class_weights}): {result.weights}")
    for note in result.notes:
        print(f"note: {note}")
    if "experiment" in result.files:
        cfg_file = result.files["experiment"]
        datasets.build_dataset(load_config(cfg_file), "train")  # the YAML and its lists load
        print(f"edit the class names in {shown_path(result.files['class table'])}, then train:")
        print(f"  python tools/train.py --cfg {shown_path(cfg_file)}")
    else:
        print("with --images the lists and an experiment YAML are written too")
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(run_tool(main))
