"""What an ONNX file holds: inputs, outputs, opset and precision (fp32, fp16 or int8)."""

from collections import Counter
from pathlib import Path

import onnx
from onnx import TensorProto

from utils.errors import CheckpointError

QUANTISED_OPS = {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "ConvInteger"}


def _tensor_type(value_info):
    tensor = value_info.type.tensor_type
    dims = [
        d.dim_param or (str(d.dim_value) if d.HasField("dim_value") else "?")
        for d in tensor.shape.dim
    ]
    dtype = TensorProto.DataType.Name(tensor.elem_type).lower()
    return f"{value_info.name}: {dtype} [{', '.join(dims)}]"


def precision(model):
    """'int8' (quantised operators), 'fp16' (mostly float16 weights) or 'fp32', with the
    evidence: the weights' element counts by type and the quantised operators."""
    weights = Counter()
    for tensor in model.graph.initializer:
        count = 1
        for dim in tensor.dims:
            count *= dim
        weights[TensorProto.DataType.Name(tensor.data_type).lower()] += count
    quantised = Counter(n.op_type for n in model.graph.node if n.op_type in QUANTISED_OPS)
    total = sum(weights.values()) or 1
    shares = ", ".join(f"{name} {100 * n / total:.1f}%" for name, n in weights.most_common())
    evidence = f"weights {shares or 'none'}"
    if quantised:
        ops = ", ".join(f"{n} {op}" for op, n in sorted(quantised.items()))
        return "int8", f"{evidence}; {ops}"
    if weights["float16"] > weights["float"]:
        return "fp16", evidence
    return "fp32", evidence


def describe_onnx(path):
    """A report on the ONNX file `path` (graph only, weights not checked against a YAML)."""
    path = Path(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:
        raise CheckpointError(f"{path}: cannot be read as an ONNX model ({error})") from error
    used = {node.domain or "ai.onnx" for node in model.graph.node}
    opsets = {entry.domain or "ai.onnx": entry.version for entry in model.opset_import}
    initializers = {tensor.name for tensor in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    kind, evidence = precision(model)
    lines = [
        f"file:      {path}",
        f"format:    ONNX (IR version {model.ir_version}, producer {model.producer_name} "
        f"{model.producer_version})".rstrip(),
        f"opset:     {opsets.get('ai.onnx', '?')}"
        + "".join(f", {d} {v}" for d, v in opsets.items() if d != "ai.onnx" and d in used),
        f"precision: {kind} ({evidence})",
        f"nodes:     {len(model.graph.node)}",
        "inputs:",
        *(f"  {_tensor_type(i)}" for i in inputs),
        "outputs:",
        *(f"  {_tensor_type(o)}" for o in model.graph.output),
        f"evaluate it: python tools/test.py --cfg <the YAML it was exported from> "
        f"TEST.MODEL_FILE {path}",
    ]
    return "\n".join(lines)
