"""The HRNet backbone shared by every segmentation head.

Stem (two stride-2 3x3 convs, 1/4 resolution), `layer1` (STAGE1 blocks), then stages 2-4: each
stage adds a lower-resolution branch (`transition1..3`) and runs `NUM_MODULES` high-resolution
modules that process every branch and fuse them. Variants (W18-Small-v1 ... W48) differ only in
`MODEL.EXTRA`. Parameter names equal the original code's, so released checkpoints load strictly.
With `grad_checkpoint` set (TRAIN.GRAD_CHECKPOINT), the stem, every block of `layer1` and every
module of stages 2-4 is an activation-checkpointed region.
"""

import torch
import torch.nn.functional as F
from torch import nn

from utils.errors import ConfigError

from .checkpointing import run_modules, run_region
from .grad_layout import channels_last_grad

STAGE_KEYS = {"NUM_MODULES", "NUM_BRANCHES", "BLOCK", "NUM_BLOCKS", "NUM_CHANNELS", "FUSE_METHOD"}
# Almost every official YAML spells STAGE1.NUM_BRANCHES as NUM_RANCHES; the value is never read.
STAGE1_TYPO_KEYS = {"NUM_RANCHES"}
EXTRA_KEYS = {"FINAL_CONV_KERNEL", "STAGE1", "STAGE2", "STAGE3", "STAGE4"}
FUSE_METHODS = ("SUM",)  # how branches are fused: the original (and only) method adds them


def conv3x3(in_channels, out_channels, stride=1):
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection."""

    expansion = 1

    def __init__(self, in_channels, channels, stride=1, downsample=None, bn_momentum=0.1):
        super().__init__()
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn1 = nn.BatchNorm2d(channels, momentum=bn_momentum)
        self.conv2 = conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels, momentum=bn_momentum)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4) with a residual connection."""

    expansion = 4

    def __init__(self, in_channels, channels, stride=1, downsample=None, bn_momentum=0.1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels, momentum=bn_momentum)
        self.conv2 = conv3x3(channels, channels, stride)
        self.bn2 = nn.BatchNorm2d(channels, momentum=bn_momentum)
        self.conv3 = nn.Conv2d(channels, channels * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels * self.expansion, momentum=bn_momentum)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + residual)


BLOCKS = {"BASIC": BasicBlock, "BOTTLENECK": Bottleneck}


def make_blocks(block, in_channels, channels, num_blocks, stride=1, bn_momentum=0.1):
    """A sequence of `num_blocks` blocks; the first one adapts channels and stride."""
    out_channels = channels * block.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
            nn.BatchNorm2d(out_channels, momentum=bn_momentum),
        )
    layers = [block(in_channels, channels, stride, downsample, bn_momentum)]
    layers += [
        block(out_channels, channels, bn_momentum=bn_momentum) for _ in range(num_blocks - 1)
    ]
    return nn.Sequential(*layers)


def conv_bn(in_channels, out_channels, kernel, stride, bn_momentum, relu):
    layers = [
        nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels, momentum=bn_momentum),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class HighResolutionModule(nn.Module):
    """Per-branch blocks, then every branch receives the sum of all branches resized to it."""

    def __init__(self, block, num_blocks, in_channels, channels, bn_momentum, align_corners):
        super().__init__()
        self.align_corners = align_corners
        self.branches = nn.ModuleList(
            make_blocks(block, c_in, c, n, bn_momentum=bn_momentum)
            for c_in, c, n in zip(in_channels, channels, num_blocks, strict=True)
        )
        self.out_channels = [c * block.expansion for c in channels]
        self.fuse_layers = self._make_fuse_layers(self.out_channels, bn_momentum)
        self.relu = nn.ReLU(inplace=True)

    @staticmethod
    def _make_fuse_layers(channels, bn_momentum):
        if len(channels) == 1:
            return None
        fuse_layers = nn.ModuleList()
        for i, c_out in enumerate(channels):
            row = nn.ModuleList()
            for j, c_in in enumerate(channels):
                if j > i:  # lower resolution: 1x1 conv, then upsample in forward
                    row.append(conv_bn(c_in, c_out, 1, 1, bn_momentum, relu=False))
                elif j == i:
                    row.append(None)
                else:  # higher resolution: (i - j) stride-2 3x3 convs, ReLU except the last
                    steps = [
                        conv_bn(c_in, c_in, 3, 2, bn_momentum, relu=True) for _ in range(i - j - 1)
                    ]
                    steps.append(conv_bn(c_in, c_out, 3, 2, bn_momentum, relu=False))
                    row.append(nn.Sequential(*steps))
            fuse_layers.append(row)
        return fuse_layers

    def forward(self, xs):
        xs = [branch(x) for branch, x in zip(self.branches, xs, strict=True)]
        if self.fuse_layers is None:
            return xs
        fused = []
        for i, row in enumerate(self.fuse_layers):
            height, width = xs[i].shape[-2:]
            y = xs[0] if i == 0 else row[0](xs[0])
            for j in range(1, len(xs)):
                if j == i:
                    y = y + xs[j]
                elif j > i:
                    y = y + F.interpolate(
                        row[j](xs[j]),
                        size=(height, width),
                        mode="bilinear",
                        align_corners=self.align_corners,
                    )
                else:
                    y = y + row[j](xs[j])
            fused.append(self.relu(y))
        return fused


