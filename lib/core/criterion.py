"""Segmentation losses: cross-entropy and OHEM cross-entropy over one or several model outputs.

Logits come at 1/4 of the input size (or as a list, e.g. OCR's `[aux, main]`); they are
upsampled bilinearly to the label size before the loss. Several outputs are weighted by
LOSS.BALANCE_WEIGHTS (OCR: 0.4 * aux + 1 * main).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.grad_layout import is_channels_last
from models.outputs import as_list
from utils.errors import ConfigError

__all__ = ["CrossEntropy", "OhemCrossEntropy", "build_criterion"]


def _class_weights(weight):
    if weight is None:
        return None
    weight = torch.as_tensor(weight, dtype=torch.float32).flatten()
    return weight if weight.numel() else None


def _resize_to(logits, target, align_corners):
    if logits.shape[-2:] != target.shape[-2:]:
        logits = F.interpolate(
            logits, size=target.shape[-2:], mode="bilinear", align_corners=align_corners
        )
    return logits


class CrossEntropy(nn.Module):
    """Cross-entropy averaged over the non-ignored pixels (weighted by class when given), as
    `sum(balance_weights[i] * loss(outputs[i]))` over the model's outputs.

    Equal to `nn.CrossEntropyLoss(weight, ignore_index)`, except that a batch whose pixels are
    all ignored gives 0 instead of NaN. Subclasses change the losses of the outputs
    (`_earlier_output_loss`, `_last_output_loss`).
    """

    def __init__(self, ignore_label=-1, weight=None, align_corners=False, balance_weights=(1.0,)):
        super().__init__()
        self.ignore_label = int(ignore_label)
        self.align_corners = bool(align_corners)
        self.balance_weights = [float(w) for w in balance_weights]
        # Named `criterion` as in the original, so a FullModel state dict has
        # `loss.criterion.weight` when class weights are given.
        self.criterion = nn.CrossEntropyLoss(
            weight=_class_weights(weight), ignore_index=self.ignore_label, reduction="none"
        )

    def _pixel_losses(self, logits, target):
        """Per-pixel losses (N, H, W), as `self.criterion`. channels_last logits are reduced
        along their contiguous class axis: PyTorch's cross-entropy would copy them to NCHW and
        give their gradient in NCHW, which makes the upsampling's backward 4x slower."""
        if not is_channels_last(logits):
            return self.criterion(logits, target)
        log_probs = logits.permute(0, 2, 3, 1).log_softmax(dim=-1)
        pixel_losses = F.nll_loss(
            log_probs.flatten(0, 2),
            target.flatten(),
            weight=self.criterion.weight,
            ignore_index=self.ignore_label,
            reduction="none",
        )
        return pixel_losses.view_as(target)

    def _mean_ce(self, logits, target):
        """CE averaged over the non-ignored pixels (weighted mean with class weights); 0 when
        every pixel is ignored, where `F.cross_entropy` gives NaN."""
        pixel_losses = self._pixel_losses(logits, target)
        valid = target != self.ignore_label
        weight = self.criterion.weight
        if weight is None:
            total = valid.sum(dtype=torch.float32)
        else:
            total = (weight[target.masked_fill(~valid, 0)] * valid).sum(dtype=torch.float32)
        # Dividing 0 by 1 (not by a tiny epsilon) keeps the gradient finite under loss scaling.
        return pixel_losses.sum() / total.masked_fill(total == 0, 1.0)

    def _earlier_output_loss(self, logits, target):
        return self._mean_ce(logits, target)

    def _last_output_loss(self, logits, target):
        return self._mean_ce(logits, target)

    def forward(self, outputs, target):
        """`outputs`: logits (N, C, h, w) or a list of them; `target`: class indices (N, H, W)."""
        outputs = as_list(outputs)
        if len(outputs) != len(self.balance_weights):
            raise ConfigError(
                f"the model gave {len(outputs)} outputs but LOSS.BALANCE_WEIGHTS has "
                f"{len(self.balance_weights)} weights {self.balance_weights}; give one per output"
            )
        target = target.long()
        losses = [self._earlier_output_loss] * (len(outputs) - 1) + [self._last_output_loss]
        return sum(
            w * loss(_resize_to(x, target, self.align_corners), target)
            for w, x, loss in zip(self.balance_weights, outputs, losses, strict=True)
        )


class OhemCrossEntropy(CrossEntropy):
    """Online hard example mining cross-entropy (on the last output; plain CE on the others).

    Among the non-ignored pixels, those whose ground-truth class probability is below
    `max(thres, p_k)` are kept, where `p_k` is the (min_kept+1)-th smallest such probability;
    the loss is the mean of their (class-weighted) pixel losses.

    The earlier outputs (OCR's aux) get their (class-weighted) pixel losses averaged over all
    pixels, ignored ones counting 0, as the original: it added their unreduced per-pixel map to
    the OHEM scalar and averaged the sum.
    """

    def __init__(
        self,
        ignore_label=-1,
        thres=0.7,
        min_kept=100000,
        weight=None,
        align_corners=False,
        balance_weights=(1.0,),
    ):
        super().__init__(ignore_label, weight, align_corners, balance_weights)
        self.thres = float(thres)
        self.min_kept = max(1, int(min_kept))

    def _earlier_output_loss(self, logits, target):
        pixel_losses = self._pixel_losses(logits, target)
        return pixel_losses.sum() / pixel_losses.numel()

    def _last_output_loss(self, logits, target):
        # Without a host synchronisation (no boolean indexing, no Python count of valid pixels):
        # ignored pixels get probability 2, above every real one, so the (min_kept+1)-th smallest
        # of all pixels is that of the valid ones, or 2 when fewer are valid; then the largest
        # valid probability is the threshold, as in the original.
        pixel_losses = self._pixel_losses(logits, target).flatten()
        valid = target.flatten() != self.ignore_label
        with torch.no_grad():
            safe_target = target.masked_fill(target == self.ignore_label, 0)
            prob = logits.softmax(dim=1).gather(1, safe_target.unsqueeze(1)).flatten()
            ranked = prob.masked_fill(~valid, 2.0)
            kth = ranked.kthvalue(min(self.min_kept + 1, ranked.numel())).values
            kth = torch.minimum(kth, prob.masked_fill(~valid, -1.0).max())
            keep = valid & (prob < kth.clamp(min=self.thres))
        # No pixel kept (none valid, or all equally confident): loss 0, not NaN, and the graph
        # stays connected (zero gradient) so every process runs the same backward.
        kept = pixel_losses.where(keep, 0.0)
        return kept.sum() / keep.sum().clamp(min=1)


def build_criterion(cfg, class_weights=None):
    """The loss of `cfg.LOSS` (CE or OHEM CE) with optional per-class weights."""
    weight = _class_weights(class_weights)
    num_classes = cfg.DATASET.NUM_CLASSES
    if weight is not None and weight.numel() != num_classes:
        raise ConfigError(
            f"{weight.numel()} class weights given for DATASET.NUM_CLASSES {num_classes}: "
            f"{weight.tolist()}"
        )
    common = dict(
        ignore_label=cfg.TRAIN.IGNORE_LABEL,
        weight=weight,
        align_corners=cfg.MODEL.ALIGN_CORNERS,
        balance_weights=cfg.LOSS.BALANCE_WEIGHTS,
    )
    if cfg.LOSS.USE_OHEM:
        return OhemCrossEntropy(
            thres=cfg.LOSS.OHEMTHRES, min_kept=max(1, cfg.LOSS.OHEMKEEP), **common
        )
    return CrossEntropy(**common)
