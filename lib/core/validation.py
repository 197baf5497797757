"""Validation during training: the original's single-scale pass over the validation loader.

`ValidationPredictor.from_train_step(train_step, cfg)` holds what one validation batch needs
(the plain model, the criterion, the precision, the window, the class facts); `validate`
runs it over a loader and sums the scores over processes.
"""

import torch
import torch.nn.functional as F

from core.train_step import as_float
from datasets.windows import bounded_windows
from models.outputs import main_output
from utils import faults
from utils.distributed import all_reduce_sum
from utils.logger import progress_bar
from utils.metrics import confusion_matrix, segmentation_scores
from utils.precision import autocast

__all__ = ["ValidationPredictor", "validate"]


class ValidationPredictor:
    """Logits and loss of a validation batch from `train_step`'s plain model (eager, not
    DDP-wrapped or compiled: no collective per batch, so a process without validation images
    cannot stall the others), in its precision and memory format.

    A batch larger than `window` (h, w; TEST.IMAGE_SIZE; None: the whole batch) runs in windows
    of at most that size (`bounded_windows`: a stride of the window, the last one anchored at
    the end): the logits of overlapping windows are averaged and the loss is the mean over the
    windows that hold labelled pixels.
    """

    def __init__(
        self, train_step, num_classes, ignore_label, align_corners, output_index, window=None
    ):
        self.train_step = train_step
        self.num_classes, self.ignore_label = num_classes, ignore_label
        self.align_corners, self.output_index = align_corners, output_index
        self.window = window

    @classmethod
    def from_train_step(cls, train_step, cfg):
        """The predictor of a run: its classes, labels, resize and output from `cfg`, its
        window TEST.IMAGE_SIZE."""
        return cls(
            train_step,
            cfg.DATASET.NUM_CLASSES,
            cfg.TRAIN.IGNORE_LABEL,
            cfg.MODEL.ALIGN_CORNERS,
            cfg.TEST.OUTPUT_INDEX,
            window=tuple(reversed(cfg.TEST.IMAGE_SIZE)),
        )

    @property
    def device(self):
        return self.train_step.device

    def eval(self):
        """Put the model in evaluation mode."""
        self.train_step.net.eval()

    def __call__(self, raw_images, labels):
        """A loader batch (uint8 images, labels) -> logits at the labels' size, the loss (NaN
        when no window holds a labelled pixel) and the labels on the device."""
        step, ignore_label = self.train_step, self.ignore_label
        images, labels = step.inputs(raw_images, labels)
        height, width = images.shape[-2:]
        boxes = bounded_windows(height, width, self.window or (height, width))
        logits, count, losses = None, None, []
        for y0, y1, x0, x1 in boxes:
            target = labels[:, y0:y1, x0:x1]
            with autocast(step.device, step.dtype):
                outputs = as_float(step.net(images[:, :, y0:y1, x0:x1]))
            if len(boxes) == 1 or (target != ignore_label).any():
                losses.append(step.criterion(outputs, target))
            main = main_output(outputs, self.output_index)
            main = F.interpolate(
                main, size=(y1 - y0, x1 - x0), mode="bilinear", align_corners=self.align_corners
            )
            if len(boxes) == 1:
                logits = main
                continue
            if logits is None:
                logits = main.new_zeros(*main.shape[:2], height, width)
                count = main.new_zeros(height, width)
            logits[:, :, y0:y1, x0:x1] += main
            count[y0:y1, x0:x1] += 1
        if count is not None:
            logits /= count
        loss = torch.stack(losses).mean() if losses else torch.tensor(float("nan"))
        return logits, loss, labels


def validate(predictor, loader, on_batch=None, progress=False):
    """Single-scale validation with `predictor` (a `ValidationPredictor`), as the original
    `validate`: each batch once, whole (or in the predictor's windows), its logits resized to
    the labels. The loss (averaged over images) and the confusion matrix are summed over
    processes.

    Returns the loss and `segmentation_scores` plus the matrix itself (`confusion`).
    `on_batch(images, labels, predictions)` sees every batch (uint8 images as loaded).
    """
    num_classes, device = predictor.num_classes, predictor.device
    predictor.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.float64, device=device)
    totals = torch.zeros(2, dtype=torch.float64, device=device)
    with torch.no_grad():
        for raw_images, labels, *_rest in progress_bar(
            loader, progress, desc="validate", leave=False
        ):
            faults.reached("validation")
            logits, loss, labels = predictor(raw_images, labels)
            totals[0] += loss.to(totals) * len(labels)
            totals[1] += len(labels)
            prediction = logits.max(1).indices  # = argmax(1), faster on CPUs
            confusion += confusion_matrix(
                labels, prediction, num_classes, predictor.ignore_label
            ).to(confusion)
            if on_batch is not None:
                on_batch(raw_images, labels, prediction)
    all_reduce_sum(confusion)
    all_reduce_sum(totals)
    confusion = confusion.cpu().numpy()
    scores = {**segmentation_scores(confusion), "confusion": confusion}
    return (totals[0] / totals[1].clamp(min=1)).item(), scores
