"""Export formats by name, for tools/export_onnx.py --format.

A format is one module of lib/deploy that builds an `ExportFormat` and passes it to
`register_format`; deploy/__init__.py imports the module, which is what makes the name known.
Its `loader` (inference/exported.py) recognises and runs the files, also for tools/test.py and
`inference.load_model`. Format modules import only torch when loaded, so that any format is
recognised without the optional packages of another (ONNX needs requirements-deploy.txt only to
export or run a file).
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from inference.exported import ExportLoader
from utils.registry import Registry

__all__ = [
    "ExportFormat",
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
    format's own (their names in `options`). `loader` (an `inference.ExportLoader`) runs the
    files: `load(path, device)`, `recognizes(path)` and `label` are its. `suffix` ends the
    files it writes.
    """

    name: str
    suffix: str
    export: Callable
    loader: ExportLoader
    options: tuple = ()

    @property
    def label(self):
        return self.loader.label

    @property
    def load(self):
        return self.loader.load

    @property
    def recognizes(self):
        return self.loader.recognizes


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
