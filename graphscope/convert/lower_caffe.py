"""Caffe layers that have an exact ONNX decomposition, lowered with Caffe's own arithmetic.

Each lowering turns one ``caffe.X`` node into standard ONNX nodes that compute exactly what
Caffe computes (checked layer by layer against OpenCV's cv2.dnn in
tests/convert/test_caffe_onnx.py). Shapes are static where Caffe's semantics need them
(Crop offsets, Reshape 0/-1, the average-pool divisor map), so these need known shapes.
Layers with no ONNX form (PriorBox, DetectionOutput, Proposal, Python, LSTM, ...) are not
registered here and stay reported as unsupported, by name, by to_onnx.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError
from ..ir.ops_caffe import caffe_pool_out
from ..ir.shapes import norm_axis
from .to_onnx import lowering

FLT_MAX = float(np.finfo(np.float32).max)


class _Emit:
    """Collects the nodes and constants of one lowering, with names scoped to the node."""

    def __init__(self, node, helper, opset):
        self.node, self.helper, self.opset = node, helper, opset
        self.nodes: list = []
        self.inits: list = []
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{self.node.name}/{hint}_{self.count}"

    def const(self, value, dtype="float32", hint="const") -> str:
        from onnx import numpy_helper
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], out: str | None = None, **attrs) -> str:
        out = out or self.name(op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=self.name(op_type),
                                                **attrs))
        return out

    def reduce(self, op_type: str, x: str, axes: list[int], keepdims: int, out=None) -> str:
        """ReduceX with ``axes`` as an attribute or an input, as the opset wants."""
        as_input = self.opset >= (13 if op_type == "ReduceSum" else 18)
        if as_input:
            return self.op(op_type, [x, self.const(axes, "int64", "axes")], out,
                           keepdims=keepdims)
        return self.op(op_type, [x], out, axes=axes, keepdims=keepdims)

    def done(self):
        return self.nodes, self.inits


def _x(node, i=0) -> str:
    return node.inputs[i].name


def _out(node, i=0) -> str:
    return node.outputs[i].name


def _static(node, value, what: str) -> tuple[int, ...]:
    shape = value.type.shape
    if shape is None or any(not isinstance(d, int) for d in shape):
        raise UnsupportedError(f"{node.name} ({node.op}): exporting to ONNX needs a known "
                               f"{what} shape (give the input shape)")
    return tuple(shape)


def _broadcast(e: _Emit, w: str, x_rank: int, axis: int, w_rank: int) -> str:
    """Caffe's Scale/Bias broadcast: ``w`` covers axes [axis, axis + w_rank) of x."""
    trailing = x_rank - axis - w_rank
    if trailing <= 0:
        return w
    return e.op("Unsqueeze", [w, e.const(list(range(w_rank, w_rank + trailing)), "int64",
                                          "axes")]) if e.opset >= 13 else \
        e.op("Unsqueeze", [w], axes=list(range(w_rank, w_rank + trailing)))


# -- shape and tensor layers ----------------------------------------------------------------
@lowering("caffe.Crop")
def crop(node, helper, opset):
    """Crop bottom 0 to bottom 1's shape from ``axis`` on, at the given offsets."""
    e = _Emit(node, helper, opset)
    a = _static(node, node.inputs[0], "input")
    b = _static(node, node.inputs[1], "reference")
    axis = norm_axis(node.attrs.get("axis", 2), len(a))
    offs = list(node.attrs.get("offset", [])) or [0]
    axes = list(range(axis, len(a)))
    starts = [offs[0] if len(offs) == 1 else offs[i - axis] for i in axes]
    ends = [s + b[i] for s, i in zip(starts, axes)]
    e.op("Slice", [_x(node), e.const(starts, "int64", "starts"), e.const(ends, "int64", "ends"),
                   e.const(axes, "int64", "axes")], _out(node))
    return e.done()


def _reshape_to_output(node, helper, opset):
    e = _Emit(node, helper, opset)
    shape = _static(node, node.outputs[0], "output")
    e.op("Reshape", [_x(node), e.const(shape, "int64", "shape")], _out(node))
    return e.done()


lowering("caffe.Reshape")(_reshape_to_output)
lowering("caffe.Flatten")(_reshape_to_output)


@lowering("caffe.Split")
def split(node, helper, opset):
    nodes = [helper.make_node("Identity", [_x(node)], [v.name], name=f"{node.name}/{i}")
             for i, v in enumerate(node.outputs)]
    return nodes, []


@lowering("caffe.Silence")
def silence(node, helper, opset):
    return [], []


