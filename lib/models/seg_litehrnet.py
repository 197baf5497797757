"""Lite-HRNet for segmentation (Yu et al., CVPR 2021), as adapted by the AI702 fork.

Stem (1/4 resolution), `num_stages` stages that add a lower-resolution branch each (via
`transition0..`), each stage `num_modules` Lite-HRNet modules (LITE: conditional channel
weighting; NAIVE: shuffle blocks) with HRNet-style fusion, then the IterativeHead that walks from
the lowest resolution up and ends in a depthwise-separable projection to the class logits
(1/4 resolution). Optionally (the fork) a HANet per branch re-weights every stage's output using
that stage's input. Variants (Naive-18, Wider-Naive-18, Lite-18, Lite-30) are `MODEL.EXTRA` data:

    in_channels: 3
    stem: {stem_channels: 32, out_channels: 32, expand_ratio: 1}
    num_stages: 3
    stages_spec: {num_modules: [2, 4, 2], num_branches: [2, 3, 4], num_blocks: [2, 2, 2],
                  module_type: [LITE, LITE, LITE], with_fuse: [true, true, true],
                  reduce_ratios: [8, 8, 8], num_channels: [[40, 80], [40, 80, 160], [40, ..., 320]]}
    with_head: true      # must be true: the head produces the logits
    with_hanet: true     # new, optional; default true = the fork (HANet hanet1..N after each stage)
    logits_relu: true    # new, optional; default true = the fork, whose last projection ends in
                         # BN + ReLU on the logits; new configs set false (BN only, clean logits)

The two optional keys default to the fork's behaviour because the fork's YAML does not write them
and must keep building the model its checkpoints were trained with; new YAMLs write both.
"""

import torch.nn.functional as F
from torch import nn

from utils.errors import ConfigError

from .checkpointing import run_modules
from .hanet import HANet, hanet_options
from .litehrnet_blocks import (
    ConditionalChannelWeighting,
    DepthwiseSeparableConv,
    ShuffleUnit,
    Stem,
    dw_pw,
)
from .registry import register_model

STEM_KEYS = {"stem_channels", "out_channels", "expand_ratio"}
STAGE_KEYS = {
    "num_modules",
    "num_branches",
    "num_blocks",
    "module_type",
    "with_fuse",
    "reduce_ratios",
    "num_channels",
}
EXTRA_KEYS = {
    "in_channels",
    "stem",
    "num_stages",
    "stages_spec",
    "with_head",
    "with_hanet",
    "logits_relu",
}
MODULE_TYPES = ("LITE", "NAIVE")


class LiteHRModule(nn.Module):
    """Per-branch blocks, then (with `with_fuse`) every branch receives all branches resized.

    The fusion reproduces the released Lite-HRNet exactly, because trained weights depend on it:
    its row 0 adds branch 0 twice and, updating branch 0 in place, hands the fused (pre-ReLU)
    branch 0 to every other row, which also adds that term twice.
    """

    def __init__(self, module_type, channels, num_blocks, reduce_ratio, with_fuse):
        super().__init__()
        if module_type == "LITE":
            self.layers = nn.Sequential(
                *(ConditionalChannelWeighting(channels, reduce_ratio) for _ in range(num_blocks))
            )
        else:
            self.layers = nn.ModuleList(
                nn.Sequential(*(ShuffleUnit(c) for _ in range(num_blocks))) for c in channels
            )
        self.module_type = module_type
        self.fuse_layers = self._make_fuse_layers(channels) if with_fuse else None

    @staticmethod
    def _make_fuse_layers(channels):
        if len(channels) == 1:
            return None
        rows = nn.ModuleList()
        for i, c_out in enumerate(channels):
            row = nn.ModuleList()
            for j, c_in in enumerate(channels):
                if j > i:  # lower resolution: 1x1 conv + BN, upsampled in forward
                    conv = nn.Conv2d(c_in, c_out, 1, bias=False)
                    row.append(nn.Sequential(conv, nn.BatchNorm2d(c_out)))
                elif j == i:
                    row.append(None)
                else:  # higher resolution: (i - j) stride-2 dw+pw steps, ReLU except the last
                    steps = [dw_pw(c_in, c_in, 2, relu=True) for _ in range(i - j - 1)]
                    steps.append(dw_pw(c_in, c_out, 2, relu=False))
                    row.append(nn.Sequential(*steps))
            rows.append(row)
        return rows

    def _contribution(self, i, j, x, size):
        """Branch j resized to branch i (`size`) through fuse_layers[i][j]."""
        y = self.fuse_layers[i][j](x)
        return F.interpolate(y, size=size, mode="nearest") if j > i else y

    def forward(self, xs):
        if self.module_type == "LITE":
            xs = self.layers(xs)
        else:
            xs = [branch(x) for branch, x in zip(self.layers, xs, strict=True)]
        if self.fuse_layers is None:
            return xs
        sizes = [x.shape[-2:] for x in xs]
        first = 2 * xs[0]
        for j in range(1, len(xs)):
            first = first + self._contribution(0, j, xs[j], sizes[0])
        fused = [first]
        for i in range(1, len(xs)):
            down = self.fuse_layers[i][0](first)
            # The fork applies this layer twice; in training its BatchNorms update twice.
            down = down + self.fuse_layers[i][0](first) if self.training else 2 * down
            y = down + xs[i]
            for j in range(1, len(xs)):
                if j != i:
                    y = y + self._contribution(i, j, xs[j], sizes[i])
            fused.append(y)
        return [F.relu(y) for y in fused]


