"""Evaluation over a dataset with the predictor: metrics on labelled lists, saved predictions
on unlabelled ones. Used by tools/test.py; several processes each take a shard."""

import logging

import numpy as np
import torch

import datasets
from utils.distributed import all_reduce_sum
from utils.logger import progress_bar
from utils.metrics import confusion_matrix

logger = logging.getLogger(__name__)


def predict_dataset(predictor, loader, num_classes, ignore_label, save=None, show_progress=True):
    """Run `predictor` on every image of `loader` (batch size 1), as the original `testval` /
    `test`: the predictor's summed scores, cut to `loader.dataset.prediction_crop(size)`
    (datasets that pad their test images), resized to the label size (the image's size for an
    image-only list), then the argmax.

    Returns the confusion matrix summed over processes (None when the list has no labels).
    `save(class_map, name, size)` is called for every prediction when given.
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
            save(prediction[0].cpu().numpy().astype(np.uint8), name[0], size[0])
    flag = torch.tensor([float(labelled)])
    all_reduce_sum(flag)
    if flag.item() == 0:
        return None
    return all_reduce_sum(confusion).numpy()


ABSENT = "absent from the labels (IoU 0 counts in the mIoU, as in the original)"


def format_scores(scores, class_names):
    """The per-class IoU table and the summary lines, as text; classes without a ground-truth
    pixel are marked."""
    width = max(12, *(len(n) for n in class_names))
    lines = [f"{'class':<{width}}  IoU", "-" * (width + 8)]
    for name, iou, support in zip(class_names, scores["IoU"], scores["support"], strict=True):
        lines.append(f"{name:<{width}}  {iou:.4f}" + (f"  {ABSENT}" if support == 0 else ""))
    lines.append("-" * (width + 8))
    lines.append(
        f"mIoU {scores['mIoU']:.4f}  pixel accuracy {scores['pixel_acc']:.4f}  "
        f"mean accuracy {scores['mean_acc']:.4f}"
    )
    return "\n".join(lines)
