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


def _other(node, dtype=None) -> tuple[str, list]:
    """The second operand of a binary op: its input, or its scalar ``other`` attribute as a
    constant of the first input's dtype. Returns (name, initializers)."""
    if len(node.inputs) > 1 and node.inputs[1] is not None:
        return node.inputs[1].name, []
    name = f"{node.name}/other"
    return name, [_const(name, node.attrs["other"], dtype or node.inputs[0].type.dtype)]


@lowering("torch.ne")
def _ne(node, helper, opset):
    """x != y: Not(Equal(x, y))."""
    eq = f"{node.name}/equal"
    other, inits = _other(node)
    return [helper.make_node("Equal", [node.inputs[0].name, other], [eq],
                             name=f"{node.name}/Equal"),
            helper.make_node("Not", [eq], [node.outputs[0].name], name=f"{node.name}/Not")], inits


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
    """diff(x, n=1, dim, prepend, append): x[1:] - x[:-1] along dim, after prepend and
    append are concatenated to x along dim."""
    if int(node.attrs.get("n", 1)) != 1:
        from ..errors import UnsupportedError
        raise UnsupportedError("torch.diff with n > 1", node=node.name)
    dim = int(node.attrs.get("dim", -1))
    x, n, nodes = node.inputs[0].name, node.name, []
    prepend, append = (list(node.inputs[1:3]) + [None, None])[:2]
    order = [v.name for v in (prepend, node.inputs[0], append) if v is not None]
    if len(order) > 1:
        x = f"{n}/joined"
        nodes.append(helper.make_node("Concat", order, [x], axis=dim, name=f"{n}/Concat"))
    inits = [_const(f"{n}/one", [1]), _const(f"{n}/big", [2 ** 62]), _const(f"{n}/zero", [0]),
             _const(f"{n}/minus1", [-1]), _const(f"{n}/axes", [dim])]
    return nodes + [
        helper.make_node("Slice", [x, f"{n}/one", f"{n}/big", f"{n}/axes"], [f"{n}/hi"],
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


# -- MoE routing and advanced indexing (Mixtral, Qwen2-MoE): exact ONNX forms ----------------
class _Emit:
    """The ONNX nodes and constants of one lowering, named under the node's name."""

    def __init__(self, node, helper, opset):
        self.node, self.helper, self.opset = node, helper, opset
        self.nodes, self.inits = [], []

    def const(self, values, dtype="int64") -> str:
        name = f"{self.node.name}/c{len(self.inits)}"
        self.inits.append(_const(name, values, dtype))
        return name

    def __call__(self, op, inputs, out=None, outs=None, **attrs) -> str:
        name = f"{self.node.name}/{op}{len(self.nodes)}"
        outs = outs or [out or f"{name}:0"]
        self.nodes.append(self.helper.make_node(op, inputs, outs, name=name, **attrs))
        return outs[0]

    def reduce_sum(self, x, axes, out=None, keepdims=0) -> str:
        if self.opset >= 13:
            return self("ReduceSum", [x, self.const(axes)], out, keepdims=keepdims)
        return self("ReduceSum", [x], out, axes=axes, keepdims=keepdims)

    def done(self):
        return self.nodes, self.inits


def _static(node, *values) -> list[list[int]]:
    """The static shapes of ``values``; the lowering needs them (they are the traced ones)."""
    shapes = [v.type.shape for v in values]
    if any(s is None or not all(isinstance(d, int) for d in s) for s in shapes):
        from ..errors import UnsupportedError
        raise UnsupportedError(f"{node.op} on a tensor of unknown or symbolic shape",
                               node=node.name)
    return [list(s) for s in shapes]


def _stacked_indices(e: _Emit, tensors, shapes) -> tuple[str, list[int]]:
    """Index tensors broadcast together to B and stacked on a last axis: GatherND's and
    ScatterND's [*B, k] indices. Returns (name, B)."""
    import numpy as np
    b = list(np.broadcast_shapes(*map(tuple, shapes)))
    parts = []
    for t, shape in zip(tensors, shapes):
        name = t.name
        if t.type.dtype != "int64":
            name = e("Cast", [name], to=7)
        if shape != b:
            name = e("Expand", [name, e.const(b)])
        parts.append(e("Unsqueeze", [name, e.const([-1])]))
    return (parts[0] if len(parts) == 1 else e("Concat", parts, axis=-1)), b


def _indexed_first(e: _Emit, x: str, rank: int, dims: list[int]) -> tuple[str, list[int]]:
    """x transposed so that its indexed dims lead (in index order); returns (name, perm)."""
    perm = dims + [d for d in range(rank) if d not in dims]
    if perm == list(range(rank)):
        return x, perm
    return e("Transpose", [x], perm=perm), perm


def _index_layout(dims: list[int], nb: int, rest: int) -> list[int] | None:
    """torch puts the broadcast index dims B where the indexed dims were when those are
    adjacent (x[:, i, j]), else first. GatherND gives B first: the permutation from
    [*B, *other dims] to torch's layout, None when they agree."""
    p = dims[0]
    if p == 0 or dims != list(range(p, p + len(dims))):
        return None
    return [nb + i for i in range(p)] + list(range(nb)) + [nb + i for i in range(p, rest)]


def _index_dims(node, rank: int, count: int) -> list[int]:
    return [d % rank for d in node.attrs.get("dims", range(count))]


@lowering("torch.index")
def _index(node, helper, opset):
    """x[i0, i1, ...] with several integer index tensors: GatherND over the indexed dims
    (moved to the front), the result laid out as torch lays it out."""
    e = _Emit(node, helper, opset)
    x, tensors = node.inputs[0], node.inputs[1:]
    shapes = _static(node, x, *tensors)
    rank = len(shapes[0])
    dims = _index_dims(node, rank, len(tensors))
    stacked, b = _stacked_indices(e, tensors, shapes[1:])
    data, _ = _indexed_first(e, x.name, rank, dims)
    layout = _index_layout(dims, len(b), rank - len(dims))
    out = node.outputs[0].name
    if layout is None:
        e("GatherND", [data, stacked], out)
    else:
        e("Transpose", [e("GatherND", [data, stacked])], out, perm=layout)
    return e.done()


@lowering("torch.index_put")
def _index_put(node, helper, opset):
    """x[i0, i1, ...] = values (accumulate: +=): ScatterND (reduction 'add') over the indexed
    dims moved to the front, values broadcast to the indexed shape first, as torch does."""
    import numpy as np
    e = _Emit(node, helper, opset)
    x, values, tensors = node.inputs[0], node.inputs[1], node.inputs[2:]
    shapes = _static(node, x, values, *tensors)
    rank = len(shapes[0])
    dims = _index_dims(node, rank, len(tensors))
    stacked, b = _stacked_indices(e, tensors, shapes[2:])
    data, perm = _indexed_first(e, x.name, rank, dims)
    rest = [shapes[0][d] for d in perm[len(dims):]]
    layout = _index_layout(dims, len(b), len(rest))
    # torch's x[indices] shape, which values broadcast to
    torch_shape = [([*b, *rest])[i] for i in layout] if layout else [*b, *rest]
    v = values.name
    if values.type.dtype != x.type.dtype:
        from .to_onnx import onnx_dtype
        v = e("Cast", [v], to=onnx_dtype(x.type.dtype))
    if shapes[1] != torch_shape:
        v = e("Expand", [v, e.const(torch_shape)])
    if layout:
        v = e("Transpose", [v], perm=[int(i) for i in np.argsort(layout)])
    identity = perm == list(range(rank))
    out = node.outputs[0].name
    extra = {"reduction": "add"} if node.attrs.get("accumulate") else {}
    if extra and opset < 16:
        from ..errors import UnsupportedError
        raise UnsupportedError("index_put with accumulate needs opset 16 or later",
                               node=node.name)
    scattered = e("ScatterND", [data, stacked, v], out if identity else None, **extra)
    if not identity:
        e("Transpose", [scattered], out, perm=[int(i) for i in np.argsort(perm)])
    return e.done()


@lowering("torch.topk")
def _topk(node, helper, opset):
    """topk(x, k, dim, largest, sorted) -> TopK (values, int64 indices)."""
    e = _Emit(node, helper, opset)
    a = node.attrs
    e("TopK", [node.inputs[0].name, e.const([int(a["k"])])], outs=[v.name for v in node.outputs],
      axis=int(a.get("dim", -1)), largest=int(bool(a.get("largest", True))),
      sorted=int(bool(a.get("sorted", True))))
    return e.done()


@lowering("torch.sort")
def _sort(node, helper, opset):
    """sort(x, dim, descending): TopK of the whole dim, sorted; ONNX breaks ties by the lower
    index, as torch's stable sort does."""
    e = _Emit(node, helper, opset)
    (shape,) = _static(node, node.inputs[0])
    dim = int(node.attrs.get("dim", -1))
    e("TopK", [node.inputs[0].name, e.const([shape[dim]])], outs=[v.name for v in node.outputs],
      axis=dim, largest=int(bool(node.attrs.get("descending", False))), sorted=1)
    return e.done()


@lowering("torch.floor_divide")
def _floor_divide(node, helper, opset):
    """a // b rounded toward -inf: integers (a - a mod b) / b with Python's mod (exact);
    floats Floor(a / b)."""
    e = _Emit(node, helper, opset)
    a, out = node.inputs[0].name, node.outputs[0].name
    b, inits = _other(node)
    e.inits += inits
    if (node.inputs[0].type.dtype or "float32").startswith(("float", "bfloat")):
        e("Floor", [e("Div", [a, b])], out)
    else:
        e("Div", [e("Sub", [a, e("Mod", [a, b], fmod=0)]), b], out)
    return e.done()


@lowering("torch.cumsum")
def _cumsum(node, helper, opset):
    """cumsum(x, dim, dtype): x cast to dtype first, then CumSum."""
    from .to_onnx import onnx_dtype
    e = _Emit(node, helper, opset)
    x, out = node.inputs[0], node.outputs[0]
    name = x.name
    if out.type.dtype != x.type.dtype:
        name = e("Cast", [name], to=onnx_dtype(out.type.dtype))
    e("CumSum", [name, e.const(int(node.attrs.get("dim", 0)))], out.name)
    return e.done()


@lowering("torch.histc")
def _histc(node, helper, opset):
    """histc(x, bins, min, max): counts of x's elements in `bins` equal bins over [min, max]
    (max itself in the last bin, values outside ignored); min == max == 0: the data's range;
    an empty range widened by 1 on each side. Bin of v: floor((v - min) * bins / (max - min)),
    in that order, as torch computes it."""
    import numpy as np
    e = _Emit(node, helper, opset)
    x = node.inputs[0]
    dtype = x.type.dtype or "float32"
    bins = int(node.attrs.get("bins", 100))
    lo, hi = float(node.attrs.get("min", 0)), float(node.attrs.get("max", 0))
    flat = e("Reshape", [x.name, e.const([-1])])
    if lo == hi == 0:
        lo_t, hi_t = e("ReduceMin", [flat], keepdims=0), e("ReduceMax", [flat], keepdims=0)
        same, one = e("Equal", [lo_t, hi_t]), e.const(1, dtype)
        lo_t = e("Where", [same, e("Sub", [lo_t, one]), lo_t])
        hi_t = e("Where", [same, e("Add", [hi_t, one]), hi_t])
    else:
        if lo == hi:
            lo, hi = lo - 1, hi + 1
        lo_t, hi_t = e.const(lo, dtype), e.const(hi, dtype)
    scaled = e("Mul", [e("Sub", [flat, lo_t]), e.const(bins, dtype)])
    pos = e("Cast", [e("Floor", [e("Div", [scaled, e("Sub", [hi_t, lo_t])])])], to=7)
    pos = e("Min", [pos, e.const(bins - 1)])
    inside = e("And", [e("GreaterOrEqual", [flat, lo_t]), e("LessOrEqual", [flat, hi_t])])
    hit = e("And", [e("Equal", [e("Unsqueeze", [pos, e.const([1])]),
                                e.const(np.arange(bins).reshape(1, bins))]),
                    e("Unsqueeze", [inside, e.const([1])])])
    from .to_onnx import onnx_dtype
    e.reduce_sum(e("Cast", [hit], to=onnx_dtype(node.outputs[0].type.dtype or dtype)), [0],
                 node.outputs[0].name)
    return e.done()


@lowering("torch.grouped_mm")
def _grouped_mm(node, helper, opset):
    """Rows of x [S, K] sorted by group, offsets [G] the groups' cumulative ends: row s
    times w[g] [K, N] where g = #(offsets <= s); rows past the last offset are zeros (a zero
    matrix appended as group G). Gather each row's matrix, then a batched MatMul."""
    import numpy as np
    e = _Emit(node, helper, opset)
    x, w, offs = node.inputs[:3]
    (s, k), (g, _, n) = _static(node, x, w)
    ends = offs.name if offs.type.dtype == "int64" else e("Cast", [offs.name], to=7)
    past = e("LessOrEqual", [ends, e.const(np.arange(s).reshape(s, 1))])      # [S, G]
    group = e.reduce_sum(e("Cast", [past], to=7), [1])                         # [S]
    zero = e.const(np.zeros((1, k, n)), w.type.dtype or "float32")
    mats = e("Gather", [e("Concat", [w.name, zero], axis=0), group], axis=0)   # [S, K, N]
    rows = e("MatMul", [e("Unsqueeze", [x.name, e.const([1])]), mats])         # [S, 1, N]
    e("Squeeze", [rows, e.const([1])], node.outputs[0].name)
    return e.done()


@lowering("Silu")
def _silu(node, helper, opset):
    """torch's silu (the canonical Silu, which ONNX lacks): x * Sigmoid(x)."""
    x, p = node.inputs[0].name, node.name
    return [helper.make_node("Sigmoid", [x], [f"{p}/sigmoid"], name=f"{p}/Sigmoid"),
            helper.make_node("Mul", [x, f"{p}/sigmoid"], [node.outputs[0].name],
                             name=f"{p}/Mul")], []