def check_extra(extra):
    """Fail on an unknown or missing MODEL.EXTRA key instead of silently ignoring it."""
    unknown = set(extra) - EXTRA_KEYS
    if unknown:
        raise ConfigError(
            f"unknown MODEL.EXTRA key(s) for HRNet: {sorted(unknown)}; known: {sorted(EXTRA_KEYS)}"
        )
    for name in ("STAGE1", "STAGE2", "STAGE3", "STAGE4"):
        if name not in extra:
            raise ConfigError(f"MODEL.EXTRA.{name} is missing")
        allowed = STAGE_KEYS | (STAGE1_TYPO_KEYS if name == "STAGE1" else set())
        unknown = set(extra[name]) - allowed
        if unknown:
            raise ConfigError(
                f"unknown key(s) {', '.join(f'MODEL.EXTRA.{name}.{k}' for k in sorted(unknown))}; "
                f"known: {', '.join(sorted(allowed))}"
            )
        required = {"BLOCK", "NUM_BLOCKS", "NUM_CHANNELS"}
        if name != "STAGE1":
            required |= {"NUM_MODULES", "NUM_BRANCHES"}
        missing = required - set(extra[name])
        if missing:
            raise ConfigError(f"MODEL.EXTRA.{name} lacks {sorted(missing)}")
        if extra[name]["BLOCK"] not in BLOCKS:
            raise ConfigError(
                f"MODEL.EXTRA.{name}.BLOCK is {extra[name]['BLOCK']!r}; expected one of "
                f"{sorted(BLOCKS)}"
            )
        fuse = extra[name].get("FUSE_METHOD", FUSE_METHODS[0])
        if fuse not in FUSE_METHODS:
            raise ConfigError(
                f"MODEL.EXTRA.{name}.FUSE_METHOD is {fuse!r}; expected one of {list(FUSE_METHODS)}"
            )


