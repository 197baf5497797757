r"""Export a model to ONNX (fp32, optionally fp16 and int8) and TorchScript, and evaluate the
exported files.

  python tools/export_onnx.py --cfg X.yaml --pth best.pth --output out/model.onnx \
      [--size H W | --dynamic] [--format onnx torchscript] [--opset 17] \
      [--input-name image] [--output-names logits] [--fp16] \
      [--int8 [--calib-method minmax entropy percentile] [--no-per-channel] \
              [--calib-list L.lst] [--calib-count 50]] \
      [--evaluate [--resize keep squash]] [KEY VALUE ...]
  python tools/export_onnx.py --cfg X.yaml --pth best.pth --evaluate --files a.onnx b.torchscript.pt

Each --format writes --output with its suffix (.onnx, .torchscript.pt: TorchScript by
torch.jit.trace). Every exported file is reloaded and checked against PyTorch on a random input
(max abs / relative difference; a warning when an fp32 file differs by more than 1e-4).
--int8 quantises the ONNX file statically with ONNX Runtime, calibrated on --calib-count images
of --calib-list (default DATASET.TRAIN_SET) resized to the export size and normalised as in
evaluation, once per --calib-method (<output>_int8.onnx for one method, <output>_int8_<method>.onnx
for several). --evaluate runs PyTorch and every file over DATASET.TEST_SET with the predictor and
metrics of tools/test.py (TEST scales, flip, sliding window; the crop becomes the export size of
a fixed-size export), with PyTorch's optimised paths (inference/fast.py: "exact" and "fast"),
in each --resize mode (keep: the aspect-keeping policy; squash: every image resized to the
network size, as the deploy zoo measured), and prints mIoU, the share of pixels predicted as
PyTorch fp32 and latency side by side. ONNX Runtime uses as many threads as PyTorch (--threads).
"""

import argparse
import logging
import sys
from pathlib import Path

import _init_paths  # noqa: F401
import torch

import datasets
import deploy
import models
from config import load_config
from core.data import eval_loader
from inference import RESIZE_MODES, optimize
from utils import cli
from utils.allocator import set_allocator_options
from utils.errors import CheckpointError

logger = logging.getLogger("export_onnx")


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument("--cfg", required=True, help="experiment YAML file")
    parser.add_argument(
        "--pth", "--pth_file", help="trained weights (default: TEST.MODEL_FILE; --pth_file: zoo)"
    )
    parser.add_argument(
        "--output", help="file to write, one per --format with its suffix (variants beside it)"
    )
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument(
        "--size",
        nargs=2,
        type=int,
        metavar=("H", "W"),
        help="fixed input size (default: TEST.IMAGE_SIZE); also the size of latency runs",
    )
    shape.add_argument("--dynamic", action="store_true", help="dynamic height and width")
    parser.add_argument(
        "--format",
        nargs="+",
        choices=deploy.format_names(),
        default=["onnx"],
        help="export formats (default: onnx)",
    )
    onnx = parser.add_argument_group("ONNX")
    onnx.add_argument(
        "--opset", type=int, help=f"ONNX opset (default {deploy.OPSET}; the zoo's: 10)"
    )
    onnx.add_argument(
        "--input-name", help=f"name of the input tensor (default: {deploy.INPUT_NAME})"
    )
    onnx.add_argument(
        "--output-names",
        nargs="+",
        help="names of the output tensors, one per model output (default: logits; OCR: "
        "output0 logits)",
    )
    onnx.add_argument("--fp16", action="store_true", help="also write <output>_fp16.onnx")
    onnx.add_argument("--int8", action="store_true", help="also write <output>_int8.onnx")
    onnx.add_argument(
        "--calib-method",
        nargs="+",
        choices=deploy.CALIBRATION_METHODS,
        help="int8 calibration: minmax (default), entropy (KL divergence, the zoo's), "
        "percentile (99.999th); several write one file each",
    )
    onnx.add_argument(
        "--per-channel",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="int8 weights per output channel (default, as the zoo) or per tensor",
    )
    onnx.add_argument("--calib-list", help="calibration list file (default DATASET.TRAIN_SET)")
    onnx.add_argument("--calib-count", type=int, default=50, help="calibration images")
    parser.add_argument("--evaluate", action="store_true", help="mIoU and latency table")
    parser.add_argument(
        "--resize",
        nargs="+",
        choices=RESIZE_MODES,
        help="--evaluate in these TEST.RESIZE modes, side by side (default: TEST.RESIZE)",
    )
    parser.add_argument(
        "--files",
        "--onnx",
        nargs="+",
        help="evaluate these exported files (.onnx, TorchScript) instead of exporting",
    )
    parser.add_argument("--repeats", type=int, default=10, help="latency runs per model")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides: KEY VALUE ...")
    cli.add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.files is None and args.output is None:
        parser.error("give --output to export, or --files FILE ... with --evaluate")
    if args.files is not None and not args.evaluate:
        parser.error("--files evaluates existing files: add --evaluate")
    onnx_flags = {
        "--opset": args.opset,
        "--input-name": args.input_name,
        "--output-names": args.output_names,
        "--fp16": args.fp16 or None,
        "--int8": args.int8 or None,
    }
    if "onnx" not in args.format and any(v is not None for v in onnx_flags.values()):
        given = [flag for flag, value in onnx_flags.items() if value is not None]
        parser.error(f"{', '.join(given)} apply to the ONNX export: add onnx to --format")
    if not args.int8 and (args.calib_method or args.per_channel is not None):
        parser.error("--calib-method and --per-channel apply to --int8")
    if args.size and min(args.size) < 1:
        height, width = args.size
        parser.error(
            f"--size H W must be positive (the models run at any size), got {height} {width}"
        )
    if args.calib_count < 1:
        parser.error(f"--calib-count needs at least 1 calibration image, got {args.calib_count}")
    if args.resize and not args.evaluate:
        parser.error("--resize chooses the --evaluate modes: add --evaluate")
    return args


