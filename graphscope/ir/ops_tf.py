"""TensorFlow / Keras ops: 'tf.*' and 'keras.*' ops with cost rules, and channels-last
(NHWC) shape inference for the canonical ops TF uses with ``data_format`` NHWC.

Shape rules in shapes.py are written for ONNX's channels-first layout. A node that records
``data_format`` 'NHWC' (or 'NWC', 'NDHWC') has its input seen as channels-first, the rule
run, and the outputs turned back, so one rule serves both layouts.
"""
from __future__ import annotations

from . import dims as D
from . import shapes, stats
from .graph import TensorType
from .ops import OPS, Attr, register

LAYOUT_OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "GlobalMaxPool",
              "GlobalAveragePool", "DepthToSpace", "SpaceToDepth", "Resize", "Upsample")


def channels_last(node) -> bool:
    fmt = node.attrs.get("data_format")
    return isinstance(fmt, str) and len(fmt) >= 3 and fmt.startswith("N") and fmt.endswith("C")


def _to_first(t: TensorType | None) -> TensorType | None:
    if t is None or t.shape is None or len(t.shape) < 3:
        return t
    s = t.shape
    return TensorType(t.dtype, (s[0], s[-1]) + tuple(s[1:-1]))


def _to_last(t: TensorType, keepdims: bool = True) -> TensorType:
    if t.shape is None or len(t.shape) < 3:
        return t
    s = t.shape
    if not keepdims:  # Keras global pools drop the spatial dims
        return TensorType(t.dtype, (s[0], s[1]))
    return TensorType(t.dtype, (s[0],) + tuple(s[2:]) + (s[1],))


def _layout_aware(rule):
    def wrapped(node, ins):
        if not channels_last(node):
            return rule(node, ins)
        outs = rule(node, [_to_first(ins[0])] + list(ins[1:]))
        keep = node.attrs.get("keepdims", 1) != 0
        return [_to_last(outs[0], keep)] + list(outs[1:])
    wrapped.__wrapped__ = rule
    return wrapped


for _op in LAYOUT_OPS:
    _rule = shapes.RULES.get(_op)
    if _rule is not None and not hasattr(_rule, "__wrapped__"):
        shapes.RULES[_op] = _layout_aware(_rule)


def _filter_to_oihw(node, w: TensorType | None) -> TensorType | None:
    """A TF filter left in its own order (``filter_layout`` HWIO, or HWIM for depthwise),
    seen as ONNX's [Cout, Cin/group, *k] for the Conv shape rule."""
    layout = node.attrs.get("filter_layout")
    if not layout or w is None or w.shape is None or len(w.shape) < 3:
        return w
    s = w.shape
    k = tuple(s[:-2])
    if layout == "HWIM":
        return TensorType(w.dtype, (D.mul(s[-2], s[-1]), 1) + k)
    return TensorType(w.dtype, (s[-1], s[-2]) + k)


def _tf_conv_shape(rule):
    def wrapped(node, ins):
        w = ins[1] if len(ins) > 1 else None
        _group_from_input(node, ins[0], w)
        if node.attrs.get("filter_layout") and w is not None and w.shape:
            if node.attrs["filter_layout"] == "HWIM":  # depthwise: one group per channel,
                node.attrs.setdefault("group", w.shape[-2])  # known once the filter is
            ins = [ins[0], _filter_to_oihw(node, w)] + list(ins[2:])
        return rule(node, ins)
    wrapped.__wrapped__ = rule
    return wrapped


def _group_from_input(node, x, w) -> None:
    """TF's Conv2D has no groups attribute: a filter with fewer input channels than the input
    has (Keras 3's grouped and depthwise convs) makes it grouped."""
    if not node.attrs.get("group_from_input") or x is None or w is None:
        return
    if x.shape is None or w.shape is None or len(w.shape) < 3:
        return
    cin = x.shape[-1] if channels_last(node) else x.shape[1]
    per_group = w.shape[-2] if node.attrs.get("filter_layout") == "HWIO" else w.shape[1]
    if isinstance(cin, int) and isinstance(per_group, int) and per_group and cin % per_group == 0:
        node.attrs["group"] = cin // per_group


_conv_rule = shapes.RULES["Conv"]
if not getattr(_conv_rule, "tf_filter", False):
    shapes.RULES["Conv"] = _tf_conv_shape(_conv_rule)
    shapes.RULES["Conv"].tf_filter = True

