"""HANet: height-driven attention (Choi et al., "Cars Can't Fly Up in the Sky", CVPR 2020).

Rows of a lower-level feature map are pooled to a short vertical profile; 1-D convolutions turn it
into per-row channel weights that rescale a higher-level feature map, so every height of an
urban scene gets its own channel emphasis. A sinusoidal encoding of the row position can be added
inside the attention branch. Parameter names equal the original code's (`attention_first`,
`attention_second`, `attention_third`, `pos_emb1d_1st|2nd.pos_layer`), so the fork's checkpoints
load strictly.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from utils.errors import ConfigError

from .pooling import adaptive_pool2d

# Rows are pooled to POSITION_UNITS // POS_RFACTOR heights (16 for the paper's POS_RFACTOR 8).
POSITION_UNITS = 128


def sinusoid_table(num_positions, dim):
    """The paper's frozen table: sin / cos of position / cycle^(2 * (j // 2) / dim), plus 1."""
    cycle = 10 if dim > 50 else 100
    positions = torch.arange(num_positions, dtype=torch.float64)[:, None]
    exponents = 2 * (torch.arange(dim) // 2).to(torch.float64) / dim
    angles = positions / cycle**exponents
    angles[:, 0::2] = angles[:, 0::2].sin()
    angles[:, 1::2] = angles[:, 1::2].cos()
    return angles.float() + 1


class RowPositionEncoding(nn.Module):
    """Adds the sinusoidal code of each pooled row's height to a (B, C, rows) profile.

    The profile's rows span the input's height, so row k has position k. The official code reads
    absolute positions of the uncropped image from its data loader instead; for whole-image
    inference both agree, for random crops this is the crop-relative height. During training the
    positions are jittered by floor(N(0, noise)) rows, clamped to +-`max_shift`, as in the paper.
    """

    def __init__(self, num_positions, dim, noise, max_shift):
        super().__init__()
        self.pos_layer = nn.Embedding.from_pretrained(sinusoid_table(num_positions, dim))
        self.noise = noise
        self.max_shift = max_shift

    def forward(self, x):
        batch, _, rows = x.shape
        positions = torch.arange(rows, device=x.device).expand(batch, rows)
        if self.training and self.noise > 0:
            shift = torch.floor(torch.randn(batch, rows, device=x.device) * self.noise).long()
            positions = positions + shift.clamp(-self.max_shift, self.max_shift)
            positions = positions.clamp(0, self.pos_layer.num_embeddings - 1)
        return x + self.pos_layer(positions).transpose(1, 2)


def conv1d_bn_relu(in_channels, out_channels, kernel_size, bias):
    return nn.Sequential(
        nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias),
        nn.BatchNorm1d(out_channels),
        nn.ReLU(inplace=True),
    )


class HANet(nn.Module):
    """Height-driven attention: `forward(low, high)` returns `high` re-weighted row by row.

    `low` (in_channels) provides the vertical profile, `high` (out_channels) is rescaled; their
    heights may differ (the attention is interpolated to `high`'s height).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size=3,
        r_factor=64,
        layers=3,
        pos_injection=2,
        pos_rfactor=8,
        pooling="mean",
        dropout=0.1,
        pos_noise=0.5,
        pos_encoding=True,
    ):
        super().__init__()
        rows = POSITION_UNITS // pos_rfactor
        mid = math.ceil(in_channels / r_factor)
        # Adaptive pooling to (rows, 1); `adaptive_pool2d` also exports with a dynamic height.
        self.rowpool_size = (rows, 1)
        self.rowpool_mode = {"mean": "avg", "max": "max"}[pooling]
        # The original used Dropout2d on the (B, C, rows) profile, which drops whole channels.
        self.dropout = nn.Dropout1d(dropout) if dropout > 0 else nn.Identity()
        self.attention_first = conv1d_bn_relu(in_channels, mid, 1, bias=False)
        if layers == 2:
            self.attention_second = nn.Sequential(
                nn.Conv1d(mid, out_channels, kernel_size, padding=kernel_size // 2)
            )
        else:
            self.attention_second = conv1d_bn_relu(mid, 2 * mid, 3, bias=True)
            self.attention_third = nn.Sequential(
                nn.Conv1d(2 * mid, out_channels, kernel_size, padding=kernel_size // 2)
            )
        self.layers = layers
        self.pos_injection = pos_injection
        # Built even when not applied: the table is part of the released state dicts.
        encoding = RowPositionEncoding(
            rows + 1, in_channels if pos_injection == 1 else mid, pos_noise, 16 // pos_rfactor
        )
        setattr(self, "pos_emb1d_1st" if pos_injection == 1 else "pos_emb1d_2nd", encoding)
        self.pos_encoding = pos_encoding
        self._init_weights()

    def _init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm1d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, low, high):
        profile = adaptive_pool2d(low, self.rowpool_size, self.rowpool_mode).squeeze(3)
        if self.pos_encoding and self.pos_injection == 1:
            profile = self.pos_emb1d_1st(profile)
        profile = self.attention_first(self.dropout(profile))
        if self.pos_encoding and self.pos_injection == 2:
            profile = self.pos_emb1d_2nd(profile)
        profile = self.attention_second(profile)
        if self.layers == 3:
            profile = self.attention_third(profile)
        attention = F.interpolate(profile.sigmoid(), size=high.shape[2], mode="linear")
        return high * attention.unsqueeze(3)


HANET_KEYS = {
    "KERNEL_SIZE": "kernel_size",
    "R_FACTOR": "r_factor",
    "LAYERS": "layers",
    "POS_INJECTION": "pos_injection",
    "POS_RFACTOR": "pos_rfactor",
    "POOLING": "pooling",
    "DROPOUT": "dropout",
    "POS_NOISE": "pos_noise",
    "POS_ENCODING": "pos_encoding",
}


def hanet_options(node):
    """Keyword arguments of `HANet` from the MODEL.HANET config section, checked."""
    options = {arg: node[key] for key, arg in HANET_KEYS.items()}
    checks = [
        (options["layers"] in (2, 3), "LAYERS must be 2 or 3"),
        (options["pos_injection"] in (1, 2), "POS_INJECTION must be 1 or 2"),
        (options["pooling"] in ("mean", "max"), "POOLING must be 'mean' or 'max'"),
        (options["r_factor"] > 0, "R_FACTOR must be positive"),
        (
            0 < options["pos_rfactor"] <= 16 and POSITION_UNITS % options["pos_rfactor"] == 0,
            "POS_RFACTOR must divide 128 and be at most 16",
        ),
        (options["kernel_size"] % 2 == 1, "KERNEL_SIZE must be odd"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"MODEL.HANET: {message}; got {dict(node)}")
    return options
