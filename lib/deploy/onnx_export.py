"""ONNX export of a segmentation model, fp16 conversion and int8 static quantisation.

The TorchScript-based exporter (`dynamo=False`) is used: it needs only `onnx`, exports HRNet
in under a second where the torch.export-based one takes ~20x longer and needs `onnxscript`,
and its graphs run and quantise in ONNX Runtime as they are. torch is pinned, so the
deprecated exporter stays available.

Opsets: our models export from opset 11 on with PyTorch's results (1e-6 relative). HRNet, OCR
and HANet with MODEL.ALIGN_CORNERS False also export at 9 and 10 (the deploy zoo used 10), but
ONNX's Upsample / Resize before opset 11 has no half-pixel coordinates, so every bilinear
upsampling differs from PyTorch's; align_corners=True resizes and Lite-HRNet need 11. int8 needs
11, per-channel int8 13 (DequantizeLinear's axis).
"""

import contextlib
import os
import sys
import tempfile
import warnings
from pathlib import Path

import onnx
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    create_calibrator,
    quant_pre_process,
    quantize_static,
    save_tensors_data,
)
from onnxruntime.transformers.float16 import convert_float_to_float16

from models.outputs import as_list
from utils.errors import ConfigError

from .entropy_threshold import entropy_threshold
from .onnx_format import CALIBRATION_METHODS, INPUT_NAME, OPSET

__all__ = [
    "OPSETS",
    "convert_fp16",
    "export_onnx",
    "opset_of",
    "quantize_int8",
]

OPSETS = range(7, 21)  # what the TorchScript-based exporter of torch 2.13 writes
EXACT_RESIZE_OPSET = 11  # Resize with half-pixel coordinates: PyTorch's bilinear upsampling
INT8_OPSET = 11
PER_CHANNEL_OPSET = 13
# Entropy: TensorRT's KL-divergence calibration, 2048 histogram bins searched for the threshold
# that loses least when merged into 128 quantised bins.
_CALIBRATION_OPTIONS = {"entropy": {"num_bins": 2048, "num_quantized_bins": 128}}


def _output_names(outputs, names=None):
    count = len(as_list(outputs))
    if names:
        if len(names) != count:
            raise ConfigError(
                f"output names {list(names)}: the model has {count} output"
                f"{'s (OCR: aux, main)' if count > 1 else ''}; give {count} name"
                f"{'s' if count > 1 else ''}"
            )
        return list(names)
    return [f"output{i}" for i in range(count - 1)] + ["logits"]


def export_onnx(
    model,
    path,
    size=(512, 1024),
    dynamic=False,
    opset=OPSET,
    input_name=INPUT_NAME,
    output_names=None,
):
    """Write `model` (eval mode, on the CPU) to `path` as ONNX for (N, 3, H, W) input.

    The batch dimension is always dynamic; height and width are fixed to `size` unless
    `dynamic`. The input is called `input_name`; the outputs keep the model's structure, called
    `output_names` or by default `logits`, or `output0, ..., logits` for models returning a list
    (OCR: aux, main). An `opset` that lacks an operator of the model raises a ConfigError naming
    it. Returns the output names.
    """
    if opset not in OPSETS:
        raise ConfigError(
            f"ONNX opset {opset}: the exporter writes opsets {OPSETS[0]} to {OPSETS[-1]}"
        )
    model = model.eval()
    example = torch.randn(1, 3, *size)
    with torch.no_grad():
        names = _output_names(model(example), output_names)
    spatial = {2: "height", 3: "width"} if dynamic else {}
    axes = {input_name: {0: "batch", **spatial}}
    axes.update({name: {0: "batch"} for name in names})
    if dynamic:
        for name in names:
            axes[name].update({2: "out_height", 3: "out_width"})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), _graph_dump_discarded():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        # below opset 11 the exporter warns that Resize differs: EXACT_RESIZE_OPSET, README
        warnings.filterwarnings("ignore", message="You are trying to export the model with onnx")
        try:
            torch.onnx.export(
                model,
                (example,),
                str(path),
                dynamo=False,
                input_names=[input_name],
                output_names=names,
                dynamic_axes=axes,
                opset_version=opset,
            )
        except torch.onnx.OnnxExporterError as error:
            raise ConfigError(
                f"ONNX opset {opset} cannot export this model: {_first_sentence(error)}. "
                f"Our models export from opset {EXACT_RESIZE_OPSET} on"
            ) from error
    onnx.checker.check_model(str(path))
    return names


