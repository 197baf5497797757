"""The ONNX export format: its registration and defaults. The work is in onnx_export.py
(export, fp16, int8) and runtime.py (ONNX Runtime), which need requirements-deploy.txt; they are
imported when a file is exported or run, so that other formats (and --help) work without them."""

import importlib
import logging
from pathlib import Path

import torch

from utils.errors import UserError

from .formats import ExportFormat, register_format

__all__ = ["CALIBRATION_METHODS", "INPUT_NAME", "OPSET", "onnx_module"]

INPUT_NAME = "image"
OPSET = 17
# int8 calibration, ONNX Runtime's CalibrationMethod by lower-case name: min/max of the
# activations; the KL-divergence (entropy) thresholds the deploy zoo's compiler used; the
# 99.999th percentile of their absolute values.
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")

logger = logging.getLogger(__name__)


def onnx_module(name):
    """deploy.`name` (onnx_export or runtime), or a UserError saying what to install."""
    try:
        return importlib.import_module(f"deploy.{name}")
    except ImportError as error:
        raise UserError(
            f"ONNX export and ONNX Runtime need the deployment extras ({error}): "
            "pip install -r requirements-deploy.txt"
        ) from error


def _export(model, path, size=(512, 1024), dynamic=False, **options):
    onnx_module("onnx_export").export_onnx(model, path, size, dynamic=dynamic, **options)


def _load(path, device="cpu"):
    runtime = onnx_module("runtime")
    model = runtime.OnnxModel(path, providers=runtime.providers_for(device))
    cuda = "CUDAExecutionProvider" in model.session.get_providers()
    if torch.device(device).type == "cuda" and not cuda:
        logger.info("this onnxruntime has no CUDA provider: %s runs on the CPU", Path(path).name)
    return model


register_format(
    ExportFormat(
        name="onnx",
        label="ONNX",
        suffix=".onnx",
        export=_export,
        load=_load,
        recognizes=lambda path: Path(path).suffix.lower() == ".onnx",
        options=("opset", "input_name", "output_names"),
    )
)
