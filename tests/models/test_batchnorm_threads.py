"""one_thread_backward: the backward pass of channels_last BatchNorms of few, unaligned channels
runs on one thread, with the same gradients."""

import copy

import pytest
import torch
from torch import nn

from models.batchnorm_threads import one_thread_backward, runs_on_one_thread


def threads_in_backward(norm, x):
    """The thread count while the BatchNorm's backward node runs, and the input's gradient."""
    x = x.clone().requires_grad_()
    out = norm(x)
    seen = []
    if out.grad_fn is not None:  # runs after the hooks one_thread_backward registered
        out.grad_fn.register_prehook(lambda grads: seen.append(torch.get_num_threads()))
    weights = torch.linspace(-1, 1, out.numel()).view(out.shape)
    (out * weights).sum().backward()
    return seen[0], x.grad


def norm_input(channels, channels_last=True, seed=0):
    x = torch.randn(2, channels, 12, 10, generator=torch.Generator().manual_seed(seed))
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


@pytest.mark.parametrize("channels", [18, 36])
def test_few_unaligned_channels_run_their_backward_on_one_thread(two_threads, channels):
    plain = nn.BatchNorm2d(channels)
    hooked = copy.deepcopy(plain)
    assert one_thread_backward(nn.Sequential(hooked, nn.ReLU())) == 1
    x = norm_input(channels)
    threads, grad = threads_in_backward(hooked, x)
    assert threads == 1
    assert torch.get_num_threads() == 2  # restored
    plain_threads, plain_grad = threads_in_backward(plain, x)
    assert plain_threads == 2
    torch.testing.assert_close(grad, plain_grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(hooked.weight.grad, plain.weight.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(hooked.running_var, plain.running_var)


@pytest.mark.parametrize(
    "channels, channels_last", [(16, True), (32, True), (40, True), (72, True), (18, False)]
)
def test_other_norms_keep_every_thread(two_threads, channels, channels_last):
    norm = nn.BatchNorm2d(channels)
    one_thread_backward(norm)
    threads, _ = threads_in_backward(norm, norm_input(channels, channels_last))
    assert threads == 2


def test_the_choice_depends_on_layout_and_channels_only():
    assert runs_on_one_thread(norm_input(18))
    assert not runs_on_one_thread(norm_input(18, channels_last=False))
    assert not runs_on_one_thread(norm_input(48))
    assert not runs_on_one_thread(torch.randn(4, 18))  # BatchNorm1d's input


def test_no_gradient_no_hook(two_threads):
    norm = nn.BatchNorm2d(18)
    one_thread_backward(norm)
    with torch.no_grad():
        out = norm(norm_input(18))
    assert out.grad_fn is None
    assert torch.get_num_threads() == 2
