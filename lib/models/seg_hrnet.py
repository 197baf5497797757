"""HRNetV2 segmentation: all four branches upsampled to 1/4, concatenated, 1x1 head."""

from torch import nn

from .checkpointing import run_region
from .hrnet import HighResolutionNet, concat_branches, init_weights
from .registry import register_model

# BatchNorm momentum of the HRNet-OCR branch's models and of its forks' (OCR, HANet); master and
# pytorch-v1.1 had 0.01 for this one, which the YAMLs of that code set as MODEL.BN_MOMENTUM.
BN_MOMENTUM = 0.1


def make_head(in_channels, num_classes, final_kernel, bn_momentum):
    """1x1 conv-BN-ReLU, then the classifier (named `last_layer` / `aux_head` in checkpoints)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, in_channels, 1),
        nn.BatchNorm2d(in_channels, momentum=bn_momentum),
        nn.ReLU(inplace=True),
        nn.Conv2d(in_channels, num_classes, final_kernel, padding=1 if final_kernel == 3 else 0),
    )


class SegHRNet(HighResolutionNet):
    """HRNetV2: `forward` returns class logits at 1/4 of the input size."""

    def __init__(self, extra, num_classes, align_corners, bn_momentum=BN_MOMENTUM):
        super().__init__(extra, bn_momentum=bn_momentum, align_corners=align_corners)
        self.align_corners = align_corners
        channels = sum(self.out_channels)
        self.last_layer = make_head(
            channels, num_classes, extra.get("FINAL_CONV_KERNEL", 1), bn_momentum
        )
        init_weights(self)

    def forward(self, x):
        xs = super().forward(x)
        return run_region(
            self._head, *xs, module=self.last_layer, checkpointed=self.grad_checkpoint
        )

    def _head(self, *xs):
        return self.last_layer(concat_branches(xs, self.align_corners))


@register_model("seg_hrnet")
def build_seg_hrnet(cfg):
    return SegHRNet(
        cfg.MODEL.EXTRA,
        cfg.DATASET.NUM_CLASSES,
        cfg.MODEL.ALIGN_CORNERS,
        bn_momentum=cfg.MODEL.BN_MOMENTUM or BN_MOMENTUM,
    )
