"""Confusion matrix and the scores derived from it (per-class IoU, mIoU, accuracies)."""

import numpy as np
import torch

__all__ = ["ABSENT", "confusion_matrix", "format_scores", "segmentation_scores"]


def _check_range(values, what, num_classes, ignore_label=None):
    bad = values[(values < 0) | (values >= num_classes)]
    if len(bad):
        also = "" if ignore_label is None else f" nor the ignore label {ignore_label}"
        raise ValueError(
            f"{what} has value {int(bad[0])}, not a class index (0..{num_classes - 1}){also}"
        )


def confusion_matrix(label, pred, num_classes, ignore_label=-1):
    """(num_classes, num_classes) pixel counts, rows ground truth, columns prediction.

    `label` and `pred` are class-index maps of the same shape (torch tensors or NumPy arrays;
    the result is of the same kind, int64, on the label's device). Pixels whose label equals
    `ignore_label` are skipped; any other value outside 0..num_classes-1 is an error.
    """
    if tuple(label.shape) != tuple(pred.shape):
        raise ValueError(
            f"label shape {tuple(label.shape)} differs from prediction shape {tuple(pred.shape)}"
        )
    if torch.is_tensor(label) or torch.is_tensor(pred):
        label = torch.as_tensor(label).long()
        pred = torch.as_tensor(pred, device=label.device).long()
        bincount = torch.bincount
    else:
        label = np.asarray(label).astype(np.int64)
        pred = np.asarray(pred).astype(np.int64)
        bincount = np.bincount
    keep = label != ignore_label
    label, pred = label[keep], pred[keep]
    _check_range(label, "label", num_classes, ignore_label)
    _check_range(pred, "prediction", num_classes)
    counts = bincount(label * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def segmentation_scores(confusion):
    """Scores of a confusion matrix (rows ground truth), as in the original evaluation.

    Returns a dict: `IoU` (per class, tp / max(1, gt + predicted - tp)), `mIoU` (the mean over
    all classes, so a class absent from both ground truth and prediction counts as 0),
    `pixel_acc` (tp.sum / gt.sum), `mean_acc` (mean over classes of tp / max(1, gt)) and
    `support` (ground-truth pixels per class; 0 marks a class absent from the labels).
    """
    if torch.is_tensor(confusion):
        confusion = confusion.detach().cpu().numpy()
    confusion = np.asarray(confusion, dtype=np.float64)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"confusion matrix must be square, got shape {confusion.shape}")
    tp = np.diag(confusion)
    gt = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    iou = tp / np.maximum(1.0, gt + predicted - tp)
    return {
        "IoU": iou,
        "mIoU": float(iou.mean()),
        "pixel_acc": float(tp.sum() / max(1.0, gt.sum())),
        "mean_acc": float((tp / np.maximum(1.0, gt)).mean()),
        "support": gt,
    }


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
