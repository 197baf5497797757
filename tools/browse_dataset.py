r"""Look at annotations and predictions before (and after) training: pictures in a folder.

  # labels of a YAML's training list, as the dataset reads them: image | class colours over it
  python tools/browse_dataset.py labels --cfg experiments/mydata/w18-small-v1_512x512.yaml \
      --split train --out browse/train
  # polygon outlines of JSON annotations on their images (labelme, Cityscapes, power-line jobs)
  python tools/browse_dataset.py json job-365971-1.json --image-root data/daodixian_zhixian/images \
      --out browse/job --every 5 --limit 21
  python tools/browse_dataset.py json my_annotations/ --color-map data/mydata/colorMap.txt \
      --out browse/json
  # bounding boxes of predicted regions larger than 10000 pixels on the original images
  python tools/browse_dataset.py contours \
      --predictions output/daodixian_seg/seg_hrnet_ocr_w48_epoch48_1209/test_results \
      --images data/daodixian_seg/val_1209/images --out browse/boxes --min-area 10000

labels: every list entry (DATASET.TRAIN_SET for --split train, TEST_SET for val, or --list) is
read through the YAML's dataset (its label mapping and class table) and written as
<out>/<name>.jpg: the image and, beside it, the class colours blended over it with ignored
pixels dimmed; <out>/legend.png names the colours.

json: labelme files (their imagePath, else an image of the JSON's name under --image-root),
Cityscapes *_gtFine_polygons.json (the *_leftImg8bit image under --image-root) and daodixian
jobs (the item's image under --image-root); shapes are outlined in their class colour with
their label (daodixian: the fork's blue, no text). Writes <out>/<image name>.jpg.

contours: every PNG of --predictions with the image of the same name under --images; regions
are the pixels above --threshold (default 127, the fork's 0/255 masks) or with a value in
--classes; their outer contours with an area above --min-area are drawn as bounding boxes
(green), contours (red) or both. Writes <out>/<name>.jpg and <out>/regions.csv.
"""

import argparse
import csv
import sys
from pathlib import Path

import _init_paths  # noqa: F401

import datasets
from config import load_config
from datasets import palette_for
from datatools import browse
from datatools.polygons import daodixian_items, detect_format, json_files
from utils import cli
from utils.allocator import set_allocator_options
from utils.cli import run_tool
from utils.colormap import ClassTable
from utils.errors import DataError
from utils.image_io import read_image, read_label, write_image
from utils.logger import progress_bar
from utils.text import load_json


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out", required=True, help="folder of the pictures")
    common.add_argument(
        "--every", type=int, default=1, help="take every N-th entry (default: 1, all)"
    )
    common.add_argument("--limit", type=int, default=0, help="at most N pictures (default: all)")
    common.add_argument("--quiet", action="store_true", help="no progress bar")
    commands = parser.add_subparsers(dest="command", required=True)

    raw = argparse.RawDescriptionHelpFormatter
    labels = commands.add_parser(
        "labels",
        parents=[common],
        help="image + label overlays of a YAML's list",
        formatter_class=raw,
        description="image | class colours over it, for the entries of a YAML's list; e.g.\n"
        "  python tools/browse_dataset.py labels --cfg X.yaml --split val --out browse/val",
    )
    labels.add_argument("--cfg", required=True, help="experiment YAML")
    labels.add_argument(
        "--split",
        choices=("train", "val"),
        default="train",
        help="DATASET.TRAIN_SET or DATASET.TEST_SET (default: train)",
    )
    labels.add_argument("--list", default=None, help="another list file, relative to ROOT")
    labels.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides: KEY VALUE ...")

    polygons = commands.add_parser(
        "json",
        parents=[common],
        help="polygon outlines of JSON annotations",
        formatter_class=raw,
        description="polygon outlines of labelme, Cityscapes or daodixian JSON on their images;"
        " e.g.\n  python tools/browse_dataset.py json job.json --image-root images/ "
        "--out browse/job --every 5 --limit 21",
    )
    polygons.add_argument("inputs", nargs="+", help="JSON files or folders of them")
    polygons.add_argument(
        "--format",
        choices=("auto", "labelme", "cityscapes", "daodixian"),
        default="auto",
        help="annotation format (default: detected per file)",
    )
    polygons.add_argument("--image-root", default=None, help="folder of the images (recursive)")
    polygons.add_argument(
        "--color-map", default=None, help="labelme: outline colours of the class names"
    )
    polygons.add_argument(
        "--thickness", type=int, default=4, help="outline width (default: 4, as the fork)"
    )

    contours = commands.add_parser(
        "contours",
        parents=[common],
        help="boxes / contours of predicted regions",
        formatter_class=raw,
        description="bounding boxes or contours of the predicted regions above an area, on the "
        "images; e.g.\n  python tools/browse_dataset.py contours --predictions results/labels "
        "--images photos/ --out browse/boxes --classes 1 --min-area 500",
    )
    contours.add_argument("--predictions", required=True, help="folder of predicted PNGs")
    contours.add_argument("--images", required=True, help="folder of the original images")
    contours.add_argument(
        "--min-area", type=float, default=10000, help="smallest region area (default: 10000)"
    )
    contours.add_argument(
        "--threshold", type=int, default=127, help="foreground: value above (default: 127)"
    )
    contours.add_argument(
        "--classes", type=int, nargs="+", default=None, help="foreground: these values instead"
    )
    contours.add_argument(
        "--draw",
        choices=("boxes", "contours", "both"),
        default="boxes",
        help="what to draw (default: boxes, as the fork)",
    )
    contours.add_argument("--thickness", type=int, default=2, help="line width (default: 2)")
    cli.add_debug_argument(parser)
    return parser.parse_args(argv)