_conv_macs = stats.MAC_RULES["Conv"]


@stats.mac_rule("Conv")
def _conv_macs_any_layout(node):
    """Each output element costs (filter elements / output channels) multiply-adds, whatever
    order the filter is stored in; channels are last for NHWC nodes."""
    if not channels_last(node):
        return _conv_macs(node)
    w, y = node.inputs[1].type.shape, node.outputs[0].type.shape
    out, wn = D.numel(y), D.numel(w)
    if out is None or wn is None or not isinstance(y[-1], int) or y[-1] == 0:
        return None
    return out * wn // y[-1]


def _channel_axis_add(rule):
    """BiasAdd with data_format NCHW adds along axis 1, not the last axis."""
    def wrapped(node, ins):
        if node.attrs.get("data_format", "NHWC").startswith("NC") and len(ins) == 2 and ins[0]:
            return [ins[0]]
        return rule(node, ins)
    wrapped.__wrapped__ = rule
    return wrapped


if not hasattr(shapes.RULES.get("Add"), "__wrapped__"):
    shapes.RULES["Add"] = _channel_axis_add(shapes.RULES["Add"])


# -- Keras layers with no exact ONNX op --------------------------------------------------------
def _reg(name, category, **attrs):
    if name not in OPS:
        register(name, category, **attrs)


_reg("keras.Dense", "layer", units=Attr("int"))
_reg("keras.SeparableConv2D", "layer")
_reg("keras.Lambda", "custom")
_reg("keras.Bidirectional", "recurrent")
_reg("tf.Rsqrt", "activation")
_reg("tf.SquaredDifference", "elementwise")
_reg("keras.Normalization", "normalization", axis=Attr("ints"))
_reg("keras.Rescaling", "elementwise")


@shapes.rule("keras.Normalization", "keras.Rescaling")
def _keras_same_shape(node, ins):
    return [shapes.same(ins[0])]


@stats.mac_rule("keras.Normalization")
def _keras_normalization(node):
    """(x - mean) / sqrt(variance): a normalisation, 1 MAC per element (docs/cost_model.md)."""
    return D.numel(node.outputs[0].type.shape)


@stats.mac_rule("keras.Dense")
def _dense(node):
    """Dense on a rank > 2 input: a MatMul over the last axis (kernel is [in, out])."""
    x, y = node.inputs[0], node.outputs[0]
    k = D.numel(x.type.shape[-1:]) if x is not None and x.type.shape else None
    out = D.numel(y.type.shape)
    return None if k is None or out is None else out * k


@stats.mac_rule("keras.SeparableConv2D")
def _separable(node):
    """Depthwise [kh, kw, cin, m] on the input grid, then pointwise [1, 1, cin*m, cout]."""
    y = node.outputs[0].type.shape
    dw, pw = node.inputs[1].type.shape, node.inputs[2].type.shape
    if y is None or dw is None or pw is None:
        return None
    pixels = D.numel(y[:-1])
    if pixels is None:
        return None
    return pixels * (D.numel(dw) + D.numel(pw))


# -- TensorFlow ops with no ONNX twin: registration, shape rules, constant folding ------------
# (GraphDefs compute shapes at run time: Tensordot's Reshape target is
# Pack(Prod(Gather(Shape(x), free)), ...); folding these keeps every shape known.)
for _name in ("tf.Erfc", "tf.Square", "tf.Log1p", "tf.Expm1", "tf.Tan"):
    _reg(_name, "activation")
for _name in ("tf.NotEqual", "tf.FloorDiv", "tf.Atan2", "tf.ZerosLike", "tf.OnesLike"):
    _reg(_name, "elementwise")
for _name in ("tf.Pack", "tf.Unpack", "tf.StridedSlice", "tf.Slice", "tf.Range", "tf.Rank",
              "tf.SpaceToBatchND", "tf.BatchToSpaceND", "tf.Resize"):
    _reg(_name, "shape" if _name in ("tf.Rank",) else "tensor")
_reg("tf.Conv2DBackpropInput", "layer")


@shapes.rule("tf.Rsqrt", "tf.Erfc", "tf.Square", "tf.Log1p", "tf.Expm1", "tf.Tan",
             "tf.ZerosLike", "tf.OnesLike")
def _tf_same(node, ins):
    return [shapes.same(ins[0])]


