"""Models by name: `models.build_model(cfg)`; weights: `models.load_weights(model, path)`.

Each model file registers a builder with `@register_model(MODEL.NAME)`; importing it here is
what makes the name known.
"""

import logging

from . import (  # noqa: F401  (registers the models)
    seg_hrnet,
    seg_hrnet_hanet,
    seg_hrnet_ocr,
    seg_litehrnet,
)
from .registry import get_builder, model_names, register_model
from .weights import CheckpointMismatchError, load_imagenet, load_weights, read_state_dict

__all__ = [
    "CheckpointMismatchError",
    "build_model",
    "load_imagenet",
    "load_weights",
    "model_names",
    "read_state_dict",
    "register_model",
]

logger = logging.getLogger(__name__)


def build_model(cfg, pretrained=True):
    """Build `cfg.MODEL.NAME`; with `pretrained`, initialise from `cfg.MODEL.PRETRAINED` if set."""
    model = get_builder(cfg.MODEL.NAME)(cfg)
    if pretrained and cfg.MODEL.PRETRAINED:
        load_imagenet(model, cfg.MODEL.PRETRAINED)
    return model
