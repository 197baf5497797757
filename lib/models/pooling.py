"""Adaptive pooling that also exports to ONNX, for fixed and for dynamic input sizes.

`F.adaptive_avg_pool2d(x, size)` with `size` taken from another tensor (Lite-HRNet's
cross-resolution weighting) or with a constant size but a dynamic input (HANet's row pooling)
does not export with the TorchScript-based exporter: its symbolic needs a constant output size
and a static input size that the output size divides. `adaptive_pool2d` runs the PyTorch
operator itself in eager mode (bit for bit the same results) and, only while
`torch.onnx.export` traces the model, an autograd.Function whose ONNX symbolic sees whether the
export is fixed-size (every graph input static but the batch: the sizes are those seen while
tracing) or dynamic. Per axis it writes:

- output size dividing the input size (known): AveragePool / MaxPool with kernel = stride = the
  ratio, the exact operator (what the exporter itself writes when it can), e.g. Lite-HRNet at
  input sizes divisible by 32;
- otherwise PyTorch's windows [floor(i * n / m), ceil((i + 1) * n / m)) for output i of m, input
  length n, gathered (padded to the longest window with the window's last index) and averaged
  (masked weights 1 / length) or maxed: constants in a fixed-size export, computed from the
  shapes at run time in a dynamic one (and a plain reduction for a dynamic axis pooled to 1).
  The windows overlap and vary in length when m does not divide n, so no fixed-kernel pooling
  gives them; gathering whole rows (the width is transposed to rows) costs O(n), a pooling
  matrix O(n * m). A dynamic-size export is therefore slower than a fixed-size one.
"""

import math
import warnings

import torch
import torch.nn.functional as F

from utils.errors import ConfigError

__all__ = ["adaptive_pool2d"]

_EAGER = {"avg": F.adaptive_avg_pool2d, "max": F.adaptive_max_pool2d}
_POOL = {"avg": "AveragePool", "max": "MaxPool"}
_REDUCE = {"avg": "ReduceMean", "max": "ReduceMax"}


def adaptive_pool2d(x, size, mode="avg"):
    """`F.adaptive_{avg,max}_pool2d(x, size)` for `mode` "avg" / "max" that exports to ONNX.

    `size` is (H, W) as ints, or a tensor whose last two dimensions are the output size (they
    stay tied to that tensor's shape in a dynamic-size export).
    """
    if mode not in _EAGER:
        raise ValueError(f"mode must be 'avg' or 'max'; got {mode!r}")
    if not (torch.onnx.is_in_onnx_export() and torch.jit.is_tracing()):
        out_size = size.shape[-2:] if isinstance(size, torch.Tensor) else tuple(size)
        return _EAGER[mode](x, out_size)
    # The sizes while tracing, for the symbolic (shape inference loses them after some ops).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = tuple(int(s) for s in x.shape[-2:])
        if isinstance(size, torch.Tensor):
            traced += tuple(int(s) for s in size.shape[-2:])
    if isinstance(size, torch.Tensor):
        return _AdaptivePool.apply(x, size, None, None, mode, traced)
    height, width = (int(s) for s in size)
    return _AdaptivePool.apply(x, None, height, width, mode, traced + (height, width))


class _AdaptivePool(torch.autograd.Function):
    """Export-time stand-in: eager forward, ONNX symbolic chosen from the known shapes."""

    @staticmethod
    def forward(ctx, x, reference, height, width, mode, traced):
        size = tuple(reference.shape[-2:]) if reference is not None else (height, width)
        return _EAGER[mode](x, size)

    @staticmethod
    def symbolic(g, x, reference, height, width, mode, traced):
        if _spatially_static(g):  # every size is what it was while tracing
            in_sizes, out_sizes = list(traced[:2]), list(traced[2:])
        else:
            in_sizes = _static_sizes(x)[-2:]
            out_sizes = _static_sizes(reference)[-2:] if reference is not None else [height, width]
        ratios = [
            n // m if n is not None and m is not None and n % m == 0 else None
            for n, m in zip(in_sizes, out_sizes, strict=True)
        ]
        kernel = [r or 1 for r in ratios]
        if kernel != [1, 1]:  # the axes the output divides: fixed-kernel pooling first
            x = g.op(_POOL[mode], x, kernel_shape_i=kernel, strides_i=kernel)
        for axis in (2, 3):  # a dynamic axis pooled to 1: a reduction (shrinks the gathers)
            if ratios[axis - 2] is None and out_sizes[axis - 2] == 1:
                x = _reduce(g, _REDUCE[mode], x, axis, keepdims=1)
                ratios[axis - 2] = 1
        if ratios[0] is None:
            x = _pool_rows(g, x, in_sizes[0], out_sizes[0], reference, 2, mode)
        if ratios[1] is None:  # as rows too: a gather of whole rows is a block copy
            x = g.op("Transpose", x, perm_i=[0, 1, 3, 2])
            x = _pool_rows(g, x, in_sizes[1], out_sizes[1], reference, 3, mode)
            x = g.op("Transpose", x, perm_i=[0, 1, 3, 2])
        return x


