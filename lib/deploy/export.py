"""Export a model to every requested format and ONNX variant, and check each file against
PyTorch: what tools/export_onnx.py does before evaluating."""

import logging
from pathlib import Path

import torch

from utils.errors import ConfigError

from .evaluate import compare_outputs
from .formats import export_path, format_of, get_format
from .onnx_format import onnx_export_module

__all__ = ["export_files", "report_parity", "variant_path"]

logger = logging.getLogger(__name__)

# fp32 exports further from PyTorch than this (relative) get a warning
PARITY_TOLERANCE = 1e-4


def variant_path(path, suffix):
    """model.onnx -> model_<suffix>.onnx"""
    path = Path(path)
    return path.with_name(f"{path.stem}_{suffix}{path.suffix}")


def export_files(
    model,
    output,
    size,
    formats=("onnx",),
    dynamic=False,
    onnx_options=None,
    fp16=False,
    int8_methods=(),
    per_channel=True,
    calibration=None,
):
    """Write `model` in each of `formats` (the output path with each format's suffix,
    `export_path`) and the ONNX variants: fp16 (`<name>_fp16.onnx`) and int8 for each
    calibration method of `int8_methods` (`<name>_int8.onnx` for one method,
    `<name>_int8_<method>.onnx` for several), calibrated on `calibration()`: a new iterable of
    float32 arrays (N, 3, H, W) per call. `onnx_options`: opset, input_name, output_names.
    Returns [(row name, path)], fp32 exports first."""
    files = []
    for name in formats:
        export_format = get_format(name)
        path = export_path(output, export_format)
        options = {k: v for k, v in (onnx_options or {}).items() if k in export_format.options}
        export_format.export(model, path, size, dynamic=dynamic, **options)
        files.append((f"{export_format.label} fp32", path))
    if (fp16 or int8_methods) and "onnx" not in formats:
        raise ConfigError("fp16 and int8 variants are made from the ONNX export: add onnx")
    source = export_path(output, get_format("onnx"))
    if fp16:
        files.append(("ONNX fp16", variant_path(source, "fp16")))
        onnx_export_module().convert_fp16(source, files[-1][1])
    for method in int8_methods:
        suffix = "int8" if len(int8_methods) == 1 else f"int8_{method}"
        granularity = "" if per_channel else ", per-tensor"
        files.append((f"ONNX int8 ({method}{granularity})", variant_path(source, suffix)))
        logger.info("quantising %s to int8, %s calibration", source, method)
        onnx_export_module().quantize_int8(
            source, files[-1][1], calibration(), method=method, per_channel=per_channel
        )
    return files


def report_parity(model, name, path, size):
    """Log the max absolute / relative differences between `model` and the exported file on
    a seeded random (1, 3, H, W) input of `size`; warn when an fp32 export differs by more
    than PARITY_TOLERANCE. Returns the per-output differences (`compare_outputs`)."""
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    differences = compare_outputs(model, format_of(path).load(path, "cpu"), x)
    text = ", ".join(f"max abs {d['abs']:.3g} rel {d['rel']:.3g}" for d in differences)
    logger.info("%s vs PyTorch on a random 1x3x%dx%d input: %s", path, *size, text)
    worst = max(d["rel"] for d in differences)
    if "fp32" in name and worst > PARITY_TOLERANCE:
        cause = ""
        if get_format("onnx").recognizes(path):
            onnx_export = onnx_export_module()
            if onnx_export.opset_of(path) < onnx_export.EXACT_RESIZE_OPSET:
                cause = (
                    ": below ONNX opset 11, Upsample / Resize have no half-pixel coordinates, so "
                    "bilinear upsampling differs from PyTorch's; export with --opset 11 or later"
                )
        logger.warning(
            "%s differs from PyTorch by %.3g relative (more than %g)%s",
            path,
            worst,
            PARITY_TOLERANCE,
            cause,
        )
    return differences
