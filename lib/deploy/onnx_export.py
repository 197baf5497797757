"""ONNX export of a segmentation model, fp16 conversion and int8 static quantisation.

The TorchScript-based exporter (`dynamo=False`) is used: it needs only `onnx`, exports HRNet
in under a second where the torch.export-based one takes ~20x longer and needs `onnxscript`,
and its graphs run and quantise in ONNX Runtime as they are. torch is pinned, so the
deprecated exporter stays available.
"""

import warnings
from pathlib import Path

import onnx
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_static,
)
from onnxruntime.transformers.float16 import convert_float_to_float16

__all__ = [
    "INPUT_NAME",
    "compare_outputs",
    "convert_fp16",
    "export_onnx",
    "quantize_int8",
]

INPUT_NAME = "image"
OPSET = 17


def _output_names(outputs):
    if isinstance(outputs, list | tuple):
        return [f"output{i}" for i in range(len(outputs) - 1)] + ["logits"]
    return ["logits"]


def export_onnx(model, path, size=(512, 1024), dynamic=False, opset=OPSET):
    """Write `model` (eval mode, on the CPU) to `path` as ONNX for (N, 3, H, W) input.

    The batch dimension is always dynamic; height and width are fixed to `size` unless
    `dynamic`. Outputs keep the model's structure: `logits`, or `output0, ..., logits` for
    models returning a list (OCR: aux, main). Returns the output names.
    """
    model = model.eval()
    example = torch.randn(1, 3, *size)
    with torch.no_grad():
        names = _output_names(model(example))
    spatial = {2: "height", 3: "width"} if dynamic else {}
    axes = {INPUT_NAME: {0: "batch", **spatial}}
    axes.update({name: {0: "batch"} for name in names})
    if dynamic:
        for name in names:
            axes[name].update({2: "out_height", 3: "out_width"})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=names,
            dynamic_axes=axes,
            opset_version=opset,
        )
    onnx.checker.check_model(str(path))
    return names


def compare_outputs(model, onnx_model, x):
    """Max absolute and relative (to the largest reference magnitude) differences between the
    PyTorch `model` and `onnx_model` (a `deploy.OnnxModel`) on input `x`, per output."""
    with torch.no_grad():
        expected = model(x)
        actual = onnx_model(x)
    if not isinstance(expected, list | tuple):
        expected, actual = [expected], [actual]
    report = []
    for e, a in zip(expected, actual, strict=True):
        difference = (e.float() - a.float()).abs().max().item()
        report.append({"abs": difference, "rel": difference / max(e.abs().max().item(), 1e-12)})
    return report


def convert_fp16(source, target):
    """An fp16 copy of an ONNX model; inputs and outputs stay float32."""
    model = convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)
    onnx.save(model, str(target))


class _Reader(CalibrationDataReader):
    def __init__(self, inputs):
        self.inputs = iter(inputs)

    def get_next(self):
        array = next(self.inputs, None)
        return None if array is None else {INPUT_NAME: array}


def quantize_int8(source, target, inputs):
    """Static int8 quantisation of an fp32 ONNX model with ONNX Runtime.

    QDQ format, per-channel int8 weights and uint8 activations (the fast combination on x86,
    fused into QLinearConv), MinMax ranges over `inputs`: an iterable of normalised float32
    arrays (N, 3, H, W), e.g. `datasets.list_inputs(...)`.
    """
    source, target = Path(source), Path(target)
    prepared = target.with_name(target.stem + ".prep.onnx")
    try:
        quant_pre_process(str(source), str(prepared))
        quantize_static(
            str(prepared),
            str(target),
            _Reader(inputs),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    finally:
        prepared.unlink(missing_ok=True)
