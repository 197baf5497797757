"""HRNetV2 + HANet, as in the AI702 fork: height-driven attention on the highest-resolution branch.

The stage-2 input of branch 0 (after `transition1`) drives a HANet (`hanet3_0`) that re-weights
the stage-4 output of branch 0 before the usual concat head. The HANet hyper-parameters are
MODEL.HANET; MODEL.HANET.POS_ENCODING defaults to False, which is the fork (it built the
positional table but never applied it), so the fork's YAML with `MODEL.NAME seg_hrnet_hanet`
reproduces its checkpoints. New configs set it to True, the paper's recipe.
"""

from .hanet import HANet, hanet_options
from .hrnet import BLOCKS, concat_branches
from .registry import register_model
from .seg_hrnet import BN_MOMENTUM, SegHRNet


class SegHRNetHANet(SegHRNet):
    """HRNetV2 with a HANet on branch 0: `forward` returns class logits at 1/4 of the input size."""

    def __init__(self, extra, num_classes, align_corners, hanet, bn_momentum=BN_MOMENTUM):
        super().__init__(extra, num_classes, align_corners, bn_momentum=bn_momentum)
        stage2 = extra["STAGE2"]
        low_channels = stage2["NUM_CHANNELS"][0] * BLOCKS[stage2["BLOCK"]].expansion
        self.hanet3_0 = HANet(low_channels, self.out_channels[0], **hanet)

    def forward(self, x):
        xs = self._transition(self.transition1, [self.forward_stem(x)])
        low = xs[0]
        xs = self.forward_stage(4, self.forward_stage(3, self.run_stage(2, xs)))
        xs = [self.hanet3_0(low, xs[0]), *xs[1:]]
        return self.last_layer(concat_branches(xs, self.align_corners))


@register_model("seg_hrnet_hanet")
def build_seg_hrnet_hanet(cfg):
    return SegHRNetHANet(
        cfg.MODEL.EXTRA,
        cfg.DATASET.NUM_CLASSES,
        cfg.MODEL.ALIGN_CORNERS,
        hanet_options(cfg.MODEL.HANET),
        bn_momentum=cfg.MODEL.BN_MOMENTUM or BN_MOMENTUM,
    )
