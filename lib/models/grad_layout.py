"""Gradients in the memory format of their tensors.

A backward pass can hand an op a gradient in another layout than its input: the gradient of a
concatenation comes as channel slices of the whole gradient. PyTorch's CPU backward of bilinear
upsampling then runs its NCHW kernel, 4-20x slower than its channels_last one on the shapes of
HRNet's head (a copy to channels_last costs a fraction of that). (The loss keeps its gradient in
channels_last itself: `core.criterion`.)
"""

import torch

__all__ = ["channels_last_grad", "is_channels_last"]


class _ChannelsLastGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad.contiguous(memory_format=torch.channels_last)


def is_channels_last(x):
    """Whether `x` is 4-D and channels_last-contiguous but not NCHW-contiguous (a tensor with one
    channel or a 1x1 image is both)."""
    return (
        x.dim() == 4
        and x.is_contiguous(memory_format=torch.channels_last)
        and not x.is_contiguous()
    )


def channels_last_grad(x):
    """`x`, whose gradient is made channels_last-contiguous in the backward pass when `x` is a
    channels_last 4-D tensor that requires it; otherwise, and in a traced model (export), `x`
    itself."""
    if x.requires_grad and not torch.jit.is_tracing() and is_channels_last(x):
        return _ChannelsLastGrad.apply(x)
    return x