def _first_sentence(error):
    return str(error).split("Please feel free", 1)[0].strip().rstrip(".")


@contextlib.contextmanager
def _graph_dump_discarded():
    """While the exporter runs, the process's standard output goes nowhere: when an operator
    fails to export, torch prints the whole graph there (thousands of lines, from C++, so only
    the file descriptor can be redirected); the error itself names the operator."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 1)
            try:
                yield
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
    finally:
        os.close(saved)


def opset_of(path):
    """The ONNX (ai.onnx) opset of the model file `path`."""
    model = onnx.load(str(path), load_external_data=False)
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def convert_fp16(source, target):
    """An fp16 copy of an ONNX model; inputs and outputs stay float32."""
    model = convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)
    onnx.save(model, str(target))


class _Reader(CalibrationDataReader):
    def __init__(self, input_name, inputs):
        self.input_name = input_name
        self.inputs = iter(inputs)

    def get_next(self):
        array = next(self.inputs, None)
        return None if array is None else {self.input_name: array}


def quantize_int8(source, target, inputs, method="minmax", per_channel=True):
    """Static int8 quantisation of an fp32 ONNX model with ONNX Runtime.

    QDQ format, int8 weights (per output channel unless `per_channel` is False) and uint8
    activations (the fast combination on x86, fused into QLinearConv), activation ranges by the
    calibration `method` (one of CALIBRATION_METHODS) over `inputs`: an iterable of
    normalised float32 arrays (N, 3, H, W), e.g. `datasets.list_inputs(...)`. int8 needs an
    export of opset 11 or later, per-channel int8 13 or later (ConfigError otherwise).
    """
    methods = {m.name.lower(): m for m in CalibrationMethod}
    if method not in CALIBRATION_METHODS:
        raise ConfigError(
            f"calibration method {method!r}; expected one of {', '.join(CALIBRATION_METHODS)}"
        )
    source, target = Path(source), Path(target)
    opset = opset_of(source)
    if opset < INT8_OPSET or (per_channel and opset < PER_CHANNEL_OPSET):
        needed = PER_CHANNEL_OPSET if per_channel else INT8_OPSET
        raise ConfigError(
            f"{source} is ONNX opset {opset}; {'per-channel ' if per_channel else ''}int8 "
            f"needs opset {needed} or later (export with --opset {needed}"
            f"{'' if needed == INT8_OPSET else ', or quantise with --no-per-channel from 11'})"
        )
    input_name = onnx.load(str(source), load_external_data=False).graph.input[0].name
    with tempfile.TemporaryDirectory(prefix="quantize_int8_") as work:
        prepared, ranges = Path(work) / "prepared.onnx", Path(work) / "ranges.json"
        quant_pre_process(str(source), str(prepared))
        # The ranges are computed here rather than by quantize_static, which cannot pass the
        # histogram sizes: with ONNX Runtime's default of 128 bins into 128 quantised bins the
        # entropy search has a single candidate, the min/max range.
        calibrator = create_calibrator(
            prepared,
            augmented_model_path=str(Path(work) / "augmented.onnx"),
            calibrate_method=methods[method],
            extra_options=_CALIBRATION_OPTIONS.get(method, {}),
        )
        calibrator.collect_data(_Reader(input_name, inputs))
        if method == "entropy":  # ONNX Runtime's search, vectorised: its thresholds, ~10x faster
            calibrator.collector.get_entropy_threshold = entropy_threshold
        save_tensors_data(calibrator.compute_data(), ranges)
        del calibrator  # its inference session holds the augmented model
        quantize_static(
            str(prepared),
            str(target),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=methods[method],
            calibration_cache_path=ranges,
        )
