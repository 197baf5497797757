"""Evaluate a trained model, or write its predictions for an unlabelled list.

  python tools/test.py --cfg X.yaml TEST.MODEL_FILE m.pth \
      TEST.SCALE_LIST 0.5,0.75,1.0 TEST.FLIP_TEST True
  torchrun --nproc_per_node=N tools/test.py --cfg X.yaml ...      each process takes a shard
  python tools/test.py --cfg X.yaml TEST.MODEL_FILE model.onnx    an export of tools/export_onnx.py

A TEST.MODEL_FILE ending in .onnx (fp32, fp16 or int8) runs in ONNX Runtime (onnxruntime, from
requirements-deploy.txt; the CUDA provider when the device is CUDA and onnxruntime-gpu has it,
else the CPU) through the same predictor; a fixed-size export makes its size the window
(TEST.IMAGE_SIZE), and --exact does not apply (the file runs as exported).

On a labelled list (DATASET.TEST_SET) it prints the per-class IoU table, mIoU, pixel and mean
accuracy and saves the confusion matrix (.npy, and a chart with class names, normalised and
counts) and a per-class IoU bar chart; on an image-only list it writes predictions as PNGs.
Everything goes to OUTPUT_DIR/<dataset>/<cfg name>/.
"""

import argparse
import logging
import sys
from pathlib import Path

import _init_paths  # noqa: F401
import numpy as np

import datasets
import models
from config import config_name, load_config, unused_settings
from core.data import eval_loader
from core.function import format_scores, predict_dataset
from core.predictor import Predictor
from utils import cli, distributed
from utils.allocator import set_allocator_options
from utils.charts import save_score_charts
from utils.checkpoint import FINAL
from utils.errors import CheckpointError, UserError
from utils.fast_inference import optimize
from utils.logger import run_dirs, setup_logging
from utils.metrics import segmentation_scores


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument("--cfg", required=True, help="experiment YAML file")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: GPU if any)")
    parser.add_argument(
        "--save-dir", default=None, help="where predictions go (default: <output>/test_results)"
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


def load_onnx(path, cfg, device, exact):
    """(model, cfg, description) for an ONNX file: an `OnnxModel` on `device`'s execution
    provider, and `cfg` with the window of a fixed-size export (`deploy.export_window`)."""
    try:
        import deploy  # onnx / onnxruntime are optional dependencies
    except ImportError as error:
        raise UserError(
            f"{error}; evaluating {path} needs ONNX Runtime: pip install -r requirements-deploy.txt"
        ) from error
    logger = logging.getLogger("test")
    if exact:
        logger.info("--exact is ignored for an ONNX model: it runs as exported")
    model = deploy.OnnxModel(path, providers=deploy.providers_for(device))
    providers = model.session.get_providers()
    if device.type == "cuda" and "CUDAExecutionProvider" not in providers:
        logger.info("this onnxruntime has no CUDA provider: %s runs on the CPU", path.name)
    return model, deploy.export_window(cfg, model), f"ONNX Runtime ({', '.join(providers)})"


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
    if model_file.suffix.lower() == ".onnx":
        model, cfg, inference = load_onnx(model_file, cfg, dist.device, args.exact)
    else:
        model = models.build_model(cfg, pretrained=False)
        models.load_weights(model, model_file)
        model = optimize(model.to(dist.device).eval(), "exact" if args.exact else "fast")
        inference = "exact fp32" if args.exact else "optimised"
    logger.info(
        "loaded %s; scales %s, flip %s, %s inference",
        model_file,
        list(cfg.TEST.SCALE_LIST),
        cfg.TEST.FLIP_TEST,
        inference,
    )

    dataset = datasets.build_dataset(cfg, "test")
    loader = eval_loader(
        dataset, 1, cfg.WORKERS, False, dist.world_size, dist.rank, cfg.TRAIN.IGNORE_LABEL
    )
    predictor = Predictor.from_config(cfg, model, dist.device)
    save_dir = Path(args.save_dir) if args.save_dir else output_dir / "test_results"
    save = None
    if not dataset.labelled:

        def save(class_map, name, size):
            dataset.save_prediction(class_map, name, save_dir)

    confusion = predict_dataset(
        predictor,
        loader,
        cfg.DATASET.NUM_CLASSES,
        cfg.TRAIN.IGNORE_LABEL,
        save=save,
        show_progress=dist.is_main,
    )
    if dist.is_main:
        if confusion is None:
            logger.info("wrote %d predictions to %s", len(dataset), save_dir)
        else:
            scores = segmentation_scores(confusion)
            logger.info("\n%s", format_scores(scores, dataset.class_names))
            np.save(output_dir / "confusion_matrix.npy", confusion)
            charts = save_score_charts(confusion, dataset.class_names, output_dir)
            logger.info(
                "confusion matrix: %s; charts: %s", output_dir / "confusion_matrix.npy",
                ", ".join(map(str, charts)),
            )  # fmt: skip
    distributed.cleanup()
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(cli.run_tool(main))
