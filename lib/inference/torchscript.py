"""TorchScript files (`torch.jit.save`; deploy/torchscript_export.py writes them with
`torch.jit.trace`, as the deploy zoo and the panorama fork exported) run where the PyTorch
model runs.

Our files record the size they were traced at and whether they are fixed-size (`METADATA`), as
an ONNX export does (`--size` vs `--dynamic`). torch.jit is deprecated upstream (in favour of
torch.export) and works in the pinned torch; its warnings are silenced here.
"""

import json
import warnings
import zipfile

import torch
from torch import nn

from utils.checkpoint import is_torchscript

from .exported import ExportLoader, check_input_size, register_loader

__all__ = ["METADATA", "TorchScriptModel", "describe_torchscript", "is_torchscript"]

# Our entry in the archive's extra files: {"size": [H, W], "dynamic": bool}.
METADATA = "hrnet_export.json"


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
        # a traced list comes back as a tuple: give the PyTorch model's list
        return outputs if torch.is_tensor(outputs) else list(outputs)


def describe_torchscript(path):
    """A report on the TorchScript file `path`, read as an archive (its code is not run)."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        extra = next((n for n in names if n.endswith(f"/extra/{METADATA}")), None)
        metadata = json.loads(archive.read(extra)) if extra else {}
        tensors = sum(1 for n in names if "/data/" in n and not n.endswith("/"))
    if metadata:
        size = "x".join(map(str, metadata["size"]))
        traced = f"traced at {size}, " + ("any input size" if metadata["dynamic"] else "fixed size")
    else:
        traced = "no export metadata (not written by tools/export_onnx.py): any input size assumed"
    lines = [
        f"file:      {path}",
        "format:    TorchScript (torch.jit.save)",
        f"input:     {traced}",
        f"tensors:   {tensors}",
        f"evaluate it: python tools/test.py --cfg <the YAML it was exported from> "
        f"TEST.MODEL_FILE {path}",
    ]
    return "\n".join(lines)


register_loader(
    ExportLoader(
        name="torchscript",
        label="TorchScript",
        load=TorchScriptModel,
        recognizes=is_torchscript,
    )
)
