"""Evaluation over a dataset with the predictor: metrics on labelled lists, saved predictions
on unlabelled ones. The one loop of tools/test.py, the deploy evaluation
(tools/export_onnx.py --evaluate), the demo and the benchmarks; several processes each take a
shard."""

import logging
from pathlib import Path

import numpy as np
import torch

import datasets
from core.data import eval_loader
from utils.charts import save_score_charts
from utils.distributed import all_reduce_sum
from utils.logger import progress_bar
from utils.metrics import confusion_matrix, format_scores, segmentation_scores

from .exported import export_window
from .resize_mode import predictor_from_config

__all__ = ["evaluate", "predict_dataset", "write_scores"]

logger = logging.getLogger(__name__)


def evaluate(
    cfg,
    model,
    split="test",
    *,
    dataset=None,
    loader=None,
    save=None,
    dist=None,
    device=None,
    show_progress=False,
):
    """The confusion matrix (summed over processes; None for an image-only list) of `model` on
    the `split` list of `cfg` ("test": DATASET.TEST_SET, "val", "train"), predicted with its TEST
    settings, TEST.RESIZE included (the window and network size of a fixed-size export: its
    size, `export_window`).

    `dataset` is the built split (default `datasets.build_dataset(cfg, split)`); `loader` an
    iterable of (image, label, size, name) batches of one image (default: `eval_loader` of the
    dataset, cfg.WORKERS workers, this process's shard of `dist`: `utils.distributed.init`'s
    result; None: one process). `device` defaults to `dist`'s, else the model's.
    `save(class_map, name)` sees every prediction (uint8, label size).
    """
    cfg = export_window(cfg, model)
    if loader is None:
        if dataset is None:
            dataset = datasets.build_dataset(cfg, split)
        world_size, rank = (dist.world_size, dist.rank) if dist is not None else (1, 0)
        loader = eval_loader(
            dataset, 1, cfg.WORKERS, False, world_size, rank, cfg.TRAIN.IGNORE_LABEL
        )
    if device is None and dist is not None:
        device = dist.device
    return predict_dataset(
        predictor_from_config(cfg, model, device),
        loader,
        cfg.DATASET.NUM_CLASSES,
        cfg.TRAIN.IGNORE_LABEL,
        save=save,
        show_progress=show_progress,
    )


def predict_dataset(predictor, loader, num_classes, ignore_label, save=None, show_progress=True):
    """Run `predictor` on every image of `loader` (batch size 1), as the original `testval` /
    `test`: the predictor's summed scores, cut to `loader.dataset.prediction_crop(size)`
    (datasets that pad their test images), resized to the label size (the image's size for an
    image-only list), then the argmax.

    Returns the confusion matrix summed over processes (None when the list has no labels).
    `save(class_map, name)` is called for every prediction when given.
    """
    crop = getattr(getattr(loader, "dataset", None), "prediction_crop", None)
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.float64)
    labelled = False
    for image, label, size, name in progress_bar(loader, show_progress, desc="test"):
        if len(image) != 1:
            raise ValueError(f"predict_dataset takes batches of one image, got {len(image)}")
        scores = predictor.scores(datasets.normalize(image.to(predictor.device)))
        region = crop(size[0]) if crop is not None else None
        if region is not None:
            scores = scores[:, :, : region[0], : region[1]]
        has_label = label.numel() > 0 and label.dim() == 3
        output_size = tuple(label.shape[-2:]) if has_label else tuple(size[0])
        if tuple(scores.shape[-2:]) != output_size:
            scores = predictor.resize(scores, output_size)
        # max(1).indices is argmax(1) (the first index on ties) without its slow reduction
        # over the channels of an NCHW tensor on CPUs (about 3x at 19x1024x2048)
        prediction = scores.max(1).indices
        if has_label:
            labelled = True
            label = label.to(scores.device)
            confusion += confusion_matrix(label, prediction, num_classes, ignore_label).cpu()
        if save is not None:
            save(prediction[0].cpu().numpy().astype(np.uint8), name[0])
    flag = torch.tensor([float(labelled)])
    all_reduce_sum(flag)
    if flag.item() == 0:
        return None
    return all_reduce_sum(confusion).numpy()


def write_scores(confusion, class_names, out_dir):
    """Log the per-class IoU table of `confusion`, save it to `out_dir`/confusion_matrix.npy with
    the confusion and per-class IoU charts; returns (scores, chart paths)."""
    scores = segmentation_scores(confusion)
    logger.info("\n%s", format_scores(scores, class_names))
    np.save(Path(out_dir) / "confusion_matrix.npy", confusion)
    return scores, save_score_charts(confusion, class_names, out_dir)