class HighResolutionNet(nn.Module):
    """HRNet from stem to stage 4; `forward` returns the four branch outputs (1/4 .. 1/32)."""

    def __init__(self, extra, bn_momentum=0.1, align_corners=True):
        super().__init__()
        check_extra(extra)
        self.conv1 = nn.Conv2d(3, 64, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, momentum=bn_momentum)
        self.conv2 = nn.Conv2d(64, 64, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64, momentum=bn_momentum)
        self.relu = nn.ReLU(inplace=True)

        stage1 = extra["STAGE1"]
        block = BLOCKS[stage1["BLOCK"]]
        self.layer1 = make_blocks(
            block, 64, stage1["NUM_CHANNELS"][0], stage1["NUM_BLOCKS"][0], bn_momentum=bn_momentum
        )
        channels = [stage1["NUM_CHANNELS"][0] * block.expansion]
        for index in (2, 3, 4):
            spec = extra[f"STAGE{index}"]
            block = BLOCKS[spec["BLOCK"]]
            wanted = [c * block.expansion for c in spec["NUM_CHANNELS"]]
            setattr(
                self, f"transition{index - 1}", self._make_transition(channels, wanted, bn_momentum)
            )
            stage, channels = self._make_stage(spec, wanted, bn_momentum, align_corners)
            setattr(self, f"stage{index}", stage)
        self.out_channels = channels
        self.grad_checkpoint = False

    @staticmethod
    def _make_transition(pre_channels, channels, bn_momentum):
        layers = nn.ModuleList()
        for i, c_out in enumerate(channels):
            if i < len(pre_channels):
                same = pre_channels[i] == c_out
                layers.append(
                    None if same else conv_bn(pre_channels[i], c_out, 3, 1, bn_momentum, True)
                )
            else:  # a new branch: stride-2 convs from the lowest existing resolution
                c_in = pre_channels[-1]
                steps = []
                for step in range(i + 1 - len(pre_channels)):
                    c_step = c_out if step == i - len(pre_channels) else c_in
                    steps.append(conv_bn(c_in, c_step, 3, 2, bn_momentum, relu=True))
                layers.append(nn.Sequential(*steps))
        return layers

    @staticmethod
    def _make_stage(spec, in_channels, bn_momentum, align_corners):
        block = BLOCKS[spec["BLOCK"]]
        if not (spec["NUM_BRANCHES"] == len(spec["NUM_BLOCKS"]) == len(spec["NUM_CHANNELS"])):
            raise ConfigError(
                f"stage spec NUM_BRANCHES={spec['NUM_BRANCHES']} does not match NUM_BLOCKS "
                f"{list(spec['NUM_BLOCKS'])} and NUM_CHANNELS {list(spec['NUM_CHANNELS'])}"
            )
        modules = []
        for _ in range(spec["NUM_MODULES"]):
            module = HighResolutionModule(
                block,
                spec["NUM_BLOCKS"],
                in_channels,
                spec["NUM_CHANNELS"],
                bn_momentum,
                align_corners,
            )
            in_channels = module.out_channels
            modules.append(module)
        return nn.Sequential(*modules), in_channels

    def forward_stem(self, x):
        """Stem and layer1: the 1/4-resolution input of stage 2."""
        x = run_region(self._stem, x, module=self, checkpointed=self.grad_checkpoint)
        return run_modules(self.layer1, x, self.grad_checkpoint)

    def _stem(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(x)))

    @staticmethod
    def _transition(transition, xs):
        out = []
        for i, layer in enumerate(transition):
            source = xs[i] if i < len(xs) else xs[-1]
            out.append(source if layer is None else layer(source))
        return out

    def run_stage(self, index, xs):
        """The modules of stage `index` (2..4) on its inputs `xs`, one branch each."""
        return run_modules(getattr(self, f"stage{index}"), xs, self.grad_checkpoint)

    def forward_stage(self, index, xs):
        """Transition into stage `index` (2..4) from the previous outputs `xs`, then the stage."""
        transition = getattr(self, f"transition{index - 1}")
        return self.run_stage(index, self._transition(transition, xs))

    def forward(self, x):
        xs = [self.forward_stem(x)]
        for index in (2, 3, 4):
            xs = self.forward_stage(index, xs)
        return xs


def concat_branches(xs, align_corners):
    """Upsample every branch to the first one's size and concatenate along channels."""
    height, width = xs[0].shape[-2:]
    # Upsampling's backward is given its slice of the concatenation's gradient.
    resized = [xs[0]] + [
        channels_last_grad(
            F.interpolate(x, size=(height, width), mode="bilinear", align_corners=align_corners)
        )
        for x in xs[1:]
    ]
    return torch.cat(resized, dim=1)


def init_weights(module, skip=()):
    """Original initialisation: conv weights N(0, 0.001), BN weight 1 / bias 0.

    Sub-modules whose qualified name contains one of `skip` keep PyTorch's default init
    (the OCR code does this for its `cls`, `aux` and `ocr` heads).
    """
    for name, m in module.named_modules():
        if any(word in name for word in skip):
            continue
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=0.001)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


# Top-level attribute names of HighResolutionNet: what ImageNet initialisation must fill.
BACKBONE_PREFIXES = tuple(f"{name}." for name in ("conv1", "bn1", "conv2", "bn2", "layer1")) + (
    "transition",
    "stage",
)