@lowering("caffe.ShuffleChannel")
def shuffle_channel(node, helper, opset):
    e = _Emit(node, helper, opset)
    n, c, *rest = _static(node, node.inputs[0], "input")
    g = int(node.attrs.get("group", 1))
    y = e.op("Reshape", [_x(node), e.const([n, g, c // g, *rest], "int64", "shape")])
    y = e.op("Transpose", [y], perm=[0, 2, 1, *range(3, 3 + len(rest))])
    e.op("Reshape", [y, e.const([n, c, *rest], "int64", "shape")], _out(node))
    return e.done()


@lowering("caffe.Tile")
def tile(node, helper, opset):
    e = _Emit(node, helper, opset)
    r = len(_static(node, node.inputs[0], "input"))
    reps = [1] * r
    reps[norm_axis(node.attrs.get("axis", 1), r)] = int(node.attrs.get("tiles", 1))
    e.op("Tile", [_x(node), e.const(reps, "int64", "repeats")], _out(node))
    return e.done()


# -- pooling ----------------------------------------------------------------------------------
@lowering("caffe.Pooling")
def pooling(node, helper, opset):
    """Caffe's ceil-mode pooling where ONNX's rounding differs: pad explicitly to the extent
    Caffe's windows reach, then pool with no padding. MAX pads with -FLT_MAX (an empty window
    gives -FLT_MAX, as in Caffe); AVE sums and divides by Caffe's divisor, which counts the
    padding but not what lies beyond it."""
    e = _Emit(node, helper, opset)
    n, c, h, w = _static(node, node.inputs[0], "input")
    k, s = list(node.attrs["kernel_shape"]), list(node.attrs["strides"])
    p = list(node.attrs["pads"])[:2]
    kind = node.attrs.get("pool", "MAX")
    if kind not in ("MAX", "AVE"):
        raise UnsupportedError(f"{node.name} ({node.op}): {kind} pooling has no ONNX form")
    sizes = (h, w)
    ceil = bool(node.attrs.get("ceil_mode", 1))
    outs = [caffe_pool_out(sizes[i], k[i], s[i], p[i], ceil) for i in range(2)]
    ends = [max(0, (outs[i] - 1) * s[i] + k[i] - sizes[i] - p[i]) for i in range(2)]
    pads = e.const([0, 0, p[0], p[1], 0, 0, ends[0], ends[1]], "int64", "pads")
    fill = e.const(-FLT_MAX if kind == "MAX" else 0.0, hint="fill")
    xp = e.op("Pad", [_x(node), pads, fill], mode="constant")
    if kind == "MAX":
        e.op("MaxPool", [xp], _out(node), kernel_shape=k, strides=s)
        return e.done()
    mean = e.op("AveragePool", [xp], kernel_shape=k, strides=s)
    e.op("Mul", [mean, e.const(_ave_factor(sizes, outs, k, s, p))], _out(node))
    return e.done()


def _ave_factor(sizes, outs, k, s, p) -> np.ndarray:
    """k_h*k_w / Caffe's divisor per output position (Caffe: window clipped to size + pad)."""
    divs = []
    for i in range(2):
        start = np.arange(outs[i]) * s[i] - p[i]
        end = np.minimum(start + k[i], sizes[i] + p[i])
        divs.append(np.maximum(end - start, 1))  # a window wholly outside sums to 0 anyway
    div = np.outer(divs[0], divs[1]).astype(np.float64)
    return (k[0] * k[1] / div).astype(np.float32)[None, None]


# -- arithmetic -----------------------------------------------------------------------------
@lowering("caffe.Eltwise")
def eltwise(node, helper, opset):
    """SUM with coefficients (sum of c_i * x_i), or PROD/MAX/SUM of many bottoms."""
    e = _Emit(node, helper, opset)
    xs = [v.name for v in node.inputs]
    kind = node.attrs.get("operation", "SUM")
    coeff = list(node.attrs.get("coeff", [])) or [1.0] * len(xs)
    if kind == "SUM":
        xs = [x if c == 1.0 else e.op("Mul", [x, e.const(c)]) for x, c in zip(xs, coeff)]
    op = {"SUM": "Sum", "PROD": "Mul", "MAX": "Max"}[kind]
    if op == "Mul":
        acc = xs[0]
        for i, x in enumerate(xs[1:]):
            acc = e.op("Mul", [acc, x], _out(node) if i == len(xs) - 2 else None)
    else:
        e.op(op, xs, _out(node))
    return e.done()


def _affine(e: _Emit, x: str, scale: float, shift: float) -> str:
    if scale != 1.0:
        x = e.op("Mul", [x, e.const(scale)])
    if shift != 0.0:
        x = e.op("Add", [x, e.const(shift)])
    return x


@lowering("caffe.Power")
def power(node, helper, opset):
    """(shift + scale * x) ^ power."""
    e = _Emit(node, helper, opset)
    a = node.attrs
    y = _affine(e, _x(node), float(a.get("scale", 1.0)), float(a.get("shift", 0.0)))
    pw = float(a.get("power", 1.0))
    if pw != 1.0:
        y = e.op("Pow", [y, e.const(pw)])
    e.op("Identity", [y], _out(node))
    return e.done()


@lowering("caffe.Exp")
def exp(node, helper, opset):
    """base ^ (shift + scale * x); base -1 means e."""
    e = _Emit(node, helper, opset)
    a = node.attrs
    base = float(a.get("base", -1.0))
    ln = 1.0 if base == -1.0 else float(np.log(base))
    y = _affine(e, _x(node), float(a.get("scale", 1.0)) * ln, float(a.get("shift", 0.0)) * ln)
    e.op("Exp", [y], _out(node))
    return e.done()


@lowering("caffe.Log")
def log(node, helper, opset):
    """log_base(shift + scale * x); base -1 means e."""
    e = _Emit(node, helper, opset)
    a = node.attrs
    base = float(a.get("base", -1.0))
    y = e.op("Log", [_affine(e, _x(node), float(a.get("scale", 1.0)),
                             float(a.get("shift", 0.0)))])
    if base != -1.0:
        y = e.op("Mul", [y, e.const(1.0 / np.log(base))])
    e.op("Identity", [y], _out(node))
    return e.done()


@lowering("caffe.Threshold")
def threshold(node, helper, opset):
    """1 where x > threshold, else 0."""
    e = _Emit(node, helper, opset)
    gt = e.op("Greater", [_x(node), e.const(float(node.attrs.get("threshold", 0.0)))])
    e.op("Cast", [gt], _out(node), to=1)
    return e.done()


def _scale_or_bias(node, helper, opset, op_type: str):
    e = _Emit(node, helper, opset)
    rank = len(_static(node, node.inputs[0], "input"))
    axis = norm_axis(node.attrs.get("axis", 1), rank)
    w = node.inputs[1]
    w_rank = len(_static(node, w, "parameter"))
    y = e.op(op_type, [_x(node), _broadcast(e, w.name, rank, axis, w_rank)])
    if op_type == "Mul" and len(node.inputs) > 2 and node.inputs[2] is not None:
        y = e.op("Add", [y, _broadcast(e, node.inputs[2].name, rank, axis, w_rank)])
    e.op("Identity", [y], _out(node))
    return e.done()


@lowering("caffe.Scale")
def scale(node, helper, opset):
    """x * scale (+ bias), the parameters broadcast from ``axis`` on."""
    return _scale_or_bias(node, helper, opset, "Mul")


@lowering("caffe.Bias")
def bias(node, helper, opset):
    return _scale_or_bias(node, helper, opset, "Add")


@lowering("caffe.InnerProduct")
def inner_product(node, helper, opset):
    """InnerProduct with axis != 1: flatten [axis:] to K, Gemm, restore the leading dims."""
    e = _Emit(node, helper, opset)
    shape = _static(node, node.inputs[0], "input")
    out = _static(node, node.outputs[0], "output")
    axis = norm_axis(node.attrs["axis"], len(shape))
    rows = int(np.prod(shape[:axis], dtype=np.int64))
    flat = e.op("Reshape", [_x(node), e.const([rows, -1], "int64", "shape")])
    ins = [flat] + [v.name for v in node.inputs[1:] if v is not None]
    y = e.op("Gemm", ins, transB=0 if node.attrs.get("transpose") else 1)
    e.op("Reshape", [y, e.const(out, "int64", "shape")], _out(node))
    return e.done()


@lowering("caffe.Reduction")
def reduction(node, helper, opset):
    """SUM/ASUM/SUMSQ/MEAN over all axes from ``axis`` on, times coeff."""
    e = _Emit(node, helper, opset)
    rank = len(_static(node, node.inputs[0], "input"))
    axes = list(range(norm_axis(node.attrs.get("axis", 0), rank), rank))
    op = {"SUM": "ReduceSum", "ASUM": "ReduceL1", "SUMSQ": "ReduceSumSquare",
          "MEAN": "ReduceMean"}[str(node.attrs.get("operation", "SUM"))]
    y = e.reduce(op, _x(node), axes, 0)
    e.op("Identity", [_affine(e, y, float(node.attrs.get("coeff", 1.0)), 0.0)], _out(node))
    return e.done()


@lowering("caffe.ArgMax")
def argmax(node, helper, opset):
    """Top-k indices (as floats, as Caffe writes them) or values along ``axis``; without an
    axis, over each sample's flattened values into (N, 1 or 2, top_k, 1...) where row 1 holds
    the values. Caffe breaks ties towards the larger index, TopK towards the smaller."""
    e = _Emit(node, helper, opset)
    shape = _static(node, node.inputs[0], "input")
    out = _static(node, node.outputs[0], "output")
    k = e.const([int(node.attrs.get("top_k", 1))], "int64", "k")
    with_values = bool(node.attrs.get("out_max_val", 0))
    if "axis" in node.attrs:
        axis = norm_axis(node.attrs["axis"], len(shape))
        vals, idx = e.name("values"), e.name("indices")
        e.nodes.append(helper.make_node("TopK", [_x(node), k], [vals, idx], axis=axis,
                                        name=e.name("TopK")))
        if with_values:
            e.op("Identity", [vals], _out(node))
        else:
            e.op("Cast", [idx], _out(node), to=1)
        return e.done()
    flat = e.op("Reshape", [_x(node), e.const([shape[0], -1], "int64", "shape")])
    vals, idx = e.name("values"), e.name("indices")
    e.nodes.append(helper.make_node("TopK", [flat, k], [vals, idx], axis=1,
                                    name=e.name("TopK")))
    y = e.op("Cast", [idx], to=1)
    if with_values:
        y = e.op("Concat", [y, vals], axis=1)
    e.op("Reshape", [y, e.const(out, "int64", "shape")], _out(node))
    return e.done()


@lowering("caffe.Embed")
def embed(node, helper, opset):
    """Rows of the embedding matrix picked by the (float) indices, plus the bias."""
    e = _Emit(node, helper, opset)
    idx = e.op("Cast", [_x(node)], to=7)
    y = e.op("Gather", [node.inputs[1].name, idx], axis=0)
    if len(node.inputs) > 2 and node.inputs[2] is not None:
        y = e.op("Add", [y, node.inputs[2].name])
    e.op("Identity", [y], _out(node))
    return e.done()


# -- normalisation --------------------------------------------------------------------------
@lowering("caffe.LRN")
def lrn_within_channel(node, helper, opset):
    """LRN WITHIN_CHANNEL (ONNX's LRN is across channels only), as Caffe computes it:
    x * (1 + alpha * mean of x^2 over a size x size window, zero padded) ^ -beta. Caffe's
    shift is 1 here (its k applies only ACROSS_CHANNELS); with stride 1 and a centred window
    the divisor is always size^2."""
    e = _Emit(node, helper, opset)
    a = node.attrs
    size = int(a.get("size", 5))
    pad = (size - 1) // 2
    sq = e.op("Mul", [_x(node), _x(node)])
    mean = e.op("AveragePool", [sq], kernel_shape=[size, size], pads=[pad] * 4,
                count_include_pad=1)
    base = _affine(e, mean, float(a.get("alpha", 1.0)), 1.0)
    scale_ = e.op("Pow", [base, e.const(-float(a.get("beta", 0.75)))])
    e.op("Mul", [_x(node), scale_], _out(node))
    return e.done()


@lowering("caffe.Normalize")
def normalize(node, helper, opset):
    """SSD's Normalize: x / sqrt(sum x^2 + eps) over C,H,W (across_spatial) or over C at each
    position, times a shared or per-channel scale."""
    e = _Emit(node, helper, opset)
    rank = len(_static(node, node.inputs[0], "input"))
    axes = list(range(1, rank)) if node.attrs.get("across_spatial", 1) else [1]
    ss = e.reduce("ReduceSumSquare", _x(node), axes, 1)
    norm = e.op("Sqrt", [e.op("Add", [ss, e.const(float(node.attrs.get("eps", 1e-10)))])])
    y = e.op("Div", [_x(node), norm])
    if len(node.inputs) > 1 and node.inputs[1] is not None:
        w = node.inputs[1].name
        if not node.attrs.get("channel_shared", 1):
            w = _broadcast(e, w, rank, 1, 1)
        y = e.op("Mul", [y, w])
    e.op("Identity", [y], _out(node))
    return e.done()


# -- resizing -------------------------------------------------------------------------------
@lowering("caffe.Upsample")
def upsample(node, helper, opset):
    """Nearest-neighbour Upsample by scale (the SegNet form with a mask bottom has no
    ONNX equivalent)."""
    if len(node.inputs) > 1:
        raise UnsupportedError(f"{node.name} ({node.op}): Upsample with a pooling mask "
                               f"(SegNet unpooling) has no ONNX equivalent")
    e = _Emit(node, helper, opset)
    out = _static(node, node.outputs[0], "output")
    e.op("Resize", [_x(node), "", "", e.const(out, "int64", "sizes")], _out(node),
         mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    return e.done()


@lowering("caffe.Interp")
def interp(node, helper, opset):
    """PSPNet/DeepLab Interp: bilinear with aligned corners, after pad_beg/pad_end crop."""
    e = _Emit(node, helper, opset)
    shape = _static(node, node.inputs[0], "input")
    out = _static(node, node.outputs[0], "output")
    x = _x(node)
    pb, pe = int(node.attrs.get("pad_beg", 0)), int(node.attrs.get("pad_end", 0))
    if pb or pe:  # Caffe's Interp only supports non-positive pads (a crop)
        if pb > 0 or pe > 0:
            raise UnsupportedError(f"{node.name} ({node.op}): positive Interp padding")
        x = e.op("Slice", [x, e.const([-pb, -pb], "int64", "starts"),
                           e.const([shape[2] + pe, shape[3] + pe], "int64", "ends"),
                           e.const([2, 3], "int64", "axes")])
    e.op("Resize", [x, "", "", e.const(out, "int64", "sizes")], _out(node), mode="linear",
         coordinate_transformation_mode="align_corners")
    return e.done()


# -- the forks' layers ----------------------------------------------------------------------
@lowering("caffe.ReLU6")
def relu6(node, helper, opset):
    """min(max(x, 0), 6)."""
    e = _Emit(node, helper, opset)
    e.op("Clip", [_x(node), e.const(0.0, hint="min"), e.const(6.0, hint="max")], _out(node))
    return e.done()


@lowering("caffe.Swish")
def swish(node, helper, opset):
    """x * sigmoid(beta * x)."""
    e = _Emit(node, helper, opset)
    beta = float(node.attrs.get("beta", 1.0))
    x = _x(node)
    z = x if beta == 1.0 else e.op("Mul", [x, e.const(beta)])
    e.op("Mul", [x, e.op("Sigmoid", [z])], _out(node))
    return e.done()


@lowering("caffe.Mish")
def mish(node, helper, opset):
    """x * tanh(softplus(x)) (ONNX's Mish needs opset 18)."""
    e = _Emit(node, helper, opset)
    x = _x(node)
    e.op("Mul", [x, e.op("Tanh", [e.op("Softplus", [x])])], _out(node))
    return e.done()


@lowering("caffe.Axpy")
def axpy(node, helper, opset):
    """a * x + y with a (N, C, 1, 1) broadcast over x (N, C, H, W)."""
    e = _Emit(node, helper, opset)
    e.op("Add", [e.op("Mul", [_x(node, 0), _x(node, 1)]), _x(node, 2)], _out(node))
    return e.done()


@lowering("caffe.GroupNorm")
def group_norm(node, helper, opset):
    """(x - mean) / sqrt(var + eps) over each group of C/G channels and all positions, then
    the per-channel scale and bias where the layer has them."""
    e = _Emit(node, helper, opset)
    n, c, *rest = _static(node, node.inputs[0], "input")
    g = int(node.attrs["num_groups"])
    y = e.op("Reshape", [_x(node), e.const([n, g, -1], "int64", "shape")])
    mean = e.reduce("ReduceMean", y, [2], 1)
    d = e.op("Sub", [y, mean])
    var = e.reduce("ReduceMean", e.op("Mul", [d, d]), [2], 1)
    eps = e.const(float(node.attrs.get("epsilon", 1e-5)))
    y = e.op("Div", [d, e.op("Sqrt", [e.op("Add", [var, eps])])])
    y = e.op("Reshape", [y, e.const([n, c, *rest], "int64", "shape")])
    if len(node.inputs) > 2 and node.inputs[1] is not None:
        rank = 2 + len(rest)
        y = e.op("Mul", [y, _broadcast(e, node.inputs[1].name, rank, 1, 1)])
        y = e.op("Add", [y, _broadcast(e, node.inputs[2].name, rank, 1, 1)])
    e.op("Identity", [y], _out(node))
    return e.done()
