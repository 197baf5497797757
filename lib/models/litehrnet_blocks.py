"""Building blocks of Lite-HRNet (Yu et al., CVPR 2021): stem, shuffle block, channel weighting.

Attribute names follow the original mmcv/mmpose code (`ConvModule` = `conv`, `bn`), so the
fork's checkpoints load strictly.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .pooling import adaptive_pool2d


class ConvModule(nn.Module):
    """Conv2d, then BatchNorm (if `norm`; the conv has a bias otherwise), then `act` (if any)."""

    def __init__(
        self, in_channels, out_channels, kernel_size, stride=1, groups=1, norm=True, act=nn.ReLU
    ):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            kernel_size // 2,
            groups=groups,
            bias=not norm,
        )
        self.bn = nn.BatchNorm2d(out_channels) if norm else None
        self.act = act() if act else None

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return x if self.act is None else self.act(x)


def depthwise(channels, stride=1, act=None):
    """Depthwise 3x3 conv + BN."""
    return ConvModule(channels, channels, 3, stride, groups=channels, act=act)


class DepthwiseSeparableConv(nn.Module):
    """Depthwise 3x3 + BN, then pointwise 1x1 + BN + `act` (mmcv DepthwiseSeparableConvModule)."""

    def __init__(self, in_channels, out_channels, act=nn.ReLU):
        super().__init__()
        self.depthwise_conv = depthwise(in_channels)
        self.pointwise_conv = ConvModule(in_channels, out_channels, 1, act=act)

    def forward(self, x):
        return self.pointwise_conv(self.depthwise_conv(x))


def dw_pw(in_channels, out_channels, stride, relu):
    """Depthwise 3x3 + BN, pointwise 1x1 + BN (+ ReLU): transitions and fusion, as a Sequential."""
    layers = [
        nn.Conv2d(in_channels, in_channels, 3, stride, 1, groups=in_channels, bias=False),
        nn.BatchNorm2d(in_channels),
        nn.Conv2d(in_channels, out_channels, 1, bias=False),
        nn.BatchNorm2d(out_channels),
    ]
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def channel_shuffle(x, groups):
    batch, channels, height, width = x.shape
    x = x.view(batch, groups, channels // groups, height, width).transpose(1, 2)
    return x.reshape(batch, channels, height, width)


class Stem(nn.Module):
    """Stride-2 3x3 conv, then a stride-2 shuffle block on its two channel halves (1/4 size)."""

    def __init__(self, in_channels, stem_channels, out_channels, expand_ratio):
        super().__init__()
        half = stem_channels // 2
        mid = int(round(stem_channels * expand_ratio))
        same = stem_channels == out_channels
        self.out_channels = out_channels
        self.conv1 = ConvModule(in_channels, stem_channels, 3, stride=2)
        self.branch1 = nn.Sequential(
            depthwise(half, stride=2),
            ConvModule(half, out_channels - (half if same else stem_channels), 1),
        )
        self.expand_conv = ConvModule(half, mid, 1)
        self.depthwise_conv = depthwise(mid, stride=2)
        self.linear_conv = ConvModule(mid, half if same else stem_channels, 1)

    def forward(self, x):
        x1, x2 = self.conv1(x).chunk(2, dim=1)
        x2 = self.linear_conv(self.depthwise_conv(self.expand_conv(x2)))
        return channel_shuffle(torch.cat([self.branch1(x1), x2], dim=1), 2)


class ShuffleUnit(nn.Module):
    """ShuffleNetV2 block (stride 1): half the channels pass, half go 1x1 - dw 3x3 - 1x1."""

    def __init__(self, channels):
        super().__init__()
        half = channels // 2
        self.branch2 = nn.Sequential(
            ConvModule(half, half, 1), depthwise(half), ConvModule(half, half, 1)
        )

    def forward(self, x):
        x1, x2 = x.chunk(2, dim=1)
        return channel_shuffle(torch.cat([x1, self.branch2(x2)], dim=1), 2)


class CrossResolutionWeighting(nn.Module):
    """Channel weights computed from all branches pooled to the smallest resolution.

    The pooling is `F.adaptive_avg_pool2d` to the smallest branch's size, through
    `adaptive_pool2d`, which also exports to ONNX (fixed or dynamic size).
    """

    def __init__(self, channels, ratio):
        super().__init__()
        self.channels = list(channels)
        total = sum(channels)
        self.conv1 = ConvModule(total, total // ratio, 1)
        self.conv2 = ConvModule(total // ratio, total, 1, act=nn.Sigmoid)

    def forward(self, xs):
        pooled = [adaptive_pool2d(x, xs[-1]) for x in xs[:-1]] + [xs[-1]]
        weights = self.conv2(self.conv1(torch.cat(pooled, dim=1))).split(self.channels, dim=1)
        return [
            x * F.interpolate(w, size=x.shape[-2:], mode="nearest")
            for x, w in zip(xs, weights, strict=True)
        ]


class SpatialWeighting(nn.Module):
    """Squeeze-and-excitation on one branch (global pooling, 1x1 ReLU, 1x1 sigmoid)."""

    def __init__(self, channels, ratio=4):
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = ConvModule(channels, channels // ratio, 1, norm=False)
        self.conv2 = ConvModule(channels // ratio, channels, 1, norm=False, act=nn.Sigmoid)

    def forward(self, x):
        return x * self.conv2(self.conv1(self.global_avgpool(x)))


class ConditionalChannelWeighting(nn.Module):
    """The Lite-HRNet block: on half the channels of every branch, cross-resolution weighting,
    a depthwise 3x3, spatial weighting; the other half passes; then a channel shuffle."""

    def __init__(self, channels, reduce_ratio):
        super().__init__()
        halves = [c // 2 for c in channels]
        self.cross_resolution_weighting = CrossResolutionWeighting(halves, reduce_ratio)
        self.depthwise_convs = nn.ModuleList(depthwise(c) for c in halves)
        self.spatial_weighting = nn.ModuleList(SpatialWeighting(c) for c in halves)

    def forward(self, xs):
        halves = [x.chunk(2, dim=1) for x in xs]
        weighted = self.cross_resolution_weighting([h[1] for h in halves])
        weighted = [
            sw(dw(x))
            for x, dw, sw in zip(
                weighted, self.depthwise_convs, self.spatial_weighting, strict=True
            )
        ]
        return [
            channel_shuffle(torch.cat([h[0], w], dim=1), 2)
            for h, w in zip(halves, weighted, strict=True)
        ]
