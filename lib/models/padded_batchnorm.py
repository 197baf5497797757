"""BatchNorm's CPU backward pass on zero-padded channels for channel counts PyTorch handles badly.

PyTorch's CPU channels_last BatchNorm backward has each thread add its pixels into its own row of
one float buffer, [threads, channels]. When the channel count is not a multiple of 16, a row is
not a whole number of 64-byte cache lines, so neighbouring threads write the same line for every
pixel, and channels beyond the last whole vector run scalar code. Below 40 channels (HRNet-W18's
18 and 36) that is most of the work: two threads then take longer than one, several times as long
when the host runs them on distant cores. `pad_batchnorm_backward` gives such BatchNorms a
backward pass that runs PyTorch's kernel on the tensors padded with zero channels to a multiple
of 16 (18 -> 32, 36 -> 48: whole cache lines of float accumulators; a multiple of 32 bfloat16
values, one AVX-512 load, was slower) and slices the result: the same values up to float
rounding, for the cost of three copies (`tools/benchmark.py --train --modes mixed
mixed-native-norms` measures the whole step).
"""

import torch
import torch.nn.functional as F
from torch import nn

from models.grad_layout import is_channels_last

__all__ = ["PaddedBackwardBatchNorm2d", "pad_batchnorm_backward", "pads_backward"]


# Channels whose float accumulators fill a 64-byte cache line.
_ALIGNED = 16


def _few_unaligned(channels):
    return channels % _ALIGNED != 0 and channels < 40


def pads_backward(x):
    """Whether a BatchNorm's backward pass on `x` runs on padded channels."""
    return x.device.type == "cpu" and is_channels_last(x) and _few_unaligned(x.shape[1])


def _padded(x, channels):
    """`x` (N, C, H, W) with zero channels added up to `channels`, channels_last."""
    nhwc = x.contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1)
    return F.pad(nhwc, (0, channels - x.shape[1])).permute(0, 3, 1, 2)


class _PaddedBackward(torch.autograd.Function):
    """Training-mode batch_norm whose backward runs on zero-padded channels."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum, eps):
        out, mean, invstd = torch.native_batch_norm(
            x, weight, bias, running_mean, running_var, True, momentum, eps
        )
        ctx.save_for_backward(x, weight, mean, invstd)
        ctx.eps = eps
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight, mean, invstd = ctx.saved_tensors
        channels = x.shape[1]
        padded = -(-channels // _ALIGNED) * _ALIGNED

        def pad(t):
            return F.pad(t, (0, padded - channels))

        grads = torch.ops.aten.native_batch_norm_backward(
            _padded(grad, padded),
            _padded(x, padded),
            pad(weight),
            None,
            None,
            pad(mean),
            pad(invstd),
            True,
            ctx.eps,
            list(ctx.needs_input_grad[:3]),
        )
        grad_x, grad_weight, grad_bias = grads
        if grad_x is not None:
            grad_x = grad_x[:, :channels].contiguous(memory_format=torch.channels_last)
        grad_weight, grad_bias = (
            None if g is None else g[:channels] for g in (grad_weight, grad_bias)
        )
        return grad_x, grad_weight, grad_bias, None, None, None, None


class PaddedBackwardBatchNorm2d(nn.BatchNorm2d):
    """nn.BatchNorm2d whose training backward pass on a CPU channels_last input of few, unaligned
    channels runs on zero-padded channels; the same parameters, buffers and values."""

    def forward(self, x):
        usual = not (self.training and self.track_running_stats and self.affine)
        if usual or not torch.is_grad_enabled() or not pads_backward(x):
            return super().forward(x)
        # the running statistics' update as nn.BatchNorm2d makes it
        self.num_batches_tracked.add_(1)
        momentum = self.momentum
        if momentum is None:
            momentum = 1.0 / float(self.num_batches_tracked)
        return _PaddedBackward.apply(
            x, self.weight, self.bias, self.running_mean, self.running_var, momentum, self.eps
        )


def pad_batchnorm_backward(model):
    """Make `model`'s BatchNorm2d layers of few, unaligned channels PaddedBackwardBatchNorm2d, in
    place (the same modules, parameters and state dict keys); returns how many. Not for a model
    `torch.compile` traces, which makes its own kernels."""
    norms = [
        m for m in model.modules() if type(m) is nn.BatchNorm2d and _few_unaligned(m.num_features)
    ]
    for norm in norms:
        norm.__class__ = PaddedBackwardBatchNorm2d  # adds no state: a forward of its own
    return len(norms)
