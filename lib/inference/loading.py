"""A ready-to-run model from a config and a model file: a weights file (.pth, any layout
`models.load_weights` reads) in one of the PyTorch runtimes, or an export (.onnx, TorchScript)
as its format's loader runs it."""

import logging

import models

from .exported import loader_of
from .fast import optimize

__all__ = ["RUNTIMES", "load_model", "prepare_model"]

logger = logging.getLogger(__name__)

# how a PyTorch model runs: as trained (fp32); `inference.optimize`'s "exact" (BatchNorm folded,
# channels_last, fp32) and "fast" (the same with bf16 on CPUs / fp16 on CUDA)
RUNTIMES = ("eager", "exact", "fast")


def prepare_model(model, runtime="fast", device="cpu"):
    """`model` in eval mode on `device`, run as `runtime` (one of RUNTIMES): itself for
    "eager", else an optimised copy (`inference.optimize`)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    model = model.to(device).eval()
    return model if runtime == "eager" else optimize(model, runtime)


def load_model(cfg, path, runtime="fast", device="cpu"):
    """The model of `path` on `device`, ready to predict: an export (a format's loader
    recognises the file: .onnx, TorchScript) as exported, whatever `runtime`; else the model of
    `cfg` with the weights of `path`, run as `runtime` (`prepare_model`). Exports have
    `fixed_size` ((H, W) or None: `inference.export_window`) and `runtime` (what runs them)."""
    loader = loader_of(path)
    if loader is None:
        model = models.build_model(cfg, pretrained=False)
        models.load_weights(model, path)
        return prepare_model(model, runtime, device)
    if runtime != "fast":  # what the tools' --exact asks for
        logger.info(
            "--exact is ignored for an exported model (%s): it runs as exported", loader.label
        )
    return loader.load(path, device)
