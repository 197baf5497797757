"""Which kernels a piece of code calls, and with what."""

import torch
from torch.utils._python_dispatch import TorchDispatchMode


class KernelCalls(TorchDispatchMode):
    """`seen`: `record(args)` for each call of the aten op `op`, in order."""

    def __init__(self, op, record):
        super().__init__()
        self.op, self.record, self.seen = op, record, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket == self.op:
            self.seen.append(self.record(args))
        return func(*args, **(kwargs or {}))


def norm_backward_channels():
    """KernelCalls of the channel count each BatchNorm backward kernel is given."""
    return KernelCalls(torch.ops.aten.native_batch_norm_backward, lambda args: args[1].shape[1])


def upsampling_backward_channels_last():
    """KernelCalls of whether each bilinear upsampling's backward is given a channels_last
    gradient."""
    return KernelCalls(
        torch.ops.aten.upsample_bilinear2d_backward,
        lambda args: args[0].is_contiguous(memory_format=torch.channels_last),
    )
