"""TorchScript export (`torch.jit.trace`, as the deploy zoo and the panorama fork exported);
`inference.TorchScriptModel` runs the file where the PyTorch model runs.

The file records the size it was traced at and whether it is fixed-size, as an ONNX export
does (`--size` vs `--dynamic`): a trace replays the operations it saw, and our models' traces
give the eager outputs at any size (tested), but the file only promises what it was checked at.
torch.jit is deprecated upstream (in favour of torch.export) and works in the pinned torch; its
warnings are silenced here.
"""

import json
import warnings

import torch

from inference.exported import get_loader
from inference.torchscript import METADATA

from .formats import ExportFormat, register_format

__all__ = ["export_torchscript"]


def export_torchscript(model, path, size=(512, 1024), dynamic=False):
    """Trace `model` (eval mode, on the CPU) on a (1, 3, H, W) input of `size` and save it to
    `path`. Outputs keep the model's structure (OCR: the list [aux, main])."""
    model = model.eval()
    example = torch.randn(1, 3, *size)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        # strict=False: OCR returns a list; our own parity check replaces check_trace.
        traced = torch.jit.trace(model, example, strict=False, check_trace=False)
        metadata = json.dumps({"size": [int(s) for s in size], "dynamic": bool(dynamic)})
        torch.jit.save(traced, str(path), _extra_files={METADATA: metadata})


register_format(
    ExportFormat(
        name="torchscript",
        suffix=".torchscript.pt",
        export=export_torchscript,
        loader=get_loader("torchscript"),
    )
)
