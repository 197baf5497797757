"""Deployment: export formats (ONNX with fp16 and int8 variants, TorchScript) and their
evaluation with the same predictor and metrics as tools/test.py.

Importing `deploy` needs only torch; the ONNX functions below (export_onnx, OnnxModel, ...)
need requirements-deploy.txt (onnx, onnxruntime) and are imported on first use.
"""

from . import onnx_format, torchscript_export  # noqa: F401  (registers the formats)
from .evaluate import (
    compare_outputs,
    evaluate,
    evaluate_variants,
    export_window,
    format_table,
    latency_ms,
)
from .export import export_files, report_parity, variant_path
from .formats import (
    ExportFormat,
    export_path,
    format_names,
    format_of,
    get_format,
    without_suffix,
)
from .onnx_format import CALIBRATION_METHODS, INPUT_NAME, OPSET
from .torchscript_export import TorchScriptModel, export_torchscript, is_torchscript

# name -> the module of this package that defines it, imported when first asked for
_ONNX_NAMES = {
    "convert_fp16": "onnx_export",
    "export_onnx": "onnx_export",
    "quantize_int8": "onnx_export",
    "OnnxModel": "runtime",
    "providers_for": "runtime",
}

__all__ = [
    "CALIBRATION_METHODS",
    "INPUT_NAME",
    "OPSET",
    "ExportFormat",
    "TorchScriptModel",
    "compare_outputs",
    "evaluate",
    "evaluate_variants",
    "export_files",
    "export_path",
    "export_torchscript",
    "export_window",
    "format_names",
    "format_of",
    "format_table",
    "get_format",
    "is_torchscript",
    "latency_ms",
    "report_parity",
    "variant_path",
    "without_suffix",
    *_ONNX_NAMES,
]


def __getattr__(name):
    if name in _ONNX_NAMES:
        return getattr(onnx_format.onnx_module(_ONNX_NAMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
