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



def _const(name: str, values, dtype="int64"):
    import numpy as np
    from onnx import numpy_helper
    return numpy_helper.from_array(np.asarray(values, dtype), name)


@lowering("torch.ne")
def _ne(node, helper, opset):
    """x != y: Not(Equal(x, y))."""
    eq = f"{node.name}/equal"
    return [helper.make_node("Equal", [v.name for v in node.inputs[:2]], [eq],
                             name=f"{node.name}/Equal"),
            helper.make_node("Not", [eq], [node.outputs[0].name], name=f"{node.name}/Not")], []


@lowering("torch.stack")
def _stack(node, helper, opset):
    """stack(tensors, dim): each Unsqueezed at dim, then Concat."""
    dim = int(node.attrs.get("dim", 0))
    rank = node.outputs[0].type.rank
    dim = dim + rank if dim < 0 and rank is not None else dim
    axes = f"{node.name}/axes"
    parts, nodes = [], []
    for i, v in enumerate(node.inputs):
        parts.append(f"{node.name}/part{i}")
        nodes.append(helper.make_node("Unsqueeze", [v.name, axes], [parts[-1]],
                                      name=f"{node.name}/Unsqueeze{i}"))
    nodes.append(helper.make_node("Concat", parts, [node.outputs[0].name], axis=dim,
                                  name=f"{node.name}/Concat"))
    return nodes, [_const(axes, [dim])]


@lowering("torch.diff")
def _diff(node, helper, opset):
    """diff(x, n=1, dim): x[1:] - x[:-1] along dim (prepend/append not given)."""
    if int(node.attrs.get("n", 1)) != 1 or len(node.inputs) > 1:
        from ..errors import UnsupportedError
        raise UnsupportedError("torch.diff with n > 1 or prepend/append", node=node.name)
    dim = int(node.attrs.get("dim", -1))
    x, n = node.inputs[0].name, node.name
    inits = [_const(f"{n}/one", [1]), _const(f"{n}/big", [2 ** 62]), _const(f"{n}/zero", [0]),
             _const(f"{n}/minus1", [-1]), _const(f"{n}/axes", [dim])]
    return [helper.make_node("Slice", [x, f"{n}/one", f"{n}/big", f"{n}/axes"], [f"{n}/hi"],
                             name=f"{n}/SliceHi"),
            helper.make_node("Slice", [x, f"{n}/zero", f"{n}/minus1", f"{n}/axes"], [f"{n}/lo"],
                             name=f"{n}/SliceLo"),
            helper.make_node("Sub", [f"{n}/hi", f"{n}/lo"], [node.outputs[0].name],
                             name=f"{n}/Sub")], inits


@lowering("torch.roll")
def _roll(node, helper, opset):
    """roll(x, shifts, dims): per dim, the last `shift` elements moved to the front (Slice +
    Concat); the sizes are the traced ones."""
    shifts = node.attrs.get("shifts")
    dims = node.attrs.get("dims")
    shifts = [shifts] if isinstance(shifts, int) else list(shifts)
    dims = [dims] if isinstance(dims, int) else list(dims or [])
    shape = node.inputs[0].type.shape
    if len(dims) != len(shifts) or shape is None:
        from ..errors import UnsupportedError
        raise UnsupportedError("torch.roll over the flattened tensor or of unknown shape",
                               node=node.name)
    cur, nodes, inits = node.inputs[0].name, [], []
    for k, (shift, dim) in enumerate(zip(shifts, dims)):
        size = shape[dim]
        s = shift % size
        out = node.outputs[0].name if k == len(dims) - 1 else f"{node.name}/roll{k}"
        if s == 0:
            nodes.append(helper.make_node("Identity", [cur], [out], name=f"{node.name}/Id{k}"))
        else:
            p = f"{node.name}/{k}"
            inits += [_const(f"{p}/a0", [size - s]), _const(f"{p}/a1", [size]),
                      _const(f"{p}/b0", [0]), _const(f"{p}/b1", [size - s]),
                      _const(f"{p}/axis", [dim])]
            nodes += [helper.make_node("Slice", [cur, f"{p}/a0", f"{p}/a1", f"{p}/axis"],
                                       [f"{p}/tail"], name=f"{p}/SliceTail"),
                      helper.make_node("Slice", [cur, f"{p}/b0", f"{p}/b1", f"{p}/axis"],
                                       [f"{p}/head"], name=f"{p}/SliceHead"),
                      helper.make_node("Concat", [f"{p}/tail", f"{p}/head"], [out], axis=dim,
                                       name=f"{p}/Concat")]
        cur = out
    return nodes, inits


@lowering("torch.rsqrt")
def _rsqrt(node, helper, opset):
    """1 / sqrt(x)."""
    root = f"{node.name}/sqrt"
    return [helper.make_node("Sqrt", [node.inputs[0].name], [root], name=f"{node.name}/Sqrt"),
            helper.make_node("Reciprocal", [root], [node.outputs[0].name],
                             name=f"{node.name}/Reciprocal")], []


@lowering("Embedding")
def _embedding(node, helper, opset):
    """Embedding(indices, table) (torch's and Keras' layer): Gather(table, indices, axis 0)."""
    return [helper.make_node("Gather", [node.inputs[1].name, node.inputs[0].name],
                             [node.outputs[0].name], name=node.name, axis=0)], []
