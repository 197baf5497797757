"""Loading weights into a model: released segmentation checkpoints and ImageNet backbones.

Every file is read with `torch.load(weights_only=True)`. Released files come in several layouts
(see README "Load a released checkpoint"); they are normalised to bare parameter names and then
loaded strictly, so a file that does not fit fails loudly instead of leaving layers at their
random initialisation.
"""

import logging
from pathlib import Path

import torch

from utils.checkpoint import read_file
from utils.errors import CheckpointError
from utils.state_keys import compare_shapes, format_differences, key_list, shapes_of

from .hrnet import BACKBONE_PREFIXES

logger = logging.getLogger(__name__)

# Keys of an HRNet-Image-Classification file that a segmentation model has no use for.
IMAGENET_ONLY_PREFIXES = ("incre_modules", "downsamp_modules", "final_layer", "classifier")


class CheckpointMismatchError(CheckpointError):
    """A weights file whose tensors do not fit the model."""


def read_checkpoint(path):
    """The object stored in a weights file, read with `torch.load(weights_only=True)`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file {path} does not exist")
    return read_file(path)


def _raw_state(data, path):
    """The tensor dict of `data`, unwrapped from `{'state_dict': ...}`."""
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(torch.is_tensor(v) for v in data.values()):
        raise CheckpointMismatchError(f"{path}: expected a state dict of tensors")
    return data


def _prefix(key):
    for prefix in ("module.model.", "module.", "model."):
        if key.startswith(prefix):
            return prefix
    return ""


def bare_state_dict(data, path="weights"):
    """`data` as read from a weights file -> its state dict with bare parameter names.

    Accepts a bare state dict, `{'state_dict': ...}` (checkpoint.pth.tar), `model.` (FullModel),
    `module.` (DataParallel / DDP) and `module.model.` prefixes; drops the loss's `loss.*` keys.
    """
    state = {}
    for key, value in _raw_state(data, path).items():
        key = key[len(_prefix(key)) :]
        if key.startswith("loss."):
            continue
        state[key] = value
    return state


def read_state_dict(path):
    """Read a weights file and return its state dict with bare parameter names (any released
    layout, see `bare_state_dict`)."""
    return bare_state_dict(read_checkpoint(path), path)


def describe_layout(data, path="weights"):
    """How a weights file stores its tensors, in words: the wrapper, the key prefix, the loss
    keys and whether BatchNorm's `num_batches_tracked` is there (PyTorch 0.4-era files lack it)."""
    raw = _raw_state(data, path)
    parts = []
    if raw is not data:
        extra = sorted(k for k in data if k != "state_dict")
        also = f" (also {', '.join(extra)})" if extra else ""
        parts.append("{'state_dict': ...} checkpoint" + also)
    names = {
        "module.model.": "`module.model.` prefix (DataParallel / DDP around FullModel)",
        "module.": "`module.` prefix (DataParallel / DDP)",
        "model.": "`model.` prefix (FullModel: best.pth / final_state.pth)",
        "": "bare parameter names",
    }
    prefixes = sorted({_prefix(k) for k in raw if not k.startswith("loss.")})
    parts += [names[p] for p in prefixes]
    loss = [k for k in raw if k[len(_prefix(k)) :].startswith("loss.")]
    if loss:
        parts.append(f"{len(loss)} loss tensor(s), not loaded ({key_list(loss)})")
    if not any(k.endswith("num_batches_tracked") for k in raw):
        parts.append("no num_batches_tracked (PyTorch 0.4-era file)")
    return "; ".join(parts)


def _fill_num_batches_tracked(state, model_state):
    """PyTorch 0.4-era files have no `num_batches_tracked`; BatchNorm then starts from 0."""
    if any(k.endswith("num_batches_tracked") for k in state):
        return state
    filled = dict(state)
    for key, value in model_state.items():
        if key.endswith("num_batches_tracked") and key not in filled:
            filled[key] = torch.zeros_like(value)
    return filled


def load_weights(model, path, reinit=()):
    """Strictly load a released or self-trained checkpoint into `model`.

    `reinit` lists key prefixes (e.g. a classifier of another class count) that are not taken
    from the file: the model keeps its own initialisation there and everything else is strict.
    Returns the list of re-initialised keys.
    """
    model_state = model.state_dict()
    state = _fill_num_batches_tracked(read_state_dict(path), model_state)
    kept = [k for k in model_state if k.startswith(tuple(reinit))] if reinit else []
    for key in kept:
        state[key] = model_state[key]
    if reinit:
        state = {
            k: v for k, v in state.items() if k in model_state or not k.startswith(tuple(reinit))
        }
    differences = compare_shapes(shapes_of(state), shapes_of(model_state))
    if any(differences):
        raise CheckpointMismatchError(
            f"{path} does not fit {type(model).__name__}: "
            + format_differences(*differences, sep="; ")
        )
    model.load_state_dict(state, strict=True)
    if kept:
        logger.info(
            "re-initialised %d tensors not taken from %s: %s", len(kept), path, key_list(kept)
        )
    return kept


def load_imagenet(model, path):
    """Initialise the HRNet backbone of `model` from an HRNet-Image-Classification file.

    Every backbone tensor must find a tensor of the same name and shape; the classification
    layers (`incre_modules`, `downsamp_modules`, `final_layer`, `classifier`) are left over and
    the segmentation head keeps its initialisation. Returns (loaded keys, left-over file keys).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"MODEL.PRETRAINED {path} does not exist: put the HRNet-Image-Classification weights "
            "under pretrained_models/ (see pretrained_models/README.md) or set MODEL.PRETRAINED ''"
        )
    model_state = model.state_dict()
    state = _fill_num_batches_tracked(read_state_dict(path), model_state)
    taken = {k: v for k, v in state.items() if k in model_state and v.shape == model_state[k].shape}
    backbone = [k for k in model_state if k.startswith(BACKBONE_PREFIXES)]
    unmatched = [k for k in backbone if k not in taken]
    if unmatched:
        raise CheckpointMismatchError(
            f"{path}: {len(unmatched)} backbone tensor(s) of {type(model).__name__} found no "
            f"tensor of the same name and shape: {key_list(unmatched)}; is MODEL.EXTRA the width "
            "of this ImageNet model?"
        )
    _, _, mis_shaped = compare_shapes(shapes_of(state), shapes_of(model_state))
    if mis_shaped:  # a head: a segmentation checkpoint of another class count, not ImageNet's
        raise CheckpointMismatchError(
            f"MODEL.PRETRAINED {path}: {format_differences([], [], mis_shaped)}; to fine-tune "
            "a segmentation checkpoint of another class count, name its classifier in "
            "MODEL.FINETUNE_REINIT (e.g. ['last_layer.3'], OCR: ['cls_head', 'aux_head.3'])"
        )
    left = [k for k in state if k not in taken]
    unusual = [k for k in left if not k.startswith(IMAGENET_ONLY_PREFIXES)]
    model.load_state_dict({**model_state, **taken}, strict=True)
    head = [k for k in model_state if k not in taken]
    logger.info(
        "loaded %d tensors from %s; left %d ImageNet-only tensors (%s); %d head tensors keep "
        "their initialisation",
        len(taken),
        path,
        len(left),
        ", ".join(sorted({k.split(".")[0] for k in left})) or "none",
        len(head),
    )
    if unusual:
        logger.warning("%s: %d tensors matched nothing: %s", path, len(unusual), key_list(unusual))
    return sorted(taken), left
