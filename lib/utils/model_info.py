"""Parameter and multiply-add counts of a model.

Convention (the original HRNet `get_model_summary`): every convolution counts
`weight.numel() * output positions` multiply-adds and every linear layer
`in_features * out_features` per output row; biases, normalisation, activations, resizing and
attention matrix products are not counted. The original README's "GFLOPs" are these
multiply-adds divided by 2**30; `count_params_flops` returns the raw count, and both figures
are printed by `tools/benchmark.py --info`.
"""

import math

import torch
from torch import nn


def count_params(model):
    """Number of parameters (buffers such as BatchNorm statistics are not counted)."""
    return sum(p.numel() for p in model.parameters())


def count_macs(model, size):
    """Multiply-adds of one forward pass of a (1, 3, H, W) input, `size` = (H, W).

    The pass runs on the meta device (shapes only), so even W48 at 1024x2048 is instant and
    `model` itself is left untouched.
    """
    meta_model = _meta_copy(model)
    total = 0

    def conv_hook(module, inputs, output):
        nonlocal total
        total += module.weight.numel() * math.prod(output.shape[2:])

    def linear_hook(module, inputs, output):
        nonlocal total
        total += module.weight.numel() * math.prod(output.shape[:-1])

    handles = []
    for m in meta_model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    meta_model.eval()
    with torch.no_grad():
        meta_model(torch.empty(1, 3, *size, device="meta"))
    for handle in handles:
        handle.remove()
    return total


def _meta_copy(model):
    import copy

    with torch.device("meta"):
        clone = copy.deepcopy(model).to("meta")
    return clone


def model_info(model, size):
    """A dict with params, multiply-adds, and the legacy "GFLOPs" figure (MACs / 2**30)."""
    macs = count_macs(model, size)
    return {
        "params": count_params(model),
        "macs": macs,
        "gmacs": macs / 1e9,
        "legacy_gflops": macs / 2**30,
    }