@shapes.rule("tf.SquaredDifference", "tf.NotEqual", "tf.FloorDiv", "tf.Atan2")
def _tf_broadcast(node, ins):
    shape = D.broadcast(*[None if t is None else t.shape for t in ins])
    dtype = "bool" if node.op == "tf.NotEqual" else (ins[0] and ins[0].dtype)
    return [TensorType(dtype, shape)]


@shapes.const_rule("tf.FloorDiv")
def _c_floordiv(node, vals):
    a, b = vals[0], vals[1]
    if a is None or b is None or len(b) != 1:
        return None
    return [D.floordiv(x, b[0]) for x in a]


@shapes.rule("tf.Rank")
def _tf_rank(node, ins):
    return [TensorType("int32", ())]


@shapes.const_rule("tf.Rank")
def _c_rank(node, vals):
    t = node.inputs[0].type if node.inputs[0] is not None else None
    return None if t is None or t.shape is None else [len(t.shape)]


@shapes.rule("tf.Pack")
def _tf_pack(node, ins):
    if not ins or any(t is None or t.shape is None for t in ins):
        return [TensorType(ins[0] and ins[0].dtype if ins else None)]
    shape = list(ins[0].shape)
    axis = node.attrs.get("axis", 0)
    axis = axis + len(shape) + 1 if axis < 0 else axis
    shape.insert(axis, len(ins))
    return [TensorType(ins[0].dtype, tuple(shape))]


@shapes.const_rule("tf.Pack")
def _c_pack(node, vals):
    if any(v is None or len(v) != 1 for v in vals):
        return None
    return [v[0] for v in vals]


@shapes.rule("tf.Unpack")
def _tf_unpack(node, ins):
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)] * len(node.outputs)
    axis = shapes.norm_axis(node.attrs.get("axis", 0), len(x.shape))
    out = TensorType(x.dtype, x.shape[:axis] + x.shape[axis + 1:])
    return [out] * len(node.outputs)


def _strided(node, shape):
    """The output dims of tf.StridedSlice on ``shape`` (None where not known), with every
    mask: begin/end (ignore that bound), ellipsis (all the dims it stands for), new_axis
    (insert 1), shrink_axis (take one element, drop the dim)."""
    begin, end = shapes.const(node.inputs[1]), shapes.const(node.inputs[2])
    strides = shapes.const(node.inputs[3]) if len(node.inputs) > 3 else None
    if begin is None or end is None:
        return None
    strides = strides or [1] * len(begin)
    a = node.attrs
    bm, em, el, na, sa = (a.get(k, 0) for k in ("begin_mask", "end_mask", "ellipsis_mask",
                                                 "new_axis_mask", "shrink_axis_mask"))
    n_real = sum(1 for i in range(len(begin)) if not (na >> i) & 1 and not (el >> i) & 1)
    out, dim = [], 0
    for i in range(len(begin)):
        if (el >> i) & 1:
            skip = len(shape) - n_real
            out += [("keep", dim + j) for j in range(skip)]
            dim += skip
            continue
        if (na >> i) & 1:
            out.append(("new", None))
            continue
        size = shape[dim]
        if (sa >> i) & 1:
            out.append(("drop", dim))
        elif not isinstance(size, int):
            full = (bm >> i) & 1 and (em >> i) & 1 and strides[i] == 1
            out.append(("size", size if full else None))
        else:
            b = None if (bm >> i) & 1 else begin[i]
            e = None if (em >> i) & 1 else end[i]
            if not all(isinstance(v, int) or v is None for v in (b, e, strides[i])):
                out.append(("size", None))
            else:
                out.append(("size", len(range(size)[slice(b, e, strides[i])])))
        dim += 1
    out += [("keep", j) for j in range(dim, len(shape))]
    return out


@shapes.rule("tf.StridedSlice")
def _tf_strided_slice(node, ins):
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    plan = _strided(node, x.shape)
    if plan is None:
        return [TensorType(x.dtype)]
    dims = []
    for kind, v in plan:
        if kind == "keep":
            dims.append(x.shape[v])
        elif kind == "new":
            dims.append(1)
        elif kind == "size":
            dims.append(v)
    return [TensorType(x.dtype, tuple(dims))]


