"""HRNet + OCR (object-contextual representations).

Soft object regions come from `aux_head` (the HRNetV2 head); pixels are gathered into one
vector per class, every pixel attends to those object vectors, and the object context is fused
with the pixel features before `cls_head`. `forward` returns `[aux, main]` logits at 1/4 size.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .hrnet import HighResolutionNet, concat_branches, init_weights
from .registry import register_model
from .seg_hrnet import BN_MOMENTUM, make_head


def bn_relu(channels):
    # A nested Sequential, as the original `BNReLU`: checkpoint keys are `<name>.1.0.weight`.
    return nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True))


def spatial_gather(features, region_logits):
    """Per-class object vectors: features averaged with a softmax over pixels of each class map.

    features (B, C, H, W), region_logits (B, K, H, W) -> (B, C, K, 1).
    """
    batch, channels = features.shape[:2]
    weights = F.softmax(region_logits.flatten(2), dim=2)  # B, K, HW
    pixels = features.flatten(2).transpose(1, 2)  # B, HW, C
    return torch.matmul(weights, pixels).transpose(1, 2).unsqueeze(3)


class ObjectAttentionBlock(nn.Module):
    """Every pixel (query) attends to the K object vectors (keys / values)."""

    def __init__(self, in_channels, key_channels, scale=1):
        super().__init__()
        self.key_channels = key_channels
        self.scale = scale
        self.pool = nn.MaxPool2d(scale) if scale > 1 else None
        self.f_pixel = nn.Sequential(
            nn.Conv2d(in_channels, key_channels, 1, bias=False),
            bn_relu(key_channels),
            nn.Conv2d(key_channels, key_channels, 1, bias=False),
            bn_relu(key_channels),
        )
        self.f_object = nn.Sequential(
            nn.Conv2d(in_channels, key_channels, 1, bias=False),
            bn_relu(key_channels),
            nn.Conv2d(key_channels, key_channels, 1, bias=False),
            bn_relu(key_channels),
        )
        self.f_down = nn.Sequential(
            nn.Conv2d(in_channels, key_channels, 1, bias=False), bn_relu(key_channels)
        )
        self.f_up = nn.Sequential(
            nn.Conv2d(key_channels, in_channels, 1, bias=False), bn_relu(in_channels)
        )

    def forward(self, x, objects):
        batch, _, height, width = x.shape
        if self.pool is not None:
            x = self.pool(x)
        query = self.f_pixel(x).flatten(2).transpose(1, 2)  # B, HW, key
        key = self.f_object(objects).flatten(2)  # B, key, K
        value = self.f_down(objects).flatten(2).transpose(1, 2)  # B, K, key
        attention = F.softmax(torch.matmul(query, key) * self.key_channels**-0.5, dim=-1)
        context = torch.matmul(attention, value).transpose(1, 2)
        context = self.f_up(context.reshape(batch, self.key_channels, *x.shape[-2:]))
        if self.pool is not None:
            context = F.interpolate(
                context, size=(height, width), mode="bilinear", align_corners=True
            )
        return context


class SpatialOCR(nn.Module):
    """Object context concatenated with the pixel features, fused by a 1x1 conv."""

    def __init__(self, in_channels, key_channels, out_channels, scale, dropout):
        super().__init__()
        self.object_context_block = ObjectAttentionBlock(in_channels, key_channels, scale)
        self.conv_bn_dropout = nn.Sequential(
            nn.Conv2d(2 * in_channels, out_channels, 1, bias=False),
            bn_relu(out_channels),
            nn.Dropout2d(dropout),
        )

    def forward(self, features, objects):
        context = self.object_context_block(features, objects)
        return self.conv_bn_dropout(torch.cat([context, features], dim=1))


class SegHRNetOCR(HighResolutionNet):
    """HRNet + OCR; `forward` returns `[aux_logits, main_logits]` at 1/4 of the input size."""

    def __init__(
        self,
        extra,
        num_classes,
        align_corners,
        mid_channels=512,
        key_channels=256,
        dropout=0.05,
        scale=1,
        bn_momentum=BN_MOMENTUM,
    ):
        super().__init__(extra, bn_momentum=bn_momentum, align_corners=align_corners)
        self.align_corners = align_corners
        channels = sum(self.out_channels)
        self.conv3x3_ocr = nn.Sequential(
            nn.Conv2d(channels, mid_channels, 3, padding=1),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
        )
        self.ocr_distri_head = SpatialOCR(mid_channels, key_channels, mid_channels, scale, dropout)
        self.cls_head = nn.Conv2d(mid_channels, num_classes, 1)
        self.aux_head = make_head(channels, num_classes, 1, bn_momentum)
        init_weights(self, skip=("cls", "aux", "ocr"))

    def forward(self, x):
        features = concat_branches(super().forward(x), self.align_corners)
        aux = self.aux_head(features)
        features = self.conv3x3_ocr(features)
        features = self.ocr_distri_head(features, spatial_gather(features, aux))
        return [aux, self.cls_head(features)]


@register_model("seg_hrnet_ocr")
def build_seg_hrnet_ocr(cfg):
    ocr = cfg.MODEL.OCR
    return SegHRNetOCR(
        cfg.MODEL.EXTRA,
        cfg.DATASET.NUM_CLASSES,
        cfg.MODEL.ALIGN_CORNERS,
        mid_channels=ocr.MID_CHANNELS,
        key_channels=ocr.KEY_CHANNELS,
        dropout=ocr.DROPOUT,
        scale=ocr.SCALE,
        bn_momentum=cfg.MODEL.BN_MOMENTUM or BN_MOMENTUM,
    )
