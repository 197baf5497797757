"""Export a model to ONNX (fp32, optionally fp16 and int8) and evaluate the exported files.

  python tools/export_onnx.py --cfg X.yaml --pth best.pth --output out/model.onnx \
      [--size H W | --dynamic] [--fp16] [--int8 [--calib-list L.lst] [--calib-count 50]] \
      [--evaluate] [KEY VALUE ...]
  python tools/export_onnx.py --cfg X.yaml --pth best.pth --evaluate --onnx a.onnx b.onnx

Every exported file is checked against PyTorch on a random input (max abs / relative
difference). --int8 quantises statically with ONNX Runtime, calibrated on --calib-count images
of --calib-list (default DATASET.TRAIN_SET) resized to the export size and normalised as in
evaluation. --evaluate runs PyTorch and every ONNX file over DATASET.TEST_SET with the predictor
and metrics of tools/test.py (TEST scales, flip, sliding window; the crop becomes the export
size of a fixed-size export), with PyTorch's optimised paths (utils/fast_inference: "exact"
and "fast"), and prints mIoU, the share of pixels predicted as PyTorch fp32 and latency side by
side. ONNX Runtime uses as many threads as PyTorch (--threads).
"""

import argparse
import logging
import sys
from pathlib import Path

import _init_paths  # noqa: F401
import torch

import datasets
import models
from config import load_config
from core.data import eval_loader
from utils import cli
from utils.allocator import set_allocator_options
from utils.errors import UserError
from utils.fast_inference import optimize

logger = logging.getLogger("export_onnx")


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument("--cfg", required=True, help="experiment YAML file")
    parser.add_argument("--pth", help="trained weights (default: TEST.MODEL_FILE)")
    parser.add_argument("--output", help="ONNX file to write (fp16 / int8 files go beside it)")
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument(
        "--size",
        nargs=2,
        type=int,
        metavar=("H", "W"),
        help="fixed input size (default: TEST.IMAGE_SIZE); also the size of latency runs",
    )
    shape.add_argument("--dynamic", action="store_true", help="dynamic height and width")
    parser.add_argument("--fp16", action="store_true", help="also write <output>_fp16.onnx")
    parser.add_argument("--int8", action="store_true", help="also write <output>_int8.onnx")
    parser.add_argument("--calib-list", help="calibration list file (default DATASET.TRAIN_SET)")
    parser.add_argument("--calib-count", type=int, default=50, help="calibration images")
    parser.add_argument("--evaluate", action="store_true", help="mIoU and latency table")
    parser.add_argument("--onnx", nargs="+", help="evaluate these ONNX files (no export)")
    parser.add_argument("--repeats", type=int, default=10, help="latency runs per model")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides: KEY VALUE ...")
    cli.add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.onnx is None and args.output is None:
        parser.error("give --output to export, or --onnx FILE ... with --evaluate")
    if args.onnx is not None and not args.evaluate:
        parser.error("--onnx evaluates existing files: add --evaluate")
    return args


def import_deploy():
    """lib/deploy, imported only once --help has been answered: it needs the optional onnx and
    onnxruntime."""
    try:
        import deploy
    except ImportError as error:
        raise UserError(
            f"{error}; install the deployment extras: pip install -r requirements-deploy.txt"
        ) from error
    return deploy


def variant_path(output, suffix):
    output = Path(output)
    return output.with_name(f"{output.stem}_{suffix}{output.suffix}")


def report_difference(model, path, size):
    deploy = import_deploy()
    differences = deploy.compare_outputs(
        model,
        deploy.OnnxModel(path),
        torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0)),
    )
    text = ", ".join(f"max abs {d['abs']:.3g} rel {d['rel']:.3g}" for d in differences)
    logger.info("%s vs PyTorch on a random 1x3x%dx%d input: %s", path, *size, text)


def export_all(args, cfg, model, size):
    """Write the fp32 file and the requested variants; (name, path) of each."""
    deploy = import_deploy()
    output = Path(args.output)
    deploy.export_onnx(model, output, size, dynamic=args.dynamic)
    files = [("ONNX fp32", output)]
    if args.fp16:
        files.append(("ONNX fp16", variant_path(output, "fp16")))
        deploy.convert_fp16(output, files[-1][1])
    if args.int8:
        calib_list = args.calib_list or cfg.DATASET.TRAIN_SET
        logger.info("calibrating int8 on %d images of %s", args.calib_count, calib_list)
        files.append(("ONNX int8", variant_path(output, "int8")))
        inputs = datasets.list_inputs(cfg, calib_list, args.calib_count, size)
        deploy.quantize_int8(output, files[-1][1], (x.numpy() for x in inputs))
    for _, path in files:
        report_difference(model, path, size)
    return files


def evaluate_all(cfg, model, weights, files, size, repeats):
    """The table of PyTorch (eager, exact, fast) and every ONNX file: scores, share of pixels
    predicted as eager PyTorch (its class maps are kept: H x W bytes per image), latency."""
    deploy = import_deploy()
    dataset = datasets.build_dataset(cfg, "test")
    loader = eval_loader(dataset, 1, cfg.WORKERS, False, 1, 0, cfg.TRAIN.IGNORE_LABEL)
    x = torch.randn(1, 3, *size)
    source = Path(weights).name if weights else "(random init)"
    candidates = [
        ("PyTorch fp32", source, weights, model),
        ("PyTorch exact (folded, channels_last)", source, weights, optimize(model, "exact")),
        ("PyTorch fast (folded, channels_last, bf16)", source, weights, optimize(model, "fast")),
    ]
    candidates += [(name, Path(path).name, path, deploy.OnnxModel(path)) for name, path in files]
    reference, rows = {}, []
    for name, file, path, candidate in candidates:
        logger.info("evaluating %s on %d images of %s", name, len(dataset), cfg.DATASET.TEST_SET)
        counts = [0, 0]

        def compare(class_map, image, _, counts=counts, first=not rows):
            if first:
                reference[image] = class_map
            else:
                counts[0] += int((class_map == reference[image]).sum())
                counts[1] += class_map.size

        rows.append(
            {
                "name": name,
                "file": file,
                "megabytes": Path(path).stat().st_size / 2**20 if path else 0.0,
                "scores": deploy.evaluate(candidate, cfg, loader, on_prediction=compare),
                "same_pixels": counts[0] / counts[1] if counts[1] else None,
                "latency": deploy.latency_ms(candidate, x, repeats),
            }
        )
    return deploy.format_table(rows, size)


def main(argv=None):
    args = parse_args(argv)
    import_deploy()
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

    if args.onnx:
        files = [(f"ONNX {Path(path).stem}", Path(path)) for path in args.onnx]
    else:
        files = export_all(args, cfg, model, size)
    if args.evaluate:
        print(evaluate_all(cfg, model, weights, files, size, args.repeats))
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(cli.run_tool(main))