@shapes.const_rule("tf.StridedSlice")
def _c_strided_slice(node, vals):
    data = vals[0]
    if data is None:
        return None
    plan = _strided(node, [len(data)])
    if plan is None or len(plan) != 1:
        return None
    begin, end = shapes.const(node.inputs[1]), shapes.const(node.inputs[2])
    strides = (shapes.const(node.inputs[3]) if len(node.inputs) > 3 else None) or [1]
    a = node.attrs
    if a.get("shrink_axis_mask", 0) & 1:
        return [data[begin[0]]]
    b = None if a.get("begin_mask", 0) & 1 else begin[0]
    e = None if a.get("end_mask", 0) & 1 else end[0]
    return data[slice(b, e, strides[0])]


@shapes.rule("tf.Slice")
def _tf_slice(node, ins):
    x = ins[0]
    begin, size = shapes.const(node.inputs[1]), shapes.const(node.inputs[2])
    if x is None or x.shape is None or begin is None or size is None:
        return [TensorType(x and x.dtype)]
    dims = [D.sub(d, b) if s == -1 else s for d, b, s in zip(x.shape, begin, size)]
    return [TensorType(x.dtype, tuple(dims))]


@shapes.const_rule("tf.Slice")
def _c_tf_slice(node, vals):
    data, begin, size = vals[0], vals[1], vals[2]
    if data is None or begin is None or size is None or len(begin) != 1:
        return None
    return data[begin[0]:] if size[0] == -1 else data[begin[0]:begin[0] + size[0]]


@shapes.rule("tf.Range")
def _tf_range(node, ins):
    vals = [shapes.const(v) for v in node.inputs[:3]]
    if any(v is None or len(v) != 1 or not isinstance(v[0], int) for v in vals):
        return [TensorType(ins[0] and ins[0].dtype, (None,))]
    start, limit, delta = (v[0] for v in vals)
    return [TensorType(ins[0] and ins[0].dtype, (len(range(start, limit, delta)),))]


@shapes.const_rule("tf.Range")
def _c_range(node, vals):
    if any(v is None or len(v) != 1 or not isinstance(v[0], int) for v in vals[:3]):
        return None
    return list(range(vals[0][0], vals[1][0], vals[2][0]))


@shapes.rule("tf.Resize")
def _tf_resize(node, ins):
    """ResizeBilinear / ResizeNearestNeighbor (images NHWC, size [h, w])."""
    x, size = ins[0], shapes.const(node.inputs[1])
    if x is None or x.shape is None or size is None or len(x.shape) != 4:
        return [TensorType(x and x.dtype)]
    return [TensorType(x.dtype, (x.shape[0], size[0], size[1], x.shape[3]))]


@shapes.rule("tf.SpaceToBatchND", "tf.BatchToSpaceND")
def _tf_space_batch(node, ins):
    """x [N, *spatial, *rest] with block [b1..bm] and paddings / crops [[s, e]] * m."""
    x, block = ins[0], shapes.const(node.inputs[1])
    pads = shapes.const(node.inputs[2])
    if x is None or x.shape is None or block is None or pads is None:
        return [TensorType(x and x.dtype)]
    m, prod = len(block), D.product(block)
    dims = list(x.shape)
    for i, b in enumerate(block):
        extra = pads[2 * i] + pads[2 * i + 1]
        if node.op == "tf.SpaceToBatchND":
            dims[1 + i] = D.floordiv(D.add(dims[1 + i], extra), b)
        else:
            dims[1 + i] = D.sub(D.mul(dims[1 + i], b), extra)
    dims[0] = D.mul(dims[0], prod) if node.op == "tf.SpaceToBatchND" \
        else D.floordiv(dims[0], prod)
    return [TensorType(x.dtype, tuple(dims[:1 + m]) + tuple(dims[1 + m:]))]


@shapes.rule("tf.Conv2DBackpropInput")
def _tf_conv_backprop_input(node, ins):
    """(input_sizes, filter [kh, kw, out_c, in_c], out_backprop): a transposed conv whose
    output shape is given."""
    size = shapes.const(node.inputs[0])
    x = ins[2] if len(ins) > 2 else None
    return [TensorType(x and x.dtype, None if size is None else tuple(size))]


@stats.mac_rule("tf.Conv2DBackpropInput")
def _conv_backprop_macs(node):
    """Every element of out_backprop scatters into kh*kw*out_c outputs."""
    w, x = node.inputs[1].type.shape, node.inputs[2].type.shape
    n, k = D.numel(x), D.numel(w[:-1]) if w is not None else None
    return None if n is None or k is None else n * k
