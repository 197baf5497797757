"""Export formats by name, for tools/export_onnx.py --format and for tools/test.py, which runs a
TEST.MODEL_FILE that a format recognises instead of loading it as weights.

A format is one module of lib/deploy that builds an `ExportFormat` and passes it to
`register_format`; deploy/__init__.py imports the module, which is what makes the name known.
Format modules import only torch when loaded, so that any format is recognised without the
optional packages of another (ONNX needs requirements-deploy.txt only to export or run a file).
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from utils.errors import ConfigError
from utils.registry import Registry

__all__ = [
    "ExportFormat",
    "check_input_size",
    "export_path",
    "format_names",
    "format_of",
    "get_format",
    "register_format",
    "without_suffix",
]

_FORMATS = Registry("export format", "--format")


@dataclass(frozen=True)
class ExportFormat:
    """One export format.

    `export(model, path, size, dynamic=False, **options)` writes `model` (eval mode, CPU) for
    (N, 3, H, W) input of `size` = (H, W), any H and W when `dynamic`; `options` are the
    format's own (their names in `options`). `load(path, device)` returns a module that runs
    the file like the PyTorch model (same outputs; attributes `fixed_size`: (H, W) or None, and
    `runtime`: what runs it, for logs). `recognizes(path)` tells whether an existing file is of
    this format. `label` names the format in tables, `suffix` ends the files it writes.
    """

    name: str
    label: str
    suffix: str
    export: Callable
    load: Callable
    recognizes: Callable
    options: tuple = ()


def register_format(export_format):
    """Make `export_format` known by its name; returns it."""
    return _FORMATS.register(export_format.name)(export_format)


def format_names():
    return _FORMATS.names()


def get_format(name):
    """The format called `name`; unknown names list the known ones."""
    return _FORMATS.get(name)


def format_of(path):
    """The format of the existing file `path`, or None (e.g. a weights file)."""
    for name in format_names():
        if get_format(name).recognizes(path):
            return get_format(name)
    return None


def without_suffix(path):
    """`path` without its format suffix (a registered format's, e.g. `.torchscript.pt`, else
    its last suffix): model.torchscript.pt -> model."""
    path = Path(path)
    for name in format_names():
        suffix = get_format(name).suffix
        if path.name.endswith(suffix) and len(path.name) > len(suffix):
            return path.with_name(path.name[: -len(suffix)])
    return path.with_suffix("")


def export_path(output, export_format):
    """The file of `export_format` for the output path `output`: its suffix replaced by the
    format's (`without_suffix`): model.onnx -> model.torchscript.pt."""
    base = without_suffix(output)
    return base.with_name(base.name + export_format.suffix)


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
