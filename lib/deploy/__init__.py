"""Deployment: ONNX export, fp16 and int8 variants, and their evaluation with the same
predictor and metrics as tools/test.py. Needs requirements-deploy.txt (onnx, onnxruntime)."""

from .evaluate import evaluate, export_window, format_table, latency_ms
from .onnx_export import (
    INPUT_NAME,
    compare_outputs,
    convert_fp16,
    export_onnx,
    quantize_int8,
)
from .runtime import OnnxModel, providers_for

__all__ = [
    "INPUT_NAME",
    "OnnxModel",
    "compare_outputs",
    "convert_fp16",
    "evaluate",
    "export_onnx",
    "export_window",
    "format_table",
    "latency_ms",
    "providers_for",
    "quantize_int8",
]
