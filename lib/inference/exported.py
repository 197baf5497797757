"""Exported models (ONNX, TorchScript) run where the PyTorch model runs: the loader of each
format, found by the file's content or suffix, and the window of a fixed-size export.

A loader is one `ExportLoader` passed to `register_loader` (this module's ONNX one;
inference/torchscript.py's); deploy's export formats name theirs (`ExportFormat.loader`), so a
file is recognised and loaded in one place. Loaders import only torch when registered: ONNX
Runtime (requirements-deploy.txt) is imported when an ONNX file is loaded.
"""

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from utils.errors import ConfigError, UserError
from utils.registry import Registry

__all__ = [
    "ExportLoader",
    "check_input_size",
    "export_window",
    "get_loader",
    "import_deploy_extra",
    "loader_of",
    "register_loader",
]

logger = logging.getLogger(__name__)

_LOADERS = Registry("exported model format", "--format")


@dataclass(frozen=True)
class ExportLoader:
    """How to run one export format. `load(path, device)` returns a module that runs the file
    like the PyTorch model (same outputs; attributes `fixed_size`: (H, W) or None, and
    `runtime`: what runs it, for logs); `recognizes(path)` tells whether an existing file is of
    this format; `label` names the format in tables and logs."""

    name: str
    label: str
    load: Callable
    recognizes: Callable


def register_loader(loader):
    """Make `loader` known by its name; returns it."""
    return _LOADERS.register(loader.name)(loader)


def get_loader(name):
    """The loader called `name`; unknown names list the known ones."""
    return _LOADERS.get(name)


def loader_of(path):
    """The loader of the existing file `path`, or None (e.g. a weights file)."""
    for name in _LOADERS.names():
        if _LOADERS.get(name).recognizes(path):
            return _LOADERS.get(name)
    return None


def import_deploy_extra(module):
    """The module `module` (one that needs onnx / onnxruntime), or a UserError saying what to
    install."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise UserError(
            f"ONNX export and ONNX Runtime need the deployment extras ({error}): "
            "pip install -r requirements-deploy.txt"
        ) from error


def check_input_size(path, fixed_size, x):
    """Raise a ConfigError naming the export size when a fixed-size export (`fixed_size` (H, W);
    None: any size) gets an input `x` (N, 3, H, W) of another size."""
    if fixed_size is not None and tuple(x.shape[2:]) != tuple(fixed_size):
        height, width = fixed_size
        raise ConfigError(
            f"{path} was exported for {height}x{width} input, got "
            f"{x.shape[2]}x{x.shape[3]}: set TEST.IMAGE_SIZE {width},{height} (the crop) "
            "or export with --dynamic"
        )


def export_window(cfg, model):
    """`cfg` for predicting with `model`: a fixed-size export (a loaded export with `fixed_size`
    (H, W)) only accepts its export size, so that size becomes the window
    (TEST.IMAGE_SIZE, w x h; `Predictor.from_config` pads every input to it). `cfg` itself for a
    dynamic export, a PyTorch model or a window that already fits."""
    size = getattr(model, "fixed_size", None)
    width, height = cfg.TEST.IMAGE_SIZE
    if size is None or tuple(size) == (height, width):
        return cfg
    logger.info(
        "fixed-size export: the evaluation crop (TEST.IMAGE_SIZE) becomes %dx%d (was %dx%d)",
        *size,
        height,
        width,
    )
    cfg = cfg.clone()
    cfg.defrost()
    cfg.TEST.IMAGE_SIZE = [int(size[1]), int(size[0])]
    cfg.freeze()
    return cfg


def _load_onnx(path, device="cpu"):
    runtime = import_deploy_extra("inference.onnx_runtime")
    model = runtime.OnnxModel(path, providers=runtime.providers_for(device))
    cuda = "CUDAExecutionProvider" in model.session.get_providers()
    if torch.device(device).type == "cuda" and not cuda:
        logger.info("this onnxruntime has no CUDA provider: %s runs on the CPU", Path(path).name)
    return model


register_loader(
    ExportLoader(
        name="onnx",
        label="ONNX",
        load=_load_onnx,
        recognizes=lambda path: Path(path).suffix.lower() == ".onnx",
    )
)
