"""Faster inference of a trained model: BatchNorm folding, channels_last, reduced precision.

    model = optimize(model, "fast")    # folded + channels_last + bf16 autocast (fp16 on CUDA)
    model = optimize(model, "exact")   # folded + channels_last, fp32: the same predictions

Run the process with `utils.allocator.set_allocator_options()` (every tool does): the time of a
forward pass otherwise includes page-faulting its activations in again.
"""

import contextlib
import copy

import torch
from torch import nn

from models.outputs import as_list
from utils.precision import autocast, autocast_dtype

__all__ = ["MODES", "InferenceModel", "fold_batchnorm", "optimize"]

MODES = ("exact", "fast")

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def fold_batchnorm(model, example=None):
    """Fold, in place, every BatchNorm whose input is the output of a convolution.

    The pairs come from one forward pass of `example` (default: a 1x3x64x64 zero image) with
    hooks: a BatchNorm is folded when, on every call, its input is the very tensor a
    convolution returned, and that convolution feeds no other BatchNorm and is not called
    elsewhere. Folded BatchNorms become `nn.Identity`. As in `bn(conv(x))`, the convolution's
    output is assumed to have no other consumer. Returns the number of folded BatchNorms.
    """
    model.eval()
    if example is None:
        parameter = next(model.parameters())
        example = torch.zeros(1, 3, 64, 64, device=parameter.device, dtype=parameter.dtype)
    outputs = {}  # id(output tensor) -> (tensor, conv): the tensor is kept so its id stays unique
    conv_calls = {}
    sources = {}  # batchnorm -> the convolution (None: something else) of each call

    def after_conv(conv, inputs, output):
        outputs[id(output)] = (output, conv)
        conv_calls[conv] = conv_calls.get(conv, 0) + 1

    def before_norm(norm, inputs):
        entry = outputs.get(id(inputs[0]))
        sources.setdefault(norm, []).append(
            entry[1] if entry is not None and entry[0] is inputs[0] else None
        )

    handles = []
    for module in model.modules():
        if isinstance(module, _CONVS):
            handles.append(module.register_forward_hook(after_conv))
        elif isinstance(module, _NORMS) and module.track_running_stats:
            handles.append(module.register_forward_pre_hook(before_norm))
    try:
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    outputs.clear()

    feeds = {}
    for norm, convs in sources.items():
        if convs[0] is not None and all(c is convs[0] for c in convs):
            feeds.setdefault(convs[0], []).append(norm)
    pairs = {
        norms[0]: conv
        for conv, norms in feeds.items()
        if len(norms) == 1 and conv_calls[conv] == len(sources[norms[0]])
    }
    for norm, conv in pairs.items():
        _fold(conv, norm)
    for parent in model.modules():
        for name, child in parent.named_children():
            if child in pairs:
                setattr(parent, name, nn.Identity())
    return len(pairs)


@torch.no_grad()
def _fold(conv, norm):
    """conv <- norm o conv: with s = gamma / sqrt(var + eps), W' = W s, b' = (b - mean) s + beta."""
    weight = conv.weight.double()
    scale = torch.rsqrt(norm.running_var.double() + norm.eps)
    shift = -norm.running_mean.double()
    if conv.bias is not None:
        shift = shift + conv.bias.double()
    if norm.weight is not None:
        scale = scale * norm.weight.double()
    bias = shift * scale
    if norm.bias is not None:
        bias = bias + norm.bias.double()
    scale = scale.reshape(-1, *([1] * (weight.dim() - 1)))
    conv.weight = nn.Parameter((weight * scale).to(conv.weight.dtype), requires_grad=False)
    conv.bias = nn.Parameter(bias.to(conv.weight.dtype), requires_grad=False)


class InferenceModel(nn.Module):
    """Runs `model` on channels_last input under autocast to `dtype` (None: no autocast) and
    returns float32 outputs in the model's structure (a tensor, or a list for OCR).

    `compiled`: `model` is a `torch.compile` result, run with Inductor's `freezing` (weights
    become constants: convolutions are prepacked and fused with their ReLU / residual add).
    Inductor reads that flag when it compiles (the first call per input shape), not from
    torch.compile's options, so it is set around this model's calls only: other compiled models
    (training's TRAIN.COMPILE) keep the global setting.
    """

    def __init__(self, model, dtype=None, compiled=False):
        super().__init__()
        self.model = model
        self.dtype = dtype
        self.compiled = compiled

    def forward(self, x):
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.no_grad(), autocast(x.device, self.dtype), self._compile_settings():
            outputs = self.model(x)
        converted = [o.float().contiguous() for o in as_list(outputs)]
        return converted[0] if torch.is_tensor(outputs) else converted

    def _compile_settings(self):
        if not self.compiled:
            return contextlib.nullcontext()
        from torch._inductor import config as inductor_config

        return inductor_config.patch(freezing=True)


def optimize(model, mode="fast", compile=False, example=None):
    """An inference-only copy of `model` (the original is left untouched).

    - "exact": BatchNorm folded into the convolutions, weights and activations channels_last,
      fp32; the predictions are those of the eager model (outputs within ~1e-5 relative).
    - "fast": the same with convolution weights in bfloat16 (CPU; float16 on CUDA) and
      autocast to that type; outputs are returned as float32.
    `compile` runs the result through `torch.compile` with Inductor's freezing, for this model
    only (`InferenceModel`); the first call per input shape compiles (about a minute for
    HRNet). `example` is the input `fold_batchnorm` traces (default 1x3x64x64).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    model = copy.deepcopy(model).eval()
    fold_batchnorm(model, example)
    model.to(memory_format=torch.channels_last).requires_grad_(False)
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    dtype = None
    if mode == "fast":
        dtype = autocast_dtype(device)
        for module in model.modules():
            if isinstance(module, (*_CONVS, nn.Linear)):  # autocast would cast them every call
                module.to(dtype)
    if compile:
        model = torch.compile(model)
    return InferenceModel(model, dtype, compiled=compile).eval()
