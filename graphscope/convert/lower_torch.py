"""ONNX decompositions of the torch.* ops the PyTorch adapter keeps (see ir/ops_torch.py)."""
from __future__ import annotations

from .to_onnx import lowering


@lowering("torch.linear")
def _linear(node, helper, opset):
    """y = x W^T (+ b) over an N-d x: Transpose the weight, MatMul, Add."""
    x, w = node.inputs[0].name, node.inputs[1].name
    out = node.outputs[0].name
    has_bias = len(node.inputs) > 2 and node.inputs[2] is not None
    wt, mm = f"{node.name}/weight_t", f"{node.name}/matmul" if has_bias else out
    nodes = [helper.make_node("Transpose", [w], [wt], name=f"{node.name}/Transpose", perm=[1, 0]),
             helper.make_node("MatMul", [x, wt], [mm], name=f"{node.name}/MatMul")]
    if has_bias:
        nodes.append(helper.make_node("Add", [mm, node.inputs[2].name], [out],
                                      name=f"{node.name}/Add"))
    return nodes, []


@lowering("torch.unbind")
def _unbind(node, helper, opset):
    """unbind(x, dim) -> Split into size-1 pieces along dim, each Squeezed."""
    import numpy as np
    from onnx import numpy_helper
    dim = int(node.attrs.get("dim", 0))
    pieces = [f"{node.name}/piece{i}" for i in range(len(node.outputs))]
    axes = f"{node.name}/axes"
    nodes = [helper.make_node("Split", [node.inputs[0].name], pieces, name=f"{node.name}/Split",
                              axis=dim, **({"num_outputs": len(pieces)} if opset >= 18 else {}))]
    for piece, out in zip(pieces, node.outputs):
        nodes.append(helper.make_node("Squeeze", [piece, axes], [out.name],
                                      name=f"{out.name}/Squeeze"))
    return nodes, [numpy_helper.from_array(np.array([dim], np.int64), axes)]

