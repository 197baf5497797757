"""pad_batchnorm_backward: BatchNorms of few, unaligned channels run their channels_last backward
pass on zero-padded channels, with the values of nn.BatchNorm2d."""

import copy

import pytest
import torch
from torch import nn

from helpers.kernel_calls import norm_backward_channels
from models.padded_batchnorm import PaddedBackwardBatchNorm2d, pad_batchnorm_backward, pads_backward


def norm_input(channels, channels_last=True, dtype=torch.float32):
    x = torch.randn(2, channels, 12, 10, generator=torch.Generator().manual_seed(0)).to(dtype)
    x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    return x.requires_grad_()


def forward_backward(norm, x, steps=2):
    """Output, input gradient and the channels the backward kernels saw, after `steps` steps."""
    x = x.detach().requires_grad_()
    with norm_backward_channels() as calls:
        for _ in range(steps):
            x.grad = None
            out = norm(x)
            weights = torch.linspace(-1, 1, out.numel()).view(out.shape).to(out.dtype)
            weights = weights.contiguous(memory_format=torch.channels_last)
            (out * weights).sum().backward()
    return out, x.grad, calls.seen


def padded_pair(channels, **options):
    plain = nn.BatchNorm2d(channels, **options)
    with torch.no_grad():
        plain.weight.uniform_(0.5, 1.5)
        plain.bias.uniform_(-0.5, 0.5)
    padded = copy.deepcopy(plain)
    assert pad_batchnorm_backward(nn.Sequential(padded, nn.ReLU())) == 1
    assert type(padded) is PaddedBackwardBatchNorm2d
    return plain, padded


@pytest.mark.parametrize(
    "channels, dtype, padded_to",
    [
        (18, torch.float32, 32),
        (36, torch.float32, 48),
        (18, torch.bfloat16, 32),
        (36, torch.bfloat16, 48),
    ],
)
def test_the_backward_runs_on_padded_channels_with_the_same_values(channels, dtype, padded_to):
    plain, padded = padded_pair(channels)
    x = norm_input(channels, dtype=dtype)
    out, grad, seen = forward_backward(padded, x)
    plain_out, plain_grad, plain_seen = forward_backward(plain, x)
    assert seen == [padded_to] * 2 and plain_seen == [channels] * 2
    assert grad.is_contiguous(memory_format=torch.channels_last) and grad.dtype == dtype
    torch.testing.assert_close(out, plain_out, rtol=0, atol=0)  # the same forward kernel
    rounding = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {}
    torch.testing.assert_close(grad, plain_grad, **rounding)
    torch.testing.assert_close(padded.weight.grad, plain.weight.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(padded.bias.grad, plain.bias.grad, rtol=1e-5, atol=1e-5)
    for name, buffer in plain.named_buffers():
        torch.testing.assert_close(getattr(padded, name), buffer, msg=name)


def test_cumulative_statistics_and_frozen_parameters_as_nn_batchnorm():
    plain, padded = padded_pair(18, momentum=None)
    for norm in (plain, padded):
        norm.weight.requires_grad_(False)
    x = norm_input(18)
    _, grad, seen = forward_backward(padded, x, steps=3)
    _, plain_grad, _ = forward_backward(plain, x, steps=3)
    assert seen == [32] * 3 and padded.weight.grad is None
    torch.testing.assert_close(grad, plain_grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(padded.bias.grad, plain.bias.grad, rtol=1e-5, atol=1e-5)
    assert int(padded.num_batches_tracked) == 3
    torch.testing.assert_close(padded.running_var, plain.running_var)


def test_nchw_eval_and_no_grad_take_the_usual_path():
    plain, padded = padded_pair(18)
    _, _, seen = forward_backward(padded, norm_input(18, channels_last=False))
    assert seen == [18, 18]
    padded.eval()
    _, _, seen = forward_backward(padded, norm_input(18))
    assert seen == [18, 18]
    padded.train()
    with torch.no_grad():
        assert padded(norm_input(18)).grad_fn is None
    assert int(padded.num_batches_tracked) == 3  # two training steps, one without gradients


def test_only_few_unaligned_channels_are_converted_and_the_state_dict_is_unchanged():
    model = nn.Sequential(*(nn.BatchNorm2d(c) for c in (16, 18, 32, 36, 40, 72)))
    keys = list(model.state_dict())
    assert pad_batchnorm_backward(model) == 2
    padded = [type(m) is PaddedBackwardBatchNorm2d for m in model]
    assert padded == [False, True, False, True, False, False]
    assert list(model.state_dict()) == keys
    nn.Sequential(*(nn.BatchNorm2d(c) for c in (16, 18, 32, 36, 40, 72))).load_state_dict(
        model.state_dict(), strict=True
    )
    assert pads_backward(norm_input(18).detach())
    assert not pads_backward(norm_input(18, channels_last=False).detach())
    assert not pads_backward(norm_input(48).detach())
