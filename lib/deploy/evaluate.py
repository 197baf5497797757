"""Accuracy and latency of model variants (PyTorch, ONNX fp32 / fp16 / int8), through the
Predictor, `predict_dataset` and the metrics that tools/test.py uses."""

import logging
import time

import torch

from core.function import predict_dataset
from core.predictor import Predictor
from utils.errors import DataError
from utils.metrics import segmentation_scores

__all__ = ["evaluate", "export_window", "format_table", "latency_ms"]

logger = logging.getLogger(__name__)


def export_window(cfg, model):
    """`cfg` for predicting with `model`: a fixed-size export (an `OnnxModel` with `fixed_size`
    (H, W)) only accepts its export size, so that size becomes the sliding window
    (TEST.IMAGE_SIZE, w x h; smaller scaled images are padded to it). `cfg` itself for a
    dynamic export, a PyTorch model or a window that already fits."""
    size = getattr(model, "fixed_size", None)
    width, height = cfg.TEST.IMAGE_SIZE
    if size is None or tuple(size) == (height, width):
        return cfg
    logger.info(
        "fixed-size export: the evaluation crop (TEST.IMAGE_SIZE) becomes %dx%d (was %dx%d)",
        *size,
        height,
        width,
    )
    cfg = cfg.clone()
    cfg.defrost()
    cfg.TEST.IMAGE_SIZE = [int(size[1]), int(size[0])]
    cfg.freeze()
    return cfg


def evaluate(model, cfg, loader, device="cpu", on_prediction=None, show_progress=False):
    """Scores (`segmentation_scores`: IoU, mIoU, pixel_acc, mean_acc) of `model` on the labelled
    `loader`, predicted with the TEST settings of `cfg` (the window of a fixed-size export: its
    size, `export_window`). `on_prediction(class_map, name, size)` sees every prediction (uint8,
    label size)."""
    predictor = Predictor.from_config(export_window(cfg, model), model, device)
    confusion = predict_dataset(
        predictor,
        loader,
        cfg.DATASET.NUM_CLASSES,
        cfg.TRAIN.IGNORE_LABEL,
        save=on_prediction,
        show_progress=show_progress,
    )
    if confusion is None:
        raise DataError(f"{cfg.DATASET.TEST_SET} has no labels: nothing to evaluate")
    return segmentation_scores(confusion)


def latency_ms(model, x, repeats=10, warmup=2):
    """Median milliseconds of `model(x)` over `repeats` runs after `warmup` runs."""
    times = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            start = time.perf_counter()
            model(x)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]


def format_table(rows, size):
    """A Markdown table of dicts with name, file, megabytes, scores, same_pixels (share of
    pixels predicted as the first row; None for it) and latency (ms); speed-up against the
    first row."""
    height, width = size
    lines = [
        f"| model | file | size (MB) | mIoU | pixel acc | same pixels | latency 1x3x{height}x"
        f"{width} (ms) | speed-up |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    reference = rows[0]["latency"]
    for row in rows:
        scores, same = row["scores"], row["same_pixels"]
        lines.append(
            f"| {row['name']} | {row['file']} | {row['megabytes']:.1f} | "
            f"{100 * scores['mIoU']:.2f} | {100 * scores['pixel_acc']:.2f} | "
            f"{'-' if same is None else f'{100 * same:.2f}%'} | {row['latency']:.1f} | "
            f"{reference / row['latency']:.2f}x |"
        )
    return "\n".join(lines)