def _spatially_static(g):
    """Whether all graph inputs have static sizes except the batch dimension (a fixed-size
    export): then every size in the graph is the one seen while tracing."""
    for value in g.graph.inputs():
        sizes = _static_sizes(value) if isinstance(value.type(), torch.TensorType) else []
        if sizes is None or None in sizes[1:]:
            return False
    return True


def _static_sizes(value):
    """Sizes of a traced value, None for each dynamic (or unknown) dimension."""
    sizes = value.type().varyingSizes() if isinstance(value.type(), torch.TensorType) else None
    return list(sizes) if sizes is not None else [None] * 4


def _const(g, values, dtype=torch.int64):
    return g.op("Constant", value_t=torch.as_tensor(values).to(dtype))


def _dim(g, value, axis):
    """Dimension `axis` of `value`'s shape, as an int64 scalar."""
    return g.op("Gather", g.op("Shape", value), _const(g, axis))


def _reduce(g, op, x, axis, keepdims=0):
    # ReduceSum takes its axes as an input from opset 13, the other reductions from opset 18.
    if g.opset >= (13 if op == "ReduceSum" else 18):
        return g.op(op, x, _const(g, [axis]), keepdims_i=keepdims)
    return g.op(op, x, axes_i=[axis], keepdims_i=keepdims)


def _pool_rows(g, x, n, m, reference, axis, mode):
    """Adaptive pooling of `x`'s height (axis 2) from `n` to `m` rows: ints, or None for sizes
    read when the graph runs (`m` from dimension `axis` of `reference`)."""
    if isinstance(n, int) and isinstance(m, int):  # static but not divisible: constant windows
        start = torch.tensor([i * n // m for i in range(m)])
        end = torch.tensor([math.ceil((i + 1) * n / m) for i in range(m)])
        longest = int((end - start).max())
        steps = torch.arange(longest)
        index = torch.minimum(start[:, None] + steps, end[:, None] - 1)
        weight = (steps < (end - start)[:, None]) / (end - start)[:, None]
        index, weight = _const(g, index), _const(g, weight, torch.float32)
    else:
        if g.opset < 12:
            raise ConfigError(
                "adaptive pooling with a dynamic size exports from ONNX opset 12 (int64 Min)"
            )
        n = _dim(g, x, 2)
        m = _const(g, m) if isinstance(m, int) else _dim(g, reference, axis)
        one = _const(g, 1)
        i = g.op("Range", _const(g, 0), m, one)
        start = g.op("Div", g.op("Mul", i, n), m)  # int64 Div: floor for non-negative values
        end = g.op("Div", g.op("Add", g.op("Mul", g.op("Add", i, one), n), g.op("Sub", m, one)), m)
        length = g.op("Sub", end, start)
        steps = g.op("Range", _const(g, 0), g.op("ReduceMax", length, keepdims_i=0), one)
        column, row = _const(g, [-1, 1]), _const(g, [1, -1])
        index = g.op(
            "Min",
            g.op("Add", g.op("Reshape", start, column), g.op("Reshape", steps, row)),
            g.op("Reshape", g.op("Sub", end, one), column),
        )
        if mode == "avg":
            length = g.op("Reshape", length, column)
            inside = g.op("Cast", g.op("Less", g.op("Reshape", steps, row), length), to_i=1)
            weight = g.op("Div", inside, g.op("Cast", length, to_i=1))  # to_i=1: float32
    gathered = g.op("Gather", x, index, axis_i=2)  # (N, C, m, longest, W)
    if mode == "max":  # padding repeats a window's last element: the max is unchanged
        return _reduce(g, "ReduceMax", gathered, 3)
    weight = g.op("Reshape", weight, _const(g, [0, -1, 1]))  # (m, longest, 1)
    return _reduce(g, "ReduceSum", g.op("Mul", gathered, weight), 3)