class IterativeHead(nn.Module):
    """From the lowest resolution up: add the upsampled previous result, depthwise-separable conv.

    Each projection maps to the next branch's width; the last one maps branch 0 to the classes,
    ending in BN, plus ReLU when `logits_relu` (the fork's head).

    Its upsampling always uses align_corners=True and does not read MODEL.ALIGN_CORNERS: the
    released head (Lite-HRNet's, kept by the AI702 fork) hard-codes True while the fork's YAML
    sets MODEL.ALIGN_CORNERS false for the loss and test resizes, so following the key would
    change the logits of every checkpoint trained with that YAML.
    """

    def __init__(self, channels, num_classes, logits_relu):
        super().__init__()
        widths = list(reversed(channels)) + [num_classes]
        last = len(channels) - 1
        self.projects = nn.ModuleList(
            DepthwiseSeparableConv(
                widths[i], widths[i + 1], act=nn.ReLU if logits_relu or i < last else None
            )
            for i in range(len(channels))
        )

    def forward(self, xs):
        y = None
        for x, project in zip(reversed(xs), self.projects, strict=True):
            if y is not None:
                # align_corners=True whatever MODEL.ALIGN_CORNERS: see the class docstring
                x = x + F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=True)
            y = project(x)
        return y


def check_extra(extra):
    """Fail on an unknown, missing or inconsistent MODEL.EXTRA key, naming it."""
    unknown = set(extra) - EXTRA_KEYS
    if unknown:
        raise ConfigError(
            f"unknown MODEL.EXTRA key(s) for seg_litehrnet: {sorted(unknown)}; known: "
            f"{sorted(EXTRA_KEYS)}"
        )
    for key, known in (("stem", STEM_KEYS), ("stages_spec", STAGE_KEYS)):
        if key not in extra:
            raise ConfigError(f"MODEL.EXTRA.{key} is missing")
        if set(extra[key]) != known:
            raise ConfigError(
                f"MODEL.EXTRA.{key} has keys {sorted(extra[key])}; expected {sorted(known)}"
            )
    if "num_stages" not in extra:
        raise ConfigError("MODEL.EXTRA.num_stages is missing")
    num_stages = extra["num_stages"]
    spec = extra["stages_spec"]
    for key in sorted(STAGE_KEYS):
        if len(spec[key]) != num_stages:
            raise ConfigError(
                f"MODEL.EXTRA.stages_spec.{key} has {len(spec[key])} entries; num_stages is "
                f"{num_stages}"
            )
    for s in range(num_stages):
        channels = list(spec["num_channels"][s])
        if spec["num_branches"][s] != len(channels):
            raise ConfigError(
                f"MODEL.EXTRA.stages_spec: stage {s} has num_branches {spec['num_branches'][s]} "
                f"but num_channels {channels}"
            )
        if spec["module_type"][s] not in MODULE_TYPES:
            raise ConfigError(
                f"MODEL.EXTRA.stages_spec.module_type[{s}] is {spec['module_type'][s]!r}; "
                f"expected one of {MODULE_TYPES}"
            )
        if any(c % 2 for c in channels):
            raise ConfigError(
                f"MODEL.EXTRA.stages_spec.num_channels[{s}] = {channels}: shuffle blocks split "
                "channels in halves, so every width must be even"
            )
    if not extra.get("with_head", True):
        raise ConfigError("MODEL.EXTRA.with_head must be true: the head produces the logits")
    if extra.get("with_hanet", True):
        last = list(spec["num_channels"][-1])
        for s in range(num_stages):
            if list(spec["num_channels"][s]) != last[: len(spec["num_channels"][s])]:
                raise ConfigError(
                    "MODEL.EXTRA.with_hanet shares one HANet per branch across stages, so a "
                    f"branch must keep its width; stage {s} has {list(spec['num_channels'][s])}, "
                    f"the last stage {last}"
                )


