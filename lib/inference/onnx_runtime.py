"""An exported ONNX model behind the PyTorch module interface, so the Predictor, the
evaluation loop and the metrics of tools/test.py run it unchanged."""

import onnxruntime as ort
import torch
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors
from torch import nn

from utils.errors import CheckpointError

from .exported import check_input_size

__all__ = ["OnnxModel", "providers_for"]

# What ONNX Runtime raises for a file that is no loadable model (they share no base class).
LOAD_ERRORS = (
    ort_errors.Fail,
    ort_errors.InvalidArgument,
    ort_errors.InvalidGraph,
    ort_errors.InvalidProtobuf,
    ort_errors.NoSuchFile,
)


def providers_for(device):
    """ONNX Runtime execution providers for a torch `device`: CUDA on that GPU when the device is
    CUDA and the installed onnxruntime has it (onnxruntime-gpu), then the CPU."""
    device = torch.device(device)
    if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        return [("CUDAExecutionProvider", {"device_id": device.index or 0}), "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxModel(nn.Module):
    """`model(x)` runs the ONNX Runtime session on a float32 (N, 3, H, W) tensor and returns
    torch tensors on x's device: one tensor, or a list when the export has several outputs
    (OCR: [aux, main]), as the PyTorch model does.

    `threads` sets ONNX Runtime's intra-op threads (default: torch.get_num_threads(), so both
    frameworks use the same cores); `providers` defaults to the CPU. `spinning=False` makes the
    threads sleep as soon as a run ends: ONNX Runtime's default keeps them spinning a while,
    which saves about a millisecond per run of a small model but takes the cores from whatever
    runs next (tools/benchmark.py times PyTorch paths right after ONNX ones).
    """

    def __init__(self, path, threads=None, providers=None, spinning=True):
        super().__init__()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = str(path)
        try:
            self.session = ort.InferenceSession(
                self.path, options, providers=providers or ["CPUExecutionProvider"]
            )
        except LOAD_ERRORS as error:
            # "[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model from X failed:<reason>"
            reason = str(error).splitlines()[0].split("failed:", 1)[-1].strip()
            raise CheckpointError(
                f"{self.path} cannot be read as an ONNX model: {reason}"
            ) from error
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        self.fixed_size = tuple(model_input.shape[2:]) if _fixed(model_input.shape) else None
        self.runtime = f"ONNX Runtime ({', '.join(self.session.get_providers())})"

    def forward(self, x):
        check_input_size(self.path, self.fixed_size, x)
        array = x.detach().to("cpu", torch.float32).contiguous().numpy()
        outputs = [
            torch.from_numpy(o).to(x.device)
            for o in self.session.run(None, {self.input_name: array})
        ]
        return outputs if len(outputs) > 1 else outputs[0]


def _fixed(shape):
    return all(isinstance(d, int) for d in shape[2:])
