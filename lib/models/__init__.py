"""Models by name: `models.build_model(cfg)`; weights: `models.load_weights(model, path)`.

Each model file registers a builder with `@register_model(MODEL.NAME)`; importing it here is
what makes the name known.
"""

import logging
from pathlib import Path

from utils.errors import CheckpointError, ConfigError

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
    "finetune",
    "load_imagenet",
    "load_weights",
    "model_names",
    "read_state_dict",
    "register_model",
]

logger = logging.getLogger(__name__)


def build_model(cfg, pretrained=True):
    """Build `cfg.MODEL.NAME`; with `pretrained`, initialise from `cfg.MODEL.PRETRAINED` if set.

    MODEL.PRETRAINED is an ImageNet backbone file, unless MODEL.FINETUNE_REINIT lists key
    prefixes: then it is a segmentation checkpoint to fine-tune from (see `finetune`).
    """
    model = get_builder(cfg.MODEL.NAME)(cfg)
    reinit = list(cfg.MODEL.FINETUNE_REINIT)
    if pretrained and reinit:
        if not cfg.MODEL.PRETRAINED:
            raise ConfigError(
                f"MODEL.FINETUNE_REINIT {reinit} needs MODEL.PRETRAINED, the segmentation "
                "checkpoint to fine-tune from; set it, or set MODEL.FINETUNE_REINIT [] to train "
                "without one"
            )
        finetune(model, cfg.MODEL.PRETRAINED, reinit)
    elif pretrained and cfg.MODEL.PRETRAINED:
        load_imagenet(model, cfg.MODEL.PRETRAINED)
    return model


def finetune(model, path, reinit):
    """Load the segmentation checkpoint `path` strictly, except the tensors under the `reinit`
    key prefixes (e.g. the classifiers of another class count: `cls_head`, `aux_head.3` in OCR),
    which keep the model's initialisation. Returns the re-initialised keys.
    """
    keys = list(model.state_dict())
    chosen = []
    for prefix in reinit:
        matched = [k for k in keys if k == prefix or k.startswith(prefix + ".")]
        if not matched:
            top = sorted({k.split(".")[0] for k in keys})
            raise ConfigError(
                f"MODEL.FINETUNE_REINIT prefix {prefix!r} matches no key of {type(model).__name__} "
                f"(its modules: {', '.join(top)})"
            )
        chosen += [k for k in matched if k not in chosen]
    if not Path(path).is_file():
        raise CheckpointError(
            f"MODEL.PRETRAINED {path} does not exist: with MODEL.FINETUNE_REINIT set it is the "
            "segmentation checkpoint to fine-tune from"
        )
    kept = load_weights(model, path, reinit=chosen)
    logger.info(
        "fine-tuning from %s: loaded %d tensors, re-initialised %d (MODEL.FINETUNE_REINIT %s): %s",
        path,
        len(keys) - len(kept),
        len(kept),
        reinit,
        ", ".join(kept),
    )
    return kept