class SegLiteHRNet(nn.Module):
    """Lite-HRNet with the IterativeHead: `forward` returns class logits at 1/4 of the input size.

    `hanet` holds HANet's keyword arguments (see `hanet.hanet_options`), or None for no HANet.
    """

    def __init__(self, extra, num_classes, hanet=None):
        super().__init__()
        check_extra(extra)
        stem, spec = extra["stem"], extra["stages_spec"]
        self.stem = Stem(
            extra.get("in_channels", 3),
            stem["stem_channels"],
            stem["out_channels"],
            stem["expand_ratio"],
        )
        self.num_stages = extra["num_stages"]
        channels = [stem["out_channels"]]
        for s in range(self.num_stages):
            wanted = list(spec["num_channels"][s])
            setattr(self, f"transition{s}", self._make_transition(channels, wanted))
            modules = [
                LiteHRModule(
                    spec["module_type"][s],
                    wanted,
                    spec["num_blocks"][s],
                    spec["reduce_ratios"][s],
                    spec["with_fuse"][s],
                )
                for _ in range(spec["num_modules"][s])
            ]
            setattr(self, f"stage{s}", nn.Sequential(*modules))
            channels = wanted
        self.head_layer = IterativeHead(channels, num_classes, extra.get("logits_relu", True))
        self._init_weights()
        # One HANet per branch (hanet1 = branch 0), shared by every stage that has the branch.
        self.num_hanets = len(channels) if hanet is not None else 0
        for k in range(self.num_hanets):
            setattr(self, f"hanet{k + 1}", HANet(channels[k], channels[k], **hanet))
        self.grad_checkpoint = False  # TRAIN.GRAD_CHECKPOINT: each stage module is a region

    @staticmethod
    def _make_transition(pre, cur):
        layers = nn.ModuleList()
        for i, c_out in enumerate(cur):
            if i < len(pre):
                layers.append(None if pre[i] == c_out else dw_pw(pre[i], c_out, 1, relu=True))
            else:  # a new branch: stride-2 steps from the lowest existing resolution
                steps = [dw_pw(pre[-1], pre[-1], 2, relu=True) for _ in range(i - len(pre))]
                steps.append(dw_pw(pre[-1], c_out, 2, relu=True))
                layers.append(nn.Sequential(*steps))
        return layers

    def _init_weights(self):
        # As the fork trained from (Lite-HRNet has no ImageNet weights): mmcv ConvModule's init;
        # its transition and fuse convolutions are plain nn.Conv2d and keep PyTorch's default.
        for name, m in self.named_modules():
            plain = name.startswith("transition") or ".fuse_layers." in name
            if isinstance(m, nn.Conv2d) and not plain:
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        ys = [self.stem(x)]
        for s in range(self.num_stages):
            transition = getattr(self, f"transition{s}")
            xs = [
                ys[k] if layer is None else layer(ys[min(k, len(ys) - 1)])
                for k, layer in enumerate(transition)
            ]
            ys = run_modules(getattr(self, f"stage{s}"), xs, self.grad_checkpoint)
            if self.num_hanets:
                ys = [
                    getattr(self, f"hanet{k + 1}")(low, high)
                    for k, (low, high) in enumerate(zip(xs, ys, strict=True))
                ]
        return self.head_layer(ys)


@register_model("seg_litehrnet")
def build_seg_litehrnet(cfg):
    extra = cfg.MODEL.EXTRA
    hanet = hanet_options(cfg.MODEL.HANET) if extra.get("with_hanet", True) else None
    return SegLiteHRNet(extra, cfg.DATASET.NUM_CLASSES, hanet)
