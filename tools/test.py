r"""Evaluate a trained model, or write its predictions for an unlabelled list.

  python tools/test.py --cfg X.yaml TEST.MODEL_FILE m.pth \
      TEST.SCALE_LIST 0.5,0.75,1.0 TEST.FLIP_TEST True
  torchrun --nproc_per_node=N tools/test.py --cfg X.yaml ...      each process takes a shard
  python tools/test.py --cfg X.yaml TEST.MODEL_FILE model.onnx    an export of tools/export_onnx.py
  python tools/test.py --cfg X.yaml TEST.MODEL_FILE m.onnx TEST.RESIZE squash     the zoo's mode

A TEST.MODEL_FILE that is an export runs through the same predictor: a .onnx file (fp32, fp16 or
int8) in ONNX Runtime (onnxruntime, from requirements-deploy.txt; the CUDA provider when the
device is CUDA and onnxruntime-gpu has it, else the CPU), a TorchScript file (torch.jit.save,
whatever its name, e.g. model.torchscript.pt) in PyTorch on the device. A fixed-size export
makes its size the window (TEST.IMAGE_SIZE), and --exact does not apply (the file runs as
exported). TEST.RESIZE squash resizes every image to TEST.IMAGE_SIZE whatever its aspect ratio
(the deploy zoo's evaluation) and the probabilities back to the image size.

On a labelled list (DATASET.TEST_SET) it prints the per-class IoU table, mIoU, pixel and mean
accuracy and saves the confusion matrix (.npy, and a chart with class names, normalised and
counts) and a per-class IoU bar chart; on an image-only list, and on a labelled one with
--save-predictions, it writes each prediction as a PNG of the dataset's raw label values
(Cityscapes: labelIds) and a colour picture in color/ beside them. Everything goes to
OUTPUT_DIR/<dataset>/<cfg name>/ (predictions: test_results/, or --save-dir).
"""

import argparse
import logging
import sys
from pathlib import Path

import _init_paths  # noqa: F401

import datasets
from config import config_name, load_config, run_dirs, unused_settings
from datasets import palette_for
from inference import evaluate, export_window, load_model, write_scores
from utils import cli, distributed
from utils.allocator import set_allocator_options
from utils.checkpoint import FINAL
from utils.errors import CheckpointError
from utils.image_io import write_image
from utils.logger import setup_logging
from utils.visualize import colorize


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument("--cfg", required=True, help="experiment YAML file")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: GPU if any)")
    parser.add_argument(
        "--save-dir", default=None, help="where predictions go (default: <output>/test_results)"
    )
    parser.add_argument(
        "--save-predictions",
        action="store_true",
        help="also write the predictions of a labelled list (raw-id PNGs and colour pictures, "
        "as for an image-only list)",
    )
    parser.add_argument(
        "--exact",
        action="store_true",
        help="run the model as trained in fp32 (default: BatchNorm folded, channels_last and "
        "bf16 on CPUs / fp16 on CUDA, which changes a small share of boundary pixels)",
    )
    parser.add_argument("--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    cli.add_log_level_argument(parser)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides: KEY VALUE ...")
    cli.add_debug_argument(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.cfg, args.opts)
    dist = distributed.init(args.device, args.local_rank)
    output_dir, _ = run_dirs(cfg, args.cfg)
    setup_logging(output_dir, "test", config_name(args.cfg), dist.is_main, args.log_level)
    logger = logging.getLogger("test")
    if dist.is_main:
        for message in unused_settings(cfg):
            logger.warning(message)

    model_file = Path(cfg.TEST.MODEL_FILE) if cfg.TEST.MODEL_FILE else output_dir / FINAL
    if not model_file.is_file():
        raise CheckpointError(
            f"model file {model_file} does not exist; train first or pass "
            "TEST.MODEL_FILE path/to/weights.pth (or model.onnx)"
        )
    model = load_model(cfg, model_file, "exact" if args.exact else "fast", dist.device)
    cfg = export_window(cfg, model)
    inference = getattr(model, "runtime", "exact fp32" if args.exact else "optimised")
    logger.info(
        "loaded %s; scales %s, flip %s, %s inference, resize %s",
        model_file,
        list(cfg.TEST.SCALE_LIST),
        cfg.TEST.FLIP_TEST,
        inference,
        cfg.TEST.RESIZE,
    )

    dataset = datasets.build_dataset(cfg, "test")
    save_dir = Path(args.save_dir) if args.save_dir else output_dir / "test_results"
    save = None
    if args.save_predictions or not dataset.labelled:
        palette = palette_for(cfg)

        def save(class_map, name):
            dataset.save_prediction(class_map, name, save_dir)
            write_image(save_dir / "color" / f"{name}.png", colorize(class_map, palette))

    confusion = evaluate(
        cfg, model, "test", dataset=dataset, save=save, dist=dist, show_progress=dist.is_main
    )
    if dist.is_main:
        if save is not None:
            logger.info("wrote %d predictions to %s (colour: color/)", len(dataset), save_dir)
        if confusion is not None:
            _, charts = write_scores(confusion, dataset.class_names, output_dir)
            logger.info(
                "confusion matrix: %s; charts: %s", output_dir / "confusion_matrix.npy",
                ", ".join(map(str, charts)),
            )  # fmt: skip
    distributed.cleanup()
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(cli.run_tool(main))
