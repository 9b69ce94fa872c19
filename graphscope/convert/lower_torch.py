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
