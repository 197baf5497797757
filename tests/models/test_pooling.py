"""models.pooling.adaptive_pool2d: PyTorch's adaptive pooling in eager mode, exact ONNX graphs for
fixed and dynamic sizes (AveragePool / MaxPool where the sizes divide, gathered windows else)."""

import collections
import warnings
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from models.pooling import adaptive_pool2d  # noqa: E402

close = partial(np.testing.assert_allclose, rtol=1e-5, atol=1e-6)


class PoolLike(nn.Module):
    """Pools `x` to the size of `reference` (Lite-HRNet's cross-resolution weighting)."""

    def __init__(self, mode):
        super().__init__()
        self.mode = mode

    def forward(self, x, reference):
        return adaptive_pool2d(x, reference, self.mode)


class PoolTo(nn.Module):
    """Pools `x` to a constant size (HANet's rows)."""

    def __init__(self, size, mode):
        super().__init__()
        self.size, self.mode = size, mode

    def forward(self, x):
        return adaptive_pool2d(x, self.size, self.mode)


def export(module, inputs, path, dynamic):
    names = [f"input{i}" for i in range(len(inputs))]
    axes = {name: {0: "n", 2: f"h{i}", 3: f"w{i}"} for i, name in enumerate(names)}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # the TorchScript exporter
        torch.onnx.export(
            module,
            tuple(inputs),
            str(path),
            dynamo=False,
            input_names=names,
            dynamic_axes=axes if dynamic else None,
            opset_version=17,
        )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ops = collections.Counter(node.op_type for node in onnx.load(str(path)).graph.node)
    used = {i.name for i in session.get_inputs()}  # a fixed size leaves `reference` unused

    def run(*xs):
        feed = {name: x.numpy() for name, x in zip(names, xs, strict=True) if name in used}
        return session.run(None, feed)[0]

    return run, ops


def reference_pool(mode, x, size):
    return (F.adaptive_avg_pool2d if mode == "avg" else F.adaptive_max_pool2d)(x, size)


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_eager_is_the_pytorch_operator(mode):
    x = torch.randn(2, 3, 25, 33)
    assert torch.equal(adaptive_pool2d(x, (4, 5), mode), reference_pool(mode, x, (4, 5)))
    reference = torch.zeros(1, 1, 7, 9)
    assert torch.equal(adaptive_pool2d(x, reference, mode), reference_pool(mode, x, (7, 9)))


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_fixed_sizes_that_divide_export_as_pooling(tmp_path, mode):
    x, reference = torch.randn(2, 3, 32, 48), torch.randn(2, 1, 4, 6)
    run, ops = export(PoolLike(mode), [x, reference], tmp_path / "pool.onnx", dynamic=False)
    assert ops[{"avg": "AveragePool", "max": "MaxPool"}[mode]] == 1 and not ops["Gather"]
    close(run(x, reference), reference_pool(mode, x, (4, 6)))


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_fixed_sizes_that_do_not_divide_export_exactly(tmp_path, mode):
    """Overlapping windows of varying length (25 -> 4: [0, 7), [6, 13), ...; 7 -> 4: lengths
    2, 3, 3, 2), and more outputs than inputs (3 -> 5)."""
    x, reference = torch.randn(2, 3, 25, 7), torch.randn(2, 1, 4, 4)
    run, _ = export(PoolLike(mode), [x, reference], tmp_path / "pool.onnx", dynamic=False)
    close(run(x, reference), reference_pool(mode, x, (4, 4)))
    x = torch.randn(1, 2, 3, 10)
    run, _ = export(PoolTo((5, 3), mode), [x], tmp_path / "to.onnx", dynamic=False)
    close(run(x), reference_pool(mode, x, (5, 3)))


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_dynamic_sizes_give_pytorch_windows_at_every_size(tmp_path, mode):
    x, reference = torch.randn(1, 3, 32, 48), torch.randn(1, 1, 4, 6)
    like, _ = export(PoolLike(mode), [x, reference], tmp_path / "like.onnx", dynamic=True)
    rows, ops = export(PoolTo((16, 1), mode), [x], tmp_path / "rows.onnx", dynamic=True)
    assert not ops["AveragePool"] and not ops["MaxPool"]  # no kernel fits every size
    generator = torch.Generator().manual_seed(0)
    sizes = [((32, 48), (4, 6)), ((25, 33), (4, 5)), ((7, 13), (4, 4)), ((3, 5), (6, 2))]
    for (h, w), (m, n) in sizes:
        x = torch.randn(2, 3, h, w, generator=generator)
        expected = reference_pool(mode, x, (m, n))
        close(like(x, torch.zeros(2, 1, m, n)), expected)
        expected = reference_pool(mode, x, (16, 1))
        close(rows(x), expected)
