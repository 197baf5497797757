"""TorchScript export (`torch.jit.trace`, as the deploy zoo and the panorama fork exported) and
the module that runs a traced file where the PyTorch model runs.

The file records the size it was traced at and whether it is fixed-size, as an ONNX export
does (`--size` vs `--dynamic`): a trace replays the operations it saw, and our models' traces
give the eager outputs at any size (tested), but the file only promises what it was checked at.
torch.jit is deprecated upstream (in favour of torch.export) and works in the pinned torch; its
warnings are silenced here.
"""

import json
import warnings
import zipfile

import torch
from torch import nn

from .formats import ExportFormat, check_input_size, register_format

__all__ = ["TorchScriptModel", "export_torchscript", "is_torchscript"]

# Our entry in the archive's extra files: {"size": [H, W], "dynamic": bool}.
METADATA = "hrnet_export.json"


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


def is_torchscript(path):
    """Whether `path` is a TorchScript archive (`torch.jit.save`), not a `torch.save` file:
    both are zip files, only TorchScript's hold compiled code (`<name>/constants.pkl`)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/constants.pkl") for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


class TorchScriptModel(nn.Module):
    """`model(x)` runs a TorchScript file on `device` like the PyTorch model: one tensor, or a
    list for several outputs (OCR: [aux, main]). `fixed_size` is the (H, W) a fixed-size
    export accepts (None: any; also for files without our metadata, e.g. the forks' traces).
    Load only files you trust: TorchScript runs the code stored in the file."""

    def __init__(self, path, device="cpu"):
        super().__init__()
        self.path = str(path)
        extra = {METADATA: ""}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            self.module = torch.jit.load(self.path, map_location=device, _extra_files=extra)
        metadata = json.loads(extra[METADATA] or "{}")
        self.fixed_size = None
        if metadata and not metadata["dynamic"]:
            self.fixed_size = tuple(metadata["size"])
        self.runtime = f"TorchScript ({torch.device(device)})"

    def forward(self, x):
        check_input_size(self.path, self.fixed_size, x)
        outputs = self.module(x)
        return list(outputs) if isinstance(outputs, tuple) else outputs


register_format(
    ExportFormat(
        name="torchscript",
        label="TorchScript",
        suffix=".torchscript.pt",
        export=export_torchscript,
        load=TorchScriptModel,
        recognizes=is_torchscript,
    )
)
