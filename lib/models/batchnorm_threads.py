"""One thread for the backward pass of channels_last BatchNorms with few, unaligned channels (CPU).

PyTorch's CPU channels_last BatchNorm backward has each thread add its pixels into its own row of
one float buffer, [threads, channels]. When the channel count is not a multiple of 16, a row is
not a whole number of 64-byte cache lines, and neighbouring threads write the same line for every
pixel. Below 40 channels (HRNet-W18's 18 and 36) that traffic is most of the work, and two threads
take longer than one, up to several times as long when the host runs them on distant cores
(`tools/benchmark.py --train --modes mixed mixed-all-threads` measures the whole step). Those
passes run on one thread instead; the gradients are the same up to the order of float additions.
"""

import torch
from torch import nn

from models.grad_layout import is_channels_last

__all__ = ["one_thread_backward", "runs_on_one_thread"]


def _few_unaligned(channels):
    return channels % 16 != 0 and channels < 40


def runs_on_one_thread(x):
    """Whether the backward pass of a BatchNorm on `x` is one this module runs on one thread."""
    return x.device.type == "cpu" and is_channels_last(x) and _few_unaligned(x.shape[1])


def _on_one_thread(node):
    """Autograd hooks that set one thread before `node` runs and restore the count after it."""
    counts = []

    def before(grad_outputs):
        counts.append(torch.get_num_threads())
        torch.set_num_threads(1)

    def after(grad_inputs, grad_outputs):
        torch.set_num_threads(counts.pop())

    node.register_prehook(before)
    node.register_hook(after)


def _hook_output(module, inputs, output):
    if output.grad_fn is not None and runs_on_one_thread(output):
        _on_one_thread(output.grad_fn)


def one_thread_backward(model):
    """Make the backward passes of `model`'s BatchNorm2d layers that `runs_on_one_thread` picks
    run on one thread, from the next forward pass on; returns the number of BatchNorm2d layers
    watched (those with few, unaligned channels). Not for a model `torch.compile` traces: the
    hooks are Python."""
    norms = [
        m
        for m in model.modules()
        if isinstance(m, nn.BatchNorm2d) and _few_unaligned(m.num_features)
    ]
    for norm in norms:
        norm.register_forward_hook(_hook_output)
    return len(norms)
