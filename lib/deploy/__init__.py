"""Deployment: export formats (ONNX with fp16 and int8 variants, TorchScript) and their
evaluation with the same predictor and metrics as tools/test.py (`inference`, which also runs
the exported files).

Importing `deploy` needs only torch; the ONNX functions below (export_onnx, convert_fp16,
quantize_int8) need requirements-deploy.txt (onnx, onnxruntime) and are imported on first use.
"""

from . import onnx_format, torchscript_export  # noqa: F401  (registers the formats)
from .evaluate import compare_outputs, evaluate_variants, format_table, latency_ms
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
from .torchscript_export import export_torchscript

# defined by deploy.onnx_export, imported when first asked for
_ONNX_NAMES = ("convert_fp16", "export_onnx", "quantize_int8")

__all__ = [
    "CALIBRATION_METHODS",
    "INPUT_NAME",
    "OPSET",
    "ExportFormat",
    "compare_outputs",
    "evaluate_variants",
    "export_files",
    "export_path",
    "export_torchscript",
    "format_names",
    "format_of",
    "format_table",
    "get_format",
    "latency_ms",
    "report_parity",
    "variant_path",
    "without_suffix",
    *_ONNX_NAMES,
]


def __getattr__(name):
    if name in _ONNX_NAMES:
        return getattr(onnx_format.onnx_export_module(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
