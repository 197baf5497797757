"""The ONNX export format: its registration and defaults. The work is in onnx_export.py
(export, fp16, int8) and inference/onnx_runtime.py (ONNX Runtime), which need
requirements-deploy.txt; they are imported when a file is exported or run, so that other formats
(and --help) work without them."""

from inference.exported import get_loader, import_deploy_extra

from .formats import ExportFormat, register_format

__all__ = ["CALIBRATION_METHODS", "INPUT_NAME", "OPSET", "onnx_export_module"]

INPUT_NAME = "image"
OPSET = 17
# int8 calibration, ONNX Runtime's CalibrationMethod by lower-case name: min/max of the
# activations; the KL-divergence (entropy) thresholds the deploy zoo's compiler used; the
# 99.999th percentile of their absolute values.
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")


def onnx_export_module():
    """deploy.onnx_export, or a UserError saying what to install."""
    return import_deploy_extra("deploy.onnx_export")


def _export(model, path, size=(512, 1024), dynamic=False, **options):
    onnx_export_module().export_onnx(model, path, size, dynamic=dynamic, **options)


register_format(
    ExportFormat(
        name="onnx",
        suffix=".onnx",
        export=_export,
        loader=get_loader("onnx"),
        options=("opset", "input_name", "output_names"),
    )
)