def browse_labels(args):
    cfg = load_config(args.cfg, args.opts)
    listed = cfg.DATASET.TRAIN_SET if args.split == "train" else cfg.DATASET.TEST_SET
    list_path = args.list or listed
    cfg = load_config(args.cfg, [*args.opts, "DATASET.TEST_SET", list_path])
    dataset = datasets.build_dataset(cfg, "test")
    if not dataset.labelled:
        raise DataError(f"{dataset.list_file} has no labels (image-only lines)")
    palette = palette_for(cfg)
    out, name_of = Path(args.out), browse.UniqueNames()
    chosen = browse.sample(range(len(dataset)), args.every, args.limit)
    for index in progress_bar(chosen, enabled=not args.quiet, unit="image"):
        image, label, _, name = dataset[index]
        picture = browse.label_picture(
            image.permute(1, 2, 0).numpy(), label.numpy(), palette, cfg.TRAIN.IGNORE_LABEL
        )
        write_image(out / f"{name_of(name)}.jpg", picture)
    write_image(out / "legend.png", browse.legend(dataset.class_names, palette))
    print(f"{len(chosen)} of {len(dataset)} entries of {dataset.list_file} -> {out}/ (legend.png)")


def json_entries(args):
    """[(source, image path, outlines or a function of the image giving them)] in file order."""
    index = browse.index_by_stem(args.image_root) if args.image_root else {}
    table = ClassTable.from_file(args.color_map) if args.color_map else None
    colours = browse.LabelColours(table)
    entries = []
    for path in json_files(args.inputs):
        data = load_json(path)
        fmt = detect_format(data, str(path)) if args.format == "auto" else args.format
        if fmt == "labelme":
            given = path.parent / str(data.get("imagePath", ""))
            image = given if given.is_file() else None
            if image is None:
                stem = Path(str(data.get("imagePath") or path.stem)).stem
                image = browse.image_for(index, stem, str(path))
            entries.append((path, image, browse.labelme_outlines(data, colours, str(path))))
        elif fmt == "cityscapes":
            stem = path.stem.replace("_gtFine_polygons", "_leftImg8bit")
            outlines = browse.cityscapes_outlines(data, str(path))
            entries.append((path, browse.image_for(index, stem, str(path)), outlines))
        else:
            for file_name, polys in daodixian_items(data, str(path)):
                image = browse.image_for(index, Path(file_name).stem, f"{path}: {file_name}")

                def outlines(picture, polys=polys, source=f"{path}: {file_name}"):
                    height, width = picture.shape[:2]
                    return browse.daodixian_outlines(polys, width, height, source)

                entries.append((path, image, outlines))
    return entries


def browse_json(args):
    entries = json_entries(args)
    chosen = browse.sample(entries, args.every, args.limit)
    out, name_of = Path(args.out), browse.UniqueNames()
    for _, image_path, outlines in progress_bar(chosen, enabled=not args.quiet, unit="image"):
        image = read_image(image_path, "rgb")
        shapes = outlines(image) if callable(outlines) else outlines
        picture = browse.draw_outlines(image, shapes, args.thickness)
        write_image(out / f"{name_of(image_path.stem)}.jpg", picture)
    print(f"{len(chosen)} of {len(entries)} annotated images -> {out}/")


def browse_contours(args):
    predictions = sorted(Path(args.predictions).rglob("*.png"))
    if not predictions:
        raise DataError(f"no .png predictions in {args.predictions}")
    index = browse.index_by_stem(args.images)
    pairs = [(p, browse.image_for(index, p.stem, str(p))) for p in predictions]
    chosen = browse.sample(pairs, args.every, args.limit)
    out, name_of, rows = Path(args.out), browse.UniqueNames(), []
    out.mkdir(parents=True, exist_ok=True)
    for prediction_path, image_path in progress_bar(chosen, enabled=not args.quiet, unit="image"):
        prediction, image = read_label(prediction_path), read_image(image_path, "rgb")
        if prediction.shape != image.shape[:2]:
            raise DataError(
                f"prediction {prediction_path} is {prediction.shape[1]}x{prediction.shape[0]} "
                f"but image {image_path} is {image.shape[1]}x{image.shape[0]}"
            )
        mask = browse.foreground(prediction, args.threshold, args.classes)
        regions = browse.mask_regions(mask, args.min_area)
        name = name_of(prediction_path.stem)
        picture = browse.draw_regions(image, regions, args.draw, args.thickness)
        write_image(out / f"{name}.jpg", picture)
        rows += [[name, x, y, w, h, area] for _, (x, y, w, h), area in regions]
    with open(out / "regions.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "x", "y", "width", "height", "area"])
        writer.writerows(rows)
    print(
        f"{len(chosen)} images, {len(rows)} regions above {args.min_area:g} pixels -> {out}/ "
        "(regions.csv)"
    )


def main(argv=None):
    args = parse_args(argv)
    {"labels": browse_labels, "json": browse_json, "contours": browse_contours}[args.command](args)
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(run_tool(main))