def file_label(path):
    """The table's name of an existing export: model.torchscript.pt -> "TorchScript model"; a
    CheckpointError when `path` is missing or of no export format."""
    export_format = deploy.format_of(path) if Path(path).is_file() else None
    if export_format is None:
        reason = "is not an export" if Path(path).is_file() else "does not exist"
        raise CheckpointError(
            f"--files {path} {reason}: give files of tools/export_onnx.py "
            f"({', '.join(deploy.format_names())})"
        )
    return f"{export_format.label} {deploy.without_suffix(path).name}"


def evaluation_candidates(model, weights, files):
    """(name, file, path, model) of PyTorch (eager, exact, fast) and of every exported file."""
    source = Path(weights).name if weights else "(random init)"
    candidates = [
        ("PyTorch fp32", source, weights, model),
        ("PyTorch exact (folded, channels_last)", source, weights, optimize(model, "exact")),
        ("PyTorch fast (folded, channels_last, bf16)", source, weights, optimize(model, "fast")),
    ]
    for name, path in files:
        candidates.append((name, Path(path).name, path, deploy.format_of(path).load(path)))
    return candidates


def main(argv=None):
    args = parse_args(argv)
    files = [(file_label(path), path) for path in args.files or []]
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.cfg, args.opts)
    width, height = cfg.TEST.IMAGE_SIZE
    size = tuple(args.size) if args.size else (height, width)
    if args.evaluate and not args.dynamic and size != (height, width):
        logger.info("fixed-size export: the evaluation crop (TEST.IMAGE_SIZE) becomes %dx%d", *size)
        cfg = load_config(args.cfg, [*args.opts, "TEST.IMAGE_SIZE", f"{size[1]},{size[0]}"])

    model = models.build_model(cfg, pretrained=False)
    weights = args.pth or cfg.TEST.MODEL_FILE
    if weights:
        models.load_weights(model, weights)
    else:
        logger.warning("no --pth nor TEST.MODEL_FILE: exporting randomly initialised weights")
    model.eval()

    if not files:
        calib_list = args.calib_list or cfg.DATASET.TRAIN_SET
        if args.int8:
            logger.info("int8 calibration: %d images of %s", args.calib_count, calib_list)
        onnx_options = {"opset": args.opset, "input_name": args.input_name}
        onnx_options["output_names"] = args.output_names
        files = deploy.export_files(
            model,
            args.output,
            size,
            formats=args.format,
            dynamic=args.dynamic,
            onnx_options={k: v for k, v in onnx_options.items() if v is not None},
            fp16=args.fp16,
            int8_methods=(args.calib_method or ["minmax"]) if args.int8 else [],
            per_channel=args.per_channel is not False,
            calibration=lambda: (
                x.numpy() for x in datasets.list_inputs(cfg, calib_list, args.calib_count, size)
            ),
        )
        for name, path in files:
            deploy.report_parity(model, name, path, size)
    if args.evaluate:
        dataset = datasets.build_dataset(cfg, "test")
        loader = eval_loader(dataset, 1, cfg.WORKERS, False, 1, 0, cfg.TRAIN.IGNORE_LABEL)
        rows = deploy.evaluate_variants(
            cfg,
            evaluation_candidates(model, weights, files),
            loader,
            size,
            args.repeats,
            args.resize or [cfg.TEST.RESIZE],
        )
        print(deploy.format_table(rows, size))
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(cli.run_tool(main))
