r"""Segment an image, a folder of images (recursively) or a list file of image paths.

  python tools/pipeline.py --cfg X.yaml --pth final_state.pth --input photos/ --output out/
  python tools/pipeline.py --cfg X.yaml --pth m.pth --input val.lst --root data/cityscapes \
      --output out/ --batch-size 8 TEST.SCALE_LIST 0.75,1.0,1.25 TEST.FLIP_TEST True

For each image it writes, under --output and keeping the image's relative path (x.jpg and x.png
in one folder become x_jpg and x_png):
  labels/<name>.png    class index per pixel (grey PNG, what tools/analysisResult.py reads)
  color/<name>.png     the classes in colour (DATASET.COLOR_MAP when it fits, else VOC colours)
  overlay/<name>.jpg   the colours blended over the image
  confidence/<name>.png  with --confidence: 255 x the max softmax probability (grey PNG)
--pth is a weights file or an export of tools/export_onnx.py (.onnx, TorchScript), run as
exported (--exact does not apply; a fixed-size export's size becomes the window).
Images run at their own size times TEST.SCALE_LIST (sliding windows of TEST.IMAGE_SIZE when
larger). A list file holds one image path per line (the first field, so the project's
"image label" lists work; fields are split at tabs when a line holds one, so paths may hold
spaces); relative paths are taken from --root. Unreadable images are reported
and skipped; the exit status is then 1.
"""

import sys
from pathlib import Path

import _init_paths  # noqa: F401
import cv2
import numpy as np

from datasets.list_reader import list_lines
from inference import Segmenter
from utils import cli
from utils.allocator import set_allocator_options
from utils.errors import CheckpointError, DataError
from utils.image_io import read_image, write_image, write_png
from utils.logger import progress_bar
from utils.output_names import output_names
from utils.visualize import colorize, overlay

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
LIST_EXTENSIONS = {".txt", ".lst"}


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    cli.add_model_arguments(parser)
    parser.add_argument("--input", required=True, help="an image, a folder or a .txt/.lst list")
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--root", default=".", help="folder that relative list entries start from")
    parser.add_argument("--batch-size", type=int, default=4, help="images per forward pass")
    parser.add_argument(
        "--confidence",
        action="store_true",
        help="also write confidence/<name>.png: 255 x the max softmax probability per pixel",
    )
    cli.add_inference_arguments(parser)
    cli.add_debug_argument(parser)
    return parser.parse_args(argv)


def find_images(source, root="."):
    """[(image path, output name)] of an image file, a folder or a list file: the name is the
    image's path relative to the folder (a list entry as written; an absolute one by its file
    name), without its suffix; images that would share a name keep the suffix in it (x_jpg,
    x_png) or are numbered."""
    source = Path(source)
    if source.is_dir():
        paths = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not paths:
            raise DataError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in {source}")
        names = [p.relative_to(source) for p in paths]
    elif not source.is_file():
        raise DataError(f"input {source} does not exist")
    elif source.suffix.lower() not in LIST_EXTENSIONS:
        paths, names = [source], [Path(source.name)]
    else:
        entries = [Path(fields[0]) for _, fields, _ in list_lines(source)]
        paths = [Path(root) / entry for entry in entries]
        names = [Path(e.name) if e.is_absolute() else e for e in entries]
    return list(zip(paths, output_names(paths, names), strict=True))


def save_results(output, name, image, class_map, palette, confidence=None):
    """Write the class PNG, the colour PNG and the overlay of one image as `name` (a relative
    path without suffix), and the confidence PNG when `confidence` (max probabilities) is
    given."""
    output = Path(output)
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    write_png(output / "labels" / f"{name}.png", class_map)
    write_image(output / "color" / f"{name}.png", colorize(class_map, palette))
    write_image(output / "overlay" / f"{name}.jpg", overlay(rgb, class_map, palette))
    if confidence is not None:
        # 255 x probability, truncated, as the fork's label + confidence PNG stored it
        grey = (confidence * 255).astype(np.uint8)
        write_png(output / "confidence" / f"{name}.png", grey)


def main(argv=None):
    args = parse_args(argv)
    images = find_images(args.input, args.root)
    if args.pth and not Path(args.pth).is_file():
        raise CheckpointError(f"weights file {args.pth} does not exist")
    segmenter = Segmenter.from_files(
        args.cfg, args.pth, args.opts, args.device, args.exact, args.batch_size
    )
    failed = []
    with progress_bar(total=len(images), unit="img", desc="segment") as bar:
        for start in range(0, len(images), args.batch_size):
            chunk = []
            for path, name in images[start : start + args.batch_size]:
                try:
                    chunk.append((name, read_image(path)))
                except (OSError, ValueError) as err:
                    failed.append(str(err))
                    bar.write(f"warning: skipped {err}", file=sys.stderr)
            class_maps, confidences = segmenter([image for _, image in chunk])
            for (name, image), class_map, confidence in zip(
                chunk, class_maps, confidences, strict=True
            ):
                confidence = confidence if args.confidence else None
                save_results(args.output, name, image, class_map, segmenter.palette, confidence)
            bar.update(len(images[start : start + args.batch_size]))
    print(f"wrote the results of {len(images) - len(failed)} image(s) to {args.output}")
    if failed:
        print(
            f"error: {len(failed)} image(s) could not be read:",
            *failed,
            sep="\n  ",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(cli.run_tool(main))
