"""channels_last_grad: the gradient of a channels_last tensor comes back channels_last."""

import pytest
import torch

from models.grad_layout import channels_last_grad


def gradient_reaching(x, through):
    """The gradient that reaches `x` when the loss is taken through NCHW `.contiguous()` (whose
    backward passes an NCHW gradient on) after `through`."""
    seen = []
    x.register_hook(seen.append)
    weights = torch.arange(x.numel(), dtype=x.dtype).view(x.shape)
    (through(x).contiguous() * weights).sum().backward()
    return seen[0], weights


def channels_last_activation():
    leaf = torch.randn(2, 3, 4, 5).contiguous(memory_format=torch.channels_last)
    return leaf.requires_grad_() * 1.0  # not a leaf, as a model's activations


def test_the_gradient_comes_back_channels_last_with_the_same_values():
    x = channels_last_activation()
    grad, weights = gradient_reaching(x, channels_last_grad)
    assert grad.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(grad, weights)
    x = channels_last_activation()
    plain, _ = gradient_reaching(x, lambda t: t)  # what the helper changes
    assert not plain.is_contiguous(memory_format=torch.channels_last)


def test_the_forward_value_is_the_input():
    x = channels_last_activation()
    y = channels_last_grad(x)
    assert torch.equal(y, x) and y.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize(
    "x",
    [
        torch.randn(2, 3, 4, 5, requires_grad=True),  # NCHW
        torch.randn(2, 3, 4, 5).contiguous(memory_format=torch.channels_last),  # no gradient
        torch.randn(2, 3, 1, 1, requires_grad=True),  # both layouts at once
        torch.randn(3, 4, 5, requires_grad=True),
    ],
    ids=["nchw", "no-grad", "ambiguous", "3d"],
)
def test_other_tensors_pass_unchanged(x):
    assert channels_last_grad(x) is x


def test_a_traced_function_does_not_record_it():
    """Tracing (TorchScript and ONNX export) sees the plain graph, which it can check and save."""
    x = channels_last_activation()
    traced = torch.jit.trace(lambda t: channels_last_grad(t * 2.0), x)
    assert "PythonOp" not in str(traced.graph)
