"""More per-op handlers for the TensorFlow builder (convert/to_tf.py): indexing and scatter,
quantization, bit ops, signal windows and transforms, sampling, and the newer ONNX ops. Each
handler maps one ONNX op to TF ops with ONNX's semantics; to_tf imports this module so the
handlers register in its ``OPS`` table.

Inputs that only arrive when the graph runs (an axis, K, a size) are used as tensors, since
the module is a tf.function traced once for any input values.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError
from ..ir.shapes import norm_axis
from .to_tf import _a, _dims, _fix_indices, _has, _rank, _static, cast_to, onnx_tf_dtype, op


def _tf_dtype(tf, onnx_type: int, what: str):
    return onnx_tf_dtype(tf, onnx_type, what)


def _scalar(tf, node, ins, i, dtype=None):
    """Input ``i`` as a python number when known while building, else a scalar tensor."""
    value = _static(tf, node, ins, i)
    if value is not None:
        return np.asarray(value).reshape(-1)[0].item()
    t = tf.reshape(ins[i], [])
    return t if dtype is None else tf.cast(t, dtype)


def _on_axis(tf, node, x, axis, fn):
    """``fn(axis)`` for an axis known only at run time: one branch per possible axis."""
    if isinstance(axis, int):
        return fn(norm_axis(axis, _rank(node, x)))
    r = _rank(node, x)
    axis = tf.cast(axis, tf.int32)
    axis = tf.where(axis < 0, axis + r, axis)
    return tf.switch_case(axis, [(lambda a=a: fn(a)) for a in range(r)])


def _wide(tf, x):
    """Unsigned and small integers as int64 for arithmetic TF lacks kernels for."""
    return tf.cast(x, tf.int64) if x.dtype.is_integer and x.dtype != tf.int64 else x


# -- bits ------------------------------------------------------------------------------------
@op("BitShift")
def _bit_shift(tf, node, ins):
    # a shift outside [0, bit width) gives 0 (right shifts of negative numbers: -1)
    x, y = ins
    y = tf.cast(y, x.dtype)
    valid = tf.logical_and(y >= 0, y < x.dtype.size * 8)
    safe = tf.where(valid, y, tf.zeros_like(y))
    if node.attrs["direction"] == "LEFT":
        return tf.where(valid, tf.bitwise.left_shift(x, safe), tf.zeros_like(x))
    fill = tf.where(x < 0, -tf.ones_like(x), tf.zeros_like(x)) if not x.dtype.is_unsigned \
        else tf.zeros_like(x)
    return tf.where(valid, tf.bitwise.right_shift(x, safe), fill)


@op("BitCast")
def _bit_cast(tf, node, ins):
    x = ins[0]
    to = _tf_dtype(tf, node.attrs["to"], "BitCast")
    if to.size != x.dtype.size:
        raise UnsupportedError("BitCast between types of different sizes")
    if to == x.dtype:
        return tf.identity(x)
    if tf.bool in (to, x.dtype):  # tf.bitcast has no bool: go through uint8
        mid = tf.cast(x, tf.uint8) if x.dtype == tf.bool else tf.bitcast(x, tf.uint8)
        return tf.cast(mid, tf.bool) if to == tf.bool else tf.bitcast(mid, to)
    return tf.bitcast(x, to)


# -- cumulative ------------------------------------------------------------------------------
@op("CumSum", "CumProd")
def _cumulative(tf, node, ins):
    x = ins[0]
    fn = tf.math.cumsum if node.op == "CumSum" else tf.math.cumprod
    exclusive, reverse = bool(_a(node, "exclusive", 0)), bool(_a(node, "reverse", 0))
    axis = _scalar(tf, node, ins, 1)
    w = _wide(tf, x) if x.dtype.is_unsigned else x
    return tf.cast(_on_axis(tf, node, w, axis, lambda a: fn(w, axis=a, exclusive=exclusive,
                                                             reverse=reverse)), x.dtype)


# -- gather / scatter ------------------------------------------------------------------------
@op("GatherND")
def _gather_nd(tf, node, ins):
    x, idx = ins
    b = int(_a(node, "batch_dims", 0))
    k = idx.shape[-1]
    if k is None:
        raise UnsupportedError("GatherND needs a static index depth")
    dims = tf.shape(x, out_type=tf.int64)[b:b + k]
    return tf.gather_nd(x, _fix_indices(tf, idx, dims), batch_dims=b)


def _scatter_nd_into(tf, x, idx, upd, reduction):
    """x with updates at the full-index positions ``idx`` ([n, k]), combined by
    ``reduction``; with 'none' later updates of one position win, as in ONNX's reference."""
    fns = {"none": tf.tensor_scatter_nd_update, "add": tf.tensor_scatter_nd_add,
           "max": tf.tensor_scatter_nd_max, "min": tf.tensor_scatter_nd_min}
    if reduction == "mul":  # no scatter-multiply in TF: multiply one update at a time
        n = idx.shape[0]
        if n is None:
            raise UnsupportedError("Scatter with reduction 'mul' needs a static update count")
        for i in range(n):
            cur = tf.gather_nd(x, idx[i:i + 1])
            x = tf.tensor_scatter_nd_update(x, idx[i:i + 1], cur * upd[i:i + 1])
        return x
    if reduction not in fns:
        raise UnsupportedError(f"Scatter reduction '{reduction}'")
    return fns[reduction](x, idx, upd)


@op("ScatterND")
def _scatter_nd(tf, node, ins):
    x, idx, upd = ins
    k = idx.shape[-1]
    if k is None:
        raise UnsupportedError("ScatterND needs a static index depth")
    idx = _fix_indices(tf, idx, tf.shape(x, out_type=tf.int64)[:k])
    flat_idx = tf.reshape(idx, [-1, k])
    flat_upd = tf.reshape(upd, tf.concat([[-1], tf.shape(x)[k:]], 0))
    return _scatter_nd_into(tf, x, flat_idx, flat_upd, _a(node, "reduction", "none"))


@op("ScatterElements", "Scatter")
def _scatter_elements(tf, node, ins):
    x, idx, upd = ins
    r = _rank(node, x)
    axis = norm_axis(int(_a(node, "axis", 0)), r)
    idx = _fix_indices(tf, idx, tf.shape(x, out_type=tf.int64)[axis])
    # the full index of every update: its own position, with the axis coordinate replaced
    grids = tf.meshgrid(*[tf.range(d) for d in tf.unstack(tf.shape(idx, out_type=tf.int64))],
                        indexing="ij") if r > 1 else [idx]
    coords = [idx if a == axis else grids[a] for a in range(r)]
    full = tf.reshape(tf.stack(coords, -1), [-1, r])
    return _scatter_nd_into(tf, x, full, tf.reshape(upd, [-1]), _a(node, "reduction", "none"))


@op("TensorScatter")
def _tensor_scatter(tf, node, ins):
    past, update = ins[0], ins[1]
    r = _rank(node, past)
    axis = norm_axis(int(_a(node, "axis", -2)), r)
    size = tf.shape(past, out_type=tf.int64)[axis]
    batch = tf.shape(past, out_type=tf.int64)[0]
    steps = tf.shape(update, out_type=tf.int64)[axis]
    start = tf.zeros([batch], tf.int64) if not _has(ins, 2) else tf.cast(
        tf.reshape(ins[2], [-1]), tf.int64)
    pos = start[:, None] + tf.range(steps)[None, :]  # [batch, steps]
    if _a(node, "mode", "linear") == "circular":
        pos = pos % size
    # move the axis next to the batch, write rows [b, pos], move it back
    perm = [0, axis] + [a for a in range(1, r) if a != axis]
    back = np.argsort(perm).tolist()
    p, u = tf.transpose(past, perm), tf.transpose(update, perm)
    b = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(pos, out_type=tf.int64))
    idx = tf.reshape(tf.stack([b, pos], -1), [-1, 2])
    rows = tf.reshape(u, tf.concat([[-1], tf.shape(u)[2:]], 0))
    return tf.transpose(tf.tensor_scatter_nd_update(p, idx, rows), back)


@op("OneHot")
def _one_hot(tf, node, ins):
    idx, depth, values = ins
    depth = tf.cast(tf.reshape(depth, []), tf.int64)
    idx = tf.cast(idx, tf.int64)
    idx = tf.where(idx < 0, idx + depth, idx)
    axis = norm_axis(int(_a(node, "axis", -1)), _rank(node, idx) + 1)
    return tf.one_hot(idx, tf.cast(depth, tf.int32), on_value=values[1],
                      off_value=values[0], axis=axis, dtype=values.dtype)


@op("NonZero")
def _non_zero(tf, node, ins):
    return tf.transpose(tf.where(tf.cast(ins[0], tf.bool)))


@op("Compress")
def _compress(tf, node, ins):
    x, cond = ins
    keep = tf.reshape(tf.where(tf.cast(cond, tf.bool)), [-1])
    axis = node.attrs.get("axis")
    if axis is None:
        return tf.gather(tf.reshape(x, [-1]), keep)
    return tf.gather(x, keep, axis=norm_axis(int(axis), _rank(node, x)))


@op("ReverseSequence")
def _reverse_sequence(tf, node, ins):
    return tf.reverse_sequence(ins[0], tf.cast(ins[1], tf.int64),
                               seq_axis=int(_a(node, "time_axis", 0)),
                               batch_axis=int(_a(node, "batch_axis", 1)))


@op("EyeLike")
def _eye_like(tf, node, ins):
    x = ins[0]
    dtype = x.dtype if node.attrs.get("dtype") is None else \
        _tf_dtype(tf, node.attrs["dtype"], "EyeLike")
    rows, cols = tf.unstack(tf.shape(x, out_type=tf.int64))
    k = int(_a(node, "k", 0))
    hit = tf.range(cols)[None, :] - tf.range(rows)[:, None] == k
    return tf.cast(hit, dtype)


@op("Unique")
def _unique(tf, node, ins):
    """Sorted (or first-seen) unique values, their first indices, the inverse, counts."""
    x = ins[0]
    axis = node.attrs.get("axis")
    if axis is None:
        rows = tf.reshape(x, [-1])
        keys = rows
    else:
        axis = norm_axis(int(axis), _rank(node, x))
        rows = tf.experimental.numpy.moveaxis(x, axis, 0)
        keys = tf.reshape(rows, [tf.shape(rows)[0], -1])
    n = tf.shape(keys, out_type=tf.int64)[0]
    if axis is None:
        first_vals, inverse = tf.unique(keys, out_idx=tf.int64)
    else:  # rows as keys: compare every row with every row
        same = tf.reduce_all(tf.equal(keys[:, None], keys[None, :]), axis=-1)
        first_of = tf.argmax(tf.cast(same, tf.int64), axis=1)  # each row's first equal row
        is_first = tf.equal(first_of, tf.range(n))
        firsts = tf.reshape(tf.where(is_first), [-1])
        inverse = tf.argmax(tf.cast(tf.equal(first_of[:, None], firsts[None, :]), tf.int64),
                            axis=1)
        first_vals = tf.gather(keys, firsts)
    m = tf.shape(first_vals, out_type=tf.int64)[0]
    first = tf.math.unsorted_segment_min(tf.range(n), inverse, m)
    counts = tf.math.unsorted_segment_sum(tf.ones([n], tf.int64), inverse, m)
    order = tf.range(m)  # first-seen order
    if _a(node, "sorted", 1):
        order = _lex_order(tf, first_vals)
    remap = tf.math.invert_permutation(order)
    values = tf.gather(first_vals, order)
    if axis is not None:
        shape = tf.concat([[m], tf.shape(rows)[1:]], 0)
        values = tf.experimental.numpy.moveaxis(tf.reshape(values, shape), 0, axis)
    outs = [values, tf.gather(first, order), tf.gather(remap, inverse), tf.gather(counts, order)]
    outs = outs[:1] + [tf.cast(t, tf.int64) for t in outs[1:]]
    return outs[:len(node.outputs)]


def _lex_order(tf, keys):
    """The permutation sorting ``keys`` (1-D values, or rows compared left to right)."""
    if keys.shape.rank == 1:
        return tf.argsort(keys, stable=True)
    order = tf.range(tf.shape(keys)[0])
    for j in reversed(range(keys.shape[1])):  # stable sorts from the last column back
        col = tf.gather(keys[:, j], order)
        order = tf.gather(order, tf.argsort(col, stable=True))
    return tf.cast(order, tf.int64)


# -- elementwise -----------------------------------------------------------------------------
@op("Shrink")
def _shrink(tf, node, ins):
    x = ins[0]
    bias, lambd = float(_a(node, "bias", 0.0)), float(_a(node, "lambd", 0.5))
    xf = tf.cast(x, tf.float64)
    y = tf.where(xf < -lambd, xf + bias, tf.where(xf > lambd, xf - bias, tf.zeros_like(xf)))
    return tf.cast(y, x.dtype)


@op("SwiGLU")
def _swiglu(tf, node, ins):
    a, b = ins[0], ins[1]  # a * sigmoid(alpha * a) * b
    return a * tf.math.sigmoid(float(_a(node, "alpha", 1.0)) * a) * b


# -- normalization ---------------------------------------------------------------------------
@op("GroupNormalization")
def _group_norm(tf, node, ins):
    x, scale, bias = ins[:3]
    groups = int(node.attrs["num_groups"])
    r = _rank(node, x)
    dims = _dims(tf, x)
    c = dims[1]
    xs = tf.cast(x, tf.float32) if _a(node, "stash_type", 1) == 1 and x.dtype != tf.float64 \
        else x
    g = tf.reshape(xs, tf.stack([tf.cast(dims[0], tf.int64), groups, -1]))
    mean, var = tf.nn.moments(g, axes=[2], keepdims=True)
    y = (g - mean) / tf.sqrt(var + float(_a(node, "epsilon", 1e-5)))
    y = tf.cast(tf.reshape(y, tf.shape(x)), x.dtype)
    if scale.shape[0] is not None and isinstance(c, int) and scale.shape[0] != c:
        scale, bias = tf.repeat(scale, c // groups), tf.repeat(bias, c // groups)  # opset 18
    shape = [1, -1] + [1] * (r - 2)
    return y * tf.reshape(scale, shape) + tf.reshape(bias, shape)


@op("MeanVarianceNormalization")
def _mvn(tf, node, ins):
    x = ins[0]
    axes = [int(a) for a in node.attrs.get("axes", (0, 2, 3))]
    mean = tf.reduce_mean(x, axis=axes, keepdims=True)
    var = tf.reduce_mean(tf.square(x - mean), axis=axes, keepdims=True)
    return (x - mean) / tf.sqrt(var + 1e-9)


@op("LpNormalization")
def _lp_norm(tf, node, ins):
    x = ins[0]
    axis = int(_a(node, "axis", -1))
    p = int(_a(node, "p", 2))
    norm = tf.reduce_sum(tf.abs(x), axis, keepdims=True) if p == 1 else \
        tf.sqrt(tf.reduce_sum(x * x, axis, keepdims=True))
    return tf.where(norm == 0, tf.zeros_like(x), x / tf.where(norm == 0, tf.ones_like(norm),
                                                              norm))


# -- quantization ----------------------------------------------------------------------------
def _per_axis(tf, node, param, x, axis, block):
    """A scale / zero point shaped to broadcast against x: scalar, per axis, or blocked."""
    if param.shape.rank == 0 or (param.shape.num_elements() == 1 and not block):
        return tf.reshape(param, [])
    r = _rank(node, x)
    axis = norm_axis(axis, r)
    if block:
        return tf.gather(param, tf.range(tf.shape(x)[axis]) // block, axis=axis)
    shape = [1] * r
    shape[axis] = -1
    return tf.reshape(param, shape)


_INT_RANGES = {"uint8": (0, 255), "int8": (-128, 127), "uint16": (0, 65535),
               "int16": (-32768, 32767), "int32": (-2 ** 31, 2 ** 31 - 1)}


@op("QuantizeLinear")
def _quantize(tf, node, ins):
    x, scale = ins[0], ins[1]
    axis, block = int(_a(node, "axis", 1)), int(_a(node, "block_size", 0))
    if _has(ins, 2):
        dtype = ins[2].dtype
    elif node.attrs.get("output_dtype"):
        dtype = _tf_dtype(tf, node.attrs["output_dtype"], "QuantizeLinear")
    else:
        dtype = tf.uint8
    s = tf.cast(_per_axis(tf, node, scale, x, axis, block), tf.float32)
    if "float8" in dtype.name:  # x / scale + zero point, cast (saturating by default)
        q = tf.cast(x, tf.float32) / s
        if _has(ins, 2):
            q = q + tf.cast(_per_axis(tf, node, ins[2], x, axis, block), tf.float32)
        return cast_to(tf, q, dtype, bool(_a(node, "saturate", 1)))
    if dtype.name not in _INT_RANGES:
        raise UnsupportedError(f"QuantizeLinear to {dtype.name}")
    q = tf.round(tf.cast(x, tf.float32) / s)  # half to even, as ONNX
    if _has(ins, 2):
        q = q + tf.cast(_per_axis(tf, node, ins[2], x, axis, block), tf.float32)
    lo, hi = _INT_RANGES[dtype.name]
    return tf.cast(tf.clip_by_value(q, lo, hi), dtype)


@op("DequantizeLinear")
def _dequantize(tf, node, ins):
    x, scale = ins[0], ins[1]
    axis, block = int(_a(node, "axis", 1)), int(_a(node, "block_size", 0))
    xf = tf.cast(x, tf.float32)
    if _has(ins, 2):
        xf = xf - tf.cast(_per_axis(tf, node, ins[2], x, axis, block), tf.float32)
    y = xf * tf.cast(_per_axis(tf, node, scale, x, axis, block), tf.float32)
    out = _tf_dtype(tf, node.attrs["output_dtype"], "DequantizeLinear") \
        if node.attrs.get("output_dtype") else scale.dtype
    return tf.cast(y, out)


@op("DynamicQuantizeLinear")
def _dynamic_quantize(tf, node, ins):
    x = ins[0]
    lo = tf.minimum(tf.reduce_min(x), 0.0)
    hi = tf.maximum(tf.reduce_max(x), 0.0)
    scale = (hi - lo) / 255.0
    zp = tf.clip_by_value(tf.round(0 - lo / scale), 0, 255)
    y = tf.clip_by_value(tf.round(x / scale) + zp, 0, 255)
    return [tf.cast(y, tf.uint8), tf.cast(scale, tf.float32), tf.cast(zp, tf.uint8)]


def _centered(tf, node, x, zero, axis=None):
    """(x - zero point) as float64; ``axis`` places a per-channel zero point."""
    xf = tf.cast(x, tf.float64)
    if zero is None:
        return xf
    z = tf.cast(zero, tf.float64)
    if axis is not None and z.shape.rank == 1 and z.shape[0] != 1:
        shape = [1] * _rank(node, x)
        shape[axis] = -1
        z = tf.reshape(z, shape)
    return xf - tf.reshape(z, []) if z.shape.num_elements() == 1 else xf - z


def _matmul64(tf, a, b):
    from .to_tf import OPS
    return OPS["MatMul"](tf, None, [a, b])


@op("MatMulInteger")
def _matmul_integer(tf, node, ins):
    a = _centered(tf, node, ins[0], ins[2] if _has(ins, 2) else None)
    b = _centered(tf, node, ins[1], ins[3] if _has(ins, 3) else None, axis=-1)
    return tf.cast(_matmul64(tf, a, b), tf.int32)


def _requantize(tf, y, y_scale, y_zero):
    y = tf.round(y / tf.cast(y_scale, tf.float64)) + tf.cast(y_zero, tf.float64)
    lo, hi = _INT_RANGES[y_zero.dtype.name]
    return tf.cast(tf.clip_by_value(y, lo, hi), y_zero.dtype)


@op("QLinearMatMul")
def _qlinear_matmul(tf, node, ins):
    a_, a_scale, a_zero, b_, b_scale, b_zero, y_scale, y_zero = ins
    a = _centered(tf, node, a_, a_zero) * tf.cast(a_scale, tf.float64)
    b = _centered(tf, node, b_, b_zero, axis=-1) * tf.cast(b_scale, tf.float64)
    return _requantize(tf, _matmul64(tf, a, b), y_scale, y_zero)


def _conv64(tf, node, x, w, bias):
    """ONNX Conv in float64 (exact for integer convolutions)."""
    from .to_tf import OPS
    return OPS["Conv"](tf, node, [x, w] + ([bias] if bias is not None else []))


@op("ConvInteger")
def _conv_integer(tf, node, ins):
    x = _centered(tf, node, ins[0], ins[2] if _has(ins, 2) else None)
    w = _centered(tf, node, ins[1], ins[3] if _has(ins, 3) else None, axis=0)
    return tf.cast(tf.round(_conv64(tf, node, x, w, None)), tf.int32)


@op("QLinearConv")
def _qlinear_conv(tf, node, ins):
    x_, x_scale, x_zero, w_, w_scale, w_zero, y_scale, y_zero = ins[:8]
    x = _centered(tf, node, x_, x_zero) * tf.cast(x_scale, tf.float64)
    ws = tf.cast(w_scale, tf.float64)
    if ws.shape.rank == 1 and ws.shape[0] != 1:
        ws = tf.reshape(ws, [-1] + [1] * (_rank(node, w_) - 1))
    w = _centered(tf, node, w_, w_zero, axis=0) * ws
    bias = None
    if _has(ins, 8):
        bias = tf.cast(ins[8], tf.float64) * tf.reshape(
            tf.cast(x_scale, tf.float64) * tf.cast(w_scale, tf.float64), [-1])
    return _requantize(tf, _conv64(tf, node, x, w, bias), y_scale, y_zero)


# -- random ----------------------------------------------------------------------------------
def _random_dtype(tf, node, like, default=1):
    if node.attrs.get("dtype") is not None:
        return _tf_dtype(tf, node.attrs["dtype"], node.op)
    return like.dtype if like is not None else _tf_dtype(tf, default, node.op)


@op("Bernoulli")
def _bernoulli(tf, node, ins):
    x = ins[0]
    u = tf.random.uniform(tf.shape(x), dtype=tf.float64)
    return tf.cast(u < tf.cast(x, tf.float64), _random_dtype(tf, node, x))


@op("RandomUniformLike", "RandomNormalLike", "RandomUniform", "RandomNormal")
def _random(tf, node, ins):
    like = ins[0] if ins and ins[0] is not None else None
    shape = tf.shape(like) if like is not None else [int(d) for d in node.attrs["shape"]]
    if "Uniform" in node.op:
        lo, hi = float(_a(node, "low", 0.0)), float(_a(node, "high", 1.0))
        y = tf.random.uniform(shape, lo, hi, dtype=tf.float64)
    else:
        y = tf.random.normal(shape, float(_a(node, "mean", 0.0)), float(_a(node, "scale", 1.0)),
                             dtype=tf.float64)
    return tf.cast(y, _random_dtype(tf, node, like))


# -- signal ----------------------------------------------------------------------------------
@op("HannWindow", "HammingWindow", "BlackmanWindow")
def _window(tf, node, ins):
    n = tf.cast(tf.reshape(ins[0], []), tf.int64)
    denom = tf.cast(n if _a(node, "periodic", 1) else n - 1, tf.float64)
    k = tf.cast(tf.range(n), tf.float64)
    c1 = tf.cos(2 * np.pi * k / denom)
    if node.op == "HannWindow":
        y = 0.5 - 0.5 * c1
    elif node.op == "HammingWindow":
        a0 = 25.0 / 46.0
        y = a0 - (1 - a0) * c1
    else:
        y = 0.42 - 0.5 * c1 + 0.08 * tf.cos(4 * np.pi * k / denom)
    return tf.cast(y, _tf_dtype(tf, _a(node, "output_datatype", 1), node.op))


@op("DFT")
def _dft(tf, node, ins):
    """DFT along an axis of a [..., 1 or 2] (real or real/imaginary) signal."""
    x = ins[0]
    r = _rank(node, x)
    axis = _scalar(tf, node, ins, 2) if _has(ins, 2) else int(_a(node, "axis", 1))
    if isinstance(axis, int):
        return _dft_on(tf, node, ins, x, r, norm_axis(axis, r))
    axis = tf.cast(axis, tf.int32)  # one branch per signal axis
    axis = tf.where(axis < 0, axis + r, axis)
    return tf.switch_case(axis, [(lambda a=a: _dft_on(tf, node, ins, x, r, a))
                                 for a in range(r - 1)])


def _dft_on(tf, node, ins, x, r, axis):
    # as numpy's FFT (ONNX's reference) computes it: a real signal in float64, a complex one
    # in its own precision (complex64 for float32)
    double = x.dtype == tf.float64 or x.shape[-1] == 1
    wide = tf.cast(x, tf.float64 if double else tf.float32)
    signal = tf.complex(wide[..., 0], wide[..., 1] if x.shape[-1] == 2
                        else tf.zeros_like(wide[..., 0]))
    inverse, onesided = bool(_a(node, "inverse", 0)), bool(_a(node, "onesided", 0))
    perm = list(range(r - 1))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    s = tf.transpose(signal, perm)  # the transformed axis last
    n = _scalar(tf, node, ins, 1) if _has(ins, 1) else None
    length = tf.shape(s, out_type=tf.int64)[-1]
    if inverse and onesided:  # a one-sided spectrum -> a real signal
        n = 2 * (length - 1) if n is None else tf.cast(n, tf.int64)
        y = tf.signal.irfft(s, tf.reshape(tf.cast(n, tf.int32), [1]))
        return tf.cast(tf.expand_dims(tf.transpose(y, perm), -1), x.dtype)
    if n is not None:  # zero-pad or truncate to dft_length
        n = tf.cast(n, tf.int64)
        s = s[..., :n]
        pad = tf.maximum(n - length, 0)
        s = tf.pad(s, tf.concat([tf.zeros([r - 2, 2], tf.int64), [[0, pad]]], 0))
    y = tf.signal.ifft(s) if inverse else tf.signal.fft(s)
    if onesided:
        y = y[..., :tf.shape(y)[-1] // 2 + 1]
    y = tf.transpose(y, perm)
    return tf.cast(tf.stack([tf.math.real(y), tf.math.imag(y)], -1), x.dtype)


# -- shapes of tensors -----------------------------------------------------------------------
@op("CenterCropPad")
def _center_crop_pad(tf, node, ins):
    x = ins[0]
    r = _rank(node, x)
    axes = [norm_axis(int(a), r) for a in node.attrs.get("axes", range(r))]
    want = tf.cast(tf.reshape(ins[1], [-1]), tf.int64)
    for j, a in enumerate(axes):
        have = tf.shape(x, out_type=tf.int64)[a]
        size = want[j]
        crop = tf.maximum(have - size, 0)
        begin = [0] * r
        begin[a] = crop // 2
        extent = [-1] * r
        extent[a] = tf.minimum(have, size)
        x = tf.slice(x, tf.stack([tf.cast(b, tf.int64) for b in begin]),
                     tf.stack([tf.cast(e, tf.int64) for e in extent]))
        grow = tf.maximum(size - have, 0)
        pads = [[0, 0]] * r
        pads[a] = [grow // 2, grow - grow // 2]
        x = tf.pad(x, tf.stack([tf.stack([tf.cast(p, tf.int64) for p in pr]) for pr in pads]))
    return x


# -- recognition and sampling -----------------------------------------------------------------
@op("RotaryEmbedding")
def _rotary(tf, node, ins):
    x, cos_cache, sin_cache = ins[:3]
    three_d = _rank(node, x) == 3
    heads = int(_a(node, "num_heads", 0))
    if three_d:  # [batch, seq, heads * size] -> [batch, seq, heads, size]
        b, s, _ = _dims(tf, x)
        x = tf.reshape(x, tf.stack([tf.cast(b, tf.int64), tf.cast(s, tf.int64), heads, -1]))
    else:  # [batch, heads, seq, size] -> [batch, seq, heads, size]
        x = tf.transpose(x, [0, 2, 1, 3])
    if _has(ins, 3):
        pos = tf.cast(ins[3], tf.int64)
        cos_cache, sin_cache = tf.gather(cos_cache, pos), tf.gather(sin_cache, pos)
    dim = int(_a(node, "rotary_embedding_dim", 0)) or x.shape[-1]
    if dim is None:
        raise UnsupportedError("RotaryEmbedding needs a static head size")
    rot, rest = x[..., :dim], x[..., dim:]
    half = dim // 2
    cos = tf.expand_dims(cos_cache[..., :half], 2)
    sin = tf.expand_dims(sin_cache[..., :half], 2)
    interleaved = bool(_a(node, "interleaved", 0))
    a, b_ = (rot[..., 0::2], rot[..., 1::2]) if interleaved else (rot[..., :half],
                                                                  rot[..., half:])
    ra, rb = a * cos - b_ * sin, b_ * cos + a * sin
    rot = tf.reshape(tf.stack([ra, rb], -1), tf.shape(rot)) if interleaved else \
        tf.concat([ra, rb], -1)
    y = tf.concat([rot, rest], -1)
    if three_d:
        return tf.reshape(y, tf.concat([tf.shape(y)[:2], [-1]], 0))
    return tf.transpose(y, [0, 2, 1, 3])


@op("GridSample")
def _grid_sample(tf, node, ins):
    """Sample x [N, C, *D] at grid [N, *O, n] (normalised coordinates, innermost spatial axis
    first), as ONNX's reference: nearest (half to even), linear or cubic taps per axis,
    padding zeros / border / reflection, corners aligned or not."""
    x, grid = ins
    nd = _rank(node, x) - 2
    mode = _a(node, "mode", "linear")
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    padding = _a(node, "padding_mode", "zeros")
    align = bool(_a(node, "align_corners", 0))
    dims = [tf.cast(d, tf.float32) for d in tf.unstack(tf.shape(x)[2:], num=nd)]
    dims_i = tf.unstack(tf.shape(x, out_type=tf.int64)[2:], num=nd)
    g = tf.cast(grid, tf.float32)
    coords, lows, highs = [], [], []
    for i in range(nd):
        v, d = g[..., nd - 1 - i], dims[i]
        v = (v + 1) / 2 * (d - 1) if align else ((v + 1) * d - 1) / 2
        lo, hi = (0.0, d - 1) if align else (-0.5, d - 0.5)
        if mode == "nearest":
            v = tf.round(v)  # half to even
        outside = (v < lo) | (v > hi)
        if padding == "border":
            v = tf.where(outside, tf.clip_by_value(v, 0.0, d - 1), v)
        elif padding == "reflection":
            v = tf.where(outside, _reflect(tf, v, lo, hi), v)
        coords.append(v)
        lows.append(lo)
        highs.append(hi)
    if mode == "nearest":
        taps = [[(tf.cast(c, tf.int64), None)] for c in coords]
    elif mode in ("linear", "cubic"):
        taps = []
        for c in coords:
            base = tf.floor(c)
            t = c - base
            b = tf.cast(base, tf.int64)
            if mode == "linear":
                taps.append([(b, 1 - t), (b + 1, t)])
            else:
                w = _keys_cubic(t)
                taps.append([(b + k - 1, w[k]) for k in range(4)])
    else:
        raise UnsupportedError(f"GridSample mode '{mode}'")
    n, c = tf.shape(x)[0], tf.shape(x)[1]
    flat_x = tf.reshape(x, tf.stack([n, c, -1]))
    out_shape = tf.shape(grid)[1:-1]
    y = None
    for combo in _product(taps):
        flat = tf.zeros([], tf.int64)
        weight = None
        valid = None
        for i, (idx, w) in enumerate(combo):
            d = dims_i[i]
            if padding == "zeros":
                ok = (idx >= 0) & (idx < d)
                valid = ok if valid is None else valid & ok
                idx = tf.clip_by_value(idx, 0, d - 1)
            elif padding == "border":
                idx = tf.clip_by_value(idx, 0, d - 1)
            else:
                idx = tf.cast(_reflect(tf, tf.cast(idx, tf.float32), lows[i], highs[i]),
                              tf.int64)
                idx = tf.clip_by_value(idx, 0, d - 1)
            flat = flat * d + idx
            if w is not None:
                weight = w if weight is None else weight * w
        vals = tf.gather(flat_x, tf.reshape(flat, tf.stack([n, -1])), axis=2, batch_dims=1)
        scale = tf.ones_like(flat, tf.float32) if weight is None else weight
        if valid is not None:
            scale = tf.where(valid, scale, tf.zeros_like(scale))
        term = vals * tf.cast(tf.reshape(scale, tf.stack([n, 1, -1])), x.dtype)
        y = term if y is None else y + term
    return tf.reshape(y, tf.concat([tf.stack([n, c]), out_shape], 0))


def _product(lists):
    out = [[]]
    for options in lists:
        out = [prev + [o] for prev in out for o in options]
    return out


def _reflect(tf, v, lo, hi):
    """Reflect v by the nearer border until it lies within [lo, hi]."""
    rng = hi - lo
    below, above = lo - v, v - hi
    dx = tf.where(v < lo, below, above)
    k = tf.floor(dx / rng)
    rem = dx - k * rng
    even = tf.equal(tf.math.floormod(k, 2.0), 0.0)
    low_side = tf.where(even, lo + rem, hi - rem)
    high_side = tf.where(even, hi - rem, lo + rem)
    return tf.where(v < lo, low_side, tf.where(v > hi, high_side, v))


def _keys_cubic(t, a=-0.75):
    """The four cubic-convolution weights for taps at -1, 0, 1, 2 from fraction t."""
    return [((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
            ((a + 2) * t - (a + 3)) * t * t + 1,
            ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
            ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a]


@op("AffineGrid")
def _affine_grid(tf, node, ins):
    """Normalised sampling coordinates [N, *size, n] of theta [N, n, n+1] applied to the
    base grid (innermost axis first; corners aligned or cell centres)."""
    theta, size = ins
    nd = theta.shape[1]
    if nd is None:
        raise UnsupportedError("AffineGrid needs a static theta shape")
    size = tf.cast(tf.reshape(size, [-1]), tf.int64)
    spatial = [size[2 + i] for i in range(nd)]
    align = bool(_a(node, "align_corners", 0))
    axes = []
    for d in spatial:
        step = tf.cast(tf.range(d), theta.dtype)
        df = tf.cast(d, theta.dtype)
        if align:
            v = tf.where(df > 1, -1 + 2 * step / tf.maximum(df - 1, 1), tf.zeros_like(step))
        else:
            v = (2 * step + 1) / df - 1
        axes.append(v)
    mesh = tf.meshgrid(*axes, indexing="ij")  # spatial order (z), y, x
    base = tf.stack(list(reversed(mesh)) + [tf.ones_like(mesh[0])], -1)  # x, y, (z), 1
    flat = tf.reshape(base, [-1, nd + 1])
    out = tf.einsum("pk,njk->npj", flat, theta)
    return tf.reshape(out, tf.concat([size[:1], tf.stack(spatial), [nd]], 0))


@op("NonMaxSuppression")
def _nms(tf, node, ins):
    """[selected, 3] rows (batch, class, box) per batch and class, in score order; a box is
    dropped when its score is at most score_threshold or its IOU with a kept box exceeds
    iou_threshold (TF's non_max_suppression uses the same strict comparisons)."""
    boxes, scores = ins[0], ins[1]
    nb, nc = boxes.shape[0], scores.shape[1]
    if nb is None or nc is None:
        raise UnsupportedError("NonMaxSuppression needs static batch and class counts")
    limit = tf.cast(tf.reshape(ins[2], []), tf.int32) if _has(ins, 2) else 0
    iou = tf.cast(tf.reshape(ins[3], []), tf.float32) if _has(ins, 3) else 0.0
    floor = tf.cast(tf.reshape(ins[4], []), tf.float32) if _has(ins, 4) else float("-inf")
    rows = []
    for b in range(nb):
        box = tf.cast(boxes[b], tf.float32)
        if _a(node, "center_point_box", 0):  # (x, y, w, h) -> (y1, x1, y2, x2)
            xy, wh = box[:, :2], box[:, 2:]
            box = tf.gather(tf.concat([xy - wh / 2, xy + wh / 2], 1), [1, 0, 3, 2], axis=1)
        for c in range(nc):
            keep = tf.image.non_max_suppression(box, tf.cast(scores[b, c], tf.float32), limit,
                                                iou, floor)
            keep = tf.cast(keep, tf.int64)
            fixed = tf.broadcast_to(tf.constant([[b, c]], tf.int64), tf.stack([tf.size(keep), 2]))
            rows.append(tf.concat([fixed, keep[:, None]], 1))
    return tf.concat(rows, 0)


@op("CausalConvWithState")
def _causal_conv(tf, node, ins):
    """Depthwise causal 1-D convolution over [B, C, L] with the last k-1 steps of the past
    (zeros without one) in front; outputs y (optionally SiLU) and the new state."""
    x, w = ins[0], ins[1]
    k = w.shape[2]
    if k is None:
        raise UnsupportedError("CausalConvWithState needs a static kernel size")
    if _has(ins, 3):
        past = ins[3]
    else:
        past = tf.zeros(tf.concat([tf.shape(x)[:2], [k - 1]], 0), x.dtype)
    padded = tf.concat([past, x], 2)
    length = tf.shape(x)[2]
    y = None
    for j in range(k):
        term = padded[:, :, j:j + length] * w[None, :, 0, j:j + 1]
        y = term if y is None else y + term
    if _has(ins, 2):
        y = y + ins[2][None, :, None]
    if _a(node, "activation", "none") in ("silu", "swish"):
        yf = tf.cast(y, tf.float32)
        y = tf.cast(yf * tf.math.sigmoid(yf), x.dtype)
    state = padded[:, :, tf.shape(padded)[2] - (k - 1):]
    return [y, state][:len(node.outputs)]


@op("LinearAttention")
def _linear_attention(tf, node, ins):
    """Recurrent linear attention over time (ONNX's reference): a [B, H_kv, d_k, d_v] state,
    decayed by exp(decay) when gated, delta-corrected by beta, read by each query."""
    q, k, v = ins[:3]
    hq, hkv = int(node.attrs["q_num_heads"]), int(node.attrs["kv_num_heads"])
    rule = _a(node, "update_rule", "gated_delta")
    gating, delta = rule in ("gated", "gated_delta"), rule in ("delta", "gated_delta")
    out_dtype = q.dtype

    def heads(t, h):  # [B, T, H*D] -> [T, B, H, D] (time first, for the scan)
        shape = tf.concat([tf.shape(t)[:2], [h, -1]], 0)
        return tf.transpose(tf.reshape(tf.cast(t, tf.float32), shape), [1, 0, 2, 3])
    q4, k4, v4 = heads(q, hq), heads(k, hkv), heads(v, hkv)
    d_k, d_v = q.shape[-1] // hq, v.shape[-1] // hkv
    b = tf.shape(q)[0]
    zeros_t = tf.zeros_like(k4[..., :1])
    g4 = heads(ins[4], hkv) if gating else zeros_t
    beta4 = heads(ins[5], ins[5].shape[-1]) if delta else zeros_t
    if _has(ins, 3):
        state_dtype = ins[3].dtype
        state0 = tf.cast(ins[3], tf.float32)
    else:
        state_dtype = out_dtype
        state0 = tf.zeros(tf.stack([b, hkv, d_k, d_v]), tf.float32)
    scale = node.attrs.get("scale")
    scale = 1.0 / np.sqrt(d_k) if not scale else float(scale)
    group = hq // hkv

    def step(carry, xs):
        state, _ = carry
        q_t, k_t, v_t, g_t, beta_t = xs
        if gating:
            state = state * tf.exp(g_t)[..., None]
        if delta:
            retrieved = tf.einsum("bhdm,bhd->bhm", state, k_t)
            v_t = beta_t * (v_t - retrieved)
        state = state + k_t[..., :, None] * v_t[..., None, :]
        read = tf.repeat(state, group, axis=1) if group > 1 else state
        return state, scale * tf.einsum("bhd,bhdm->bhm", q_t, read)

    out0 = tf.zeros(tf.stack([b, hq, d_v]), tf.float32)
    states, outs = tf.scan(step, (q4, k4, v4, g4, beta4), initializer=(state0, out0))
    y = tf.transpose(outs, [1, 0, 2, 3])  # [B, T, H_q, d_v]
    y = tf.reshape(y, tf.concat([tf.shape(y)[:2], [hq * d_v]], 0))
    return [tf.cast(y, out_dtype), tf.cast(states[-1], state_dtype)][:len(node.outputs)]


@op("ai.onnx.preview.FlexAttention")
def _flex_attention(tf, node, ins):
    """softmax(score_mod(Q K^T * scale)) then prob_mod, times V (ONNX's preview op); the
    mods are subgraphs walked like If branches; float16 scores are computed in float32."""
    from .to_tf import _call_graph
    q, k, v = ins[:3]
    hq, hkv = q.shape[1], k.shape[1]
    if hq is None or hkv is None or q.shape[3] is None:
        raise UnsupportedError("FlexAttention needs static head counts and sizes")
    if hq != hkv:
        k, v = tf.repeat(k, hq // hkv, axis=1), tf.repeat(v, hq // hkv, axis=1)
    scale = node.attrs.get("scale")
    scale = 1.0 / np.sqrt(q.shape[3]) if scale is None else float(scale)
    root = tf.cast(np.sqrt(np.float32(scale)), q.dtype)
    scores = tf.matmul(q * root, k * root, transpose_b=True)
    precision = node.attrs.get("softmax_precision")
    if precision is not None:
        compute = _tf_dtype(tf, precision, "FlexAttention")
    else:
        compute = tf.float32 if q.dtype.size < 4 else q.dtype
    scores = tf.cast(scores, compute)
    if "score_mod" in node.subgraphs:
        scores = tf.cast(_call_graph(tf, node.subgraphs["score_mod"], [scores])[0], compute)
    e = tf.exp(scores - tf.reduce_max(scores, -1, keepdims=True))
    probs = e / tf.reduce_sum(e, -1, keepdims=True)
    if "prob_mod" in node.subgraphs:
        probs = tf.cast(_call_graph(tf, node.subgraphs["prob_mod"], [probs])[0], compute)
    return tf.cast(tf.matmul(probs, tf.cast(v, compute)), v.dtype)


@op("Col2Im")
def _col2im(tf, node, ins):
    """Columns [N, C * prod(block), L] added back into an image [N, C, *image_shape]: each
    column entry goes to its (strided, dilated, padded) position; entries in padding drop."""
    x = ins[0]
    size = tf.cast(tf.reshape(ins[1], [-1]), tf.int64)
    block = tf.cast(tf.reshape(ins[2], [-1]), tf.int64)
    n = ins[2].shape.num_elements()
    if n is None:
        raise UnsupportedError("Col2Im needs a block_shape of known length")
    dil = [int(d) for d in node.attrs.get("dilations") or [1] * n]
    strides = [int(s) for s in node.attrs.get("strides") or [1] * n]
    pads = [int(p) for p in node.attrs.get("pads") or [0] * (2 * n)]
    counts = [(size[i] + pads[i] + pads[i + n] - dil[i] * (block[i] - 1) - 1) // strides[i] + 1
              for i in range(n)]
    offsets = [tf.reshape(t, [-1, 1]) for t in
               tf.meshgrid(*[tf.range(block[i]) for i in range(n)], indexing="ij")]
    places = [tf.reshape(t, [1, -1]) for t in
              tf.meshgrid(*[tf.range(c) for c in counts], indexing="ij")]
    flat, valid = tf.zeros([], tf.int64), None
    for i in range(n):
        at = places[i] * strides[i] - pads[i] + offsets[i] * dil[i]
        ok = (at >= 0) & (at < size[i])
        valid = ok if valid is None else valid & ok
        flat = flat * size[i] + at
    total = tf.reduce_prod(size)
    flat = tf.reshape(tf.where(valid, flat, total), [-1])  # invalid -> a dropped slot
    batch = tf.shape(x, out_type=tf.int64)[0]
    cols = tf.reshape(x, tf.stack([batch, -1, tf.size(flat, out_type=tf.int64)]))
    summed = tf.math.unsorted_segment_sum(tf.transpose(cols, [2, 0, 1]), flat, total + 1)
    img = tf.transpose(summed[:-1], [1, 2, 0])
    return tf.reshape(img, tf.concat([tf.shape(img, out_type=tf.int64)[:2], size], 0))


@op("MaxUnpool")
def _max_unpool(tf, node, ins):
    """Values scattered to their MaxPool indices (flat over the whole output) in zeros; a
    given output_shape holds that result at its origin."""
    x, idx = ins[0], ins[1]
    kernel = [int(k) for k in node.attrs["kernel_shape"]]
    n = len(kernel)
    strides = [int(s) for s in node.attrs.get("strides") or [1] * n]
    pads = [int(p) for p in node.attrs.get("pads") or [0] * (2 * n)]
    dims = tf.unstack(tf.shape(x, out_type=tf.int64), num=n + 2)
    shape = dims[:2] + [(dims[2 + i] - 1) * strides[i] + kernel[i] - pads[i] - pads[i + n]
                        for i in range(n)]
    total = _product_of(shape)
    out = tf.scatter_nd(tf.reshape(tf.cast(idx, tf.int64), [-1, 1]), tf.reshape(x, [-1]),
                        tf.reshape(total, [1]))
    out = tf.reshape(out, tf.stack(shape))
    if not _has(ins, 2):
        return out
    want = tf.cast(tf.reshape(ins[2], [-1]), tf.int64)
    grow = want - tf.stack(shape)
    return tf.pad(out, tf.stack([tf.zeros_like(grow), grow], 1))


def _product_of(values):
    out = values[0]
    for v in values[1:]:
        out = out * v
    return out


@op("OptionalHasElement")
def _optional_has_element(tf, node, ins):
    # a plain tensor is always present; an omitted input is an empty optional
    return tf.constant(bool(ins) and ins[0] is not None)


@op("OptionalGetElement")
def _optional_get_element(tf, node, ins):
    return tf.identity(ins[0])


@op("STFT")
def _stft(tf, node, ins):
    """Frames of [B, L, 1 or 2] every frame_step samples, windowed, then a DFT of each frame
    (frame_length long, one-sided by default): [B, frames, bins, 2]."""
    x = ins[0]
    step = tf.cast(tf.reshape(ins[1], []), tf.int32)
    window = ins[2] if _has(ins, 2) else None
    if window is not None:
        size = tf.shape(window)[0]
    elif _has(ins, 3):
        size = tf.cast(tf.reshape(ins[3], []), tf.int32)
    else:
        raise UnsupportedError("STFT with neither a window nor a frame_length")
    n = tf.cast(tf.reshape(ins[3], []), tf.int32) if _has(ins, 3) else size
    double = x.dtype == tf.float64 or x.shape[-1] == 1
    wide = tf.cast(x, tf.float64 if double else tf.float32)
    frames = tf.signal.frame(wide, size, step, axis=1)  # [B, F, W, 1 or 2]
    if window is not None:
        frames = frames * tf.cast(window, wide.dtype)[:, None]
    signal = tf.complex(frames[..., 0], frames[..., 1] if x.shape[-1] == 2
                        else tf.zeros_like(frames[..., 0]))
    signal = signal[..., :n]
    signal = tf.pad(signal, [[0, 0], [0, 0], [0, tf.maximum(n - tf.shape(signal)[-1], 0)]])
    y = tf.signal.fft(signal)
    if _a(node, "onesided", 1):
        y = y[..., :n // 2 + 1]
    return tf.cast(tf.stack([tf.math.real(y), tf.math.imag(y)], -1), x.dtype)


@op("MelWeightMatrix")
def _mel_weight_matrix(tf, node, ins):
    """[dft_length // 2 + 1, num_mel_bins] triangular mel filters, as ONNX's reference builds
    them (bin edges floored to whole DFT bins)."""
    mels, dft, rate, lo, hi = [tf.reshape(t, []) for t in ins[:5]]
    mels, dft, rate = (tf.cast(t, tf.int64) for t in (mels, dft, rate))
    lo, hi = tf.cast(lo, tf.float64), tf.cast(hi, tf.float64)
    spec = dft // 2 + 1
    log10 = np.log(10.0)
    low_mel = 2595 * tf.math.log1p(lo / 700) / log10
    high_mel = 2595 * tf.math.log1p(hi / 700) / log10
    points = tf.cast(tf.range(mels + 2), tf.float64)
    step = (high_mel - low_mel) / tf.cast(mels + 2, tf.float64)
    hz = 700 * tf.math.expm1((points * step + low_mel) / 2595 * log10)
    edges = tf.cast(tf.math.floordiv(tf.cast(dft + 1, tf.float64) * hz,
                                     tf.cast(rate, tf.float64)), tf.int64)
    left, center, right = edges[:-2], edges[1:-1], edges[2:]  # [mels] each
    j = tf.range(spec)[:, None]
    up_span = center - left
    up = tf.where(up_span == 0, tf.cast(tf.equal(j, center), tf.float64),
                  tf.cast(j - left, tf.float64) / tf.cast(tf.maximum(up_span, 1), tf.float64))
    up = tf.where((j >= left) & (j <= center), up, tf.zeros_like(up))
    down_span = right - center
    down = tf.cast(right - j, tf.float64) / tf.cast(tf.maximum(down_span, 1), tf.float64)
    in_down = (j >= center) & (j < right) & (down_span > 0)
    out = tf.where(in_down, down, up)  # the falling edge is written last in the reference
    return tf.cast(out, _tf_dtype(tf, _a(node, "output_datatype", 1), "MelWeightMatrix"))


@op("DeformConv")
def _deform_conv(tf, node, ins):
    """2-D deformable convolution (ONNX's reference): each kernel tap reads the input at its
    place plus a learned offset, bilinearly (zeros outside), times an optional mask; the
    sampled columns are then convolved with the (grouped) weights."""
    x, w, offset = ins[:3]
    if _rank(node, x) != 4:
        raise UnsupportedError("DeformConv beyond 2-D")
    kh, kw = (int(k) for k in (node.attrs.get("kernel_shape") or w.shape[2:]))
    sh, sw = (int(s) for s in node.attrs.get("strides") or [1, 1])
    dh, dw = (int(d) for d in node.attrs.get("dilations") or [1, 1])
    pads = [int(p) for p in node.attrs.get("pads") or [0, 0, 0, 0]]
    group, og = int(_a(node, "group", 1)), int(_a(node, "offset_group", 1))
    n, c, h, wd = (tf.cast(d, tf.int64) for d in _dims(tf, x))
    oh, ow = (tf.cast(d, tf.int64) for d in _dims(tf, offset)[2:])
    off = tf.reshape(offset, tf.stack([n, og, kh, kw, 2, oh, ow]))
    taps_h = tf.cast(tf.range(kh) * dh, x.dtype)[:, None, None, None]
    taps_w = tf.cast(tf.range(kw) * dw, x.dtype)[None, :, None, None]
    rows = tf.cast(tf.range(oh) * sh - pads[0], x.dtype)[None, None, :, None]
    cols = tf.cast(tf.range(ow) * sw - pads[1], x.dtype)[None, None, None, :]
    ph = rows + taps_h + off[:, :, :, :, 0]  # [N, G, kh, kw, oh, ow]
    pw = cols + taps_w + off[:, :, :, :, 1]
    xg = tf.reshape(x, tf.stack([n, og, -1, h * wd]))  # [N, G, C/G, H*W]
    h0, w0 = tf.floor(ph), tf.floor(pw)
    sampled = None
    for dy in (0, 1):
        for dx in (0, 1):
            yy, xx = h0 + dy, w0 + dx
            weight = (1 - tf.abs(ph - yy)) * (1 - tf.abs(pw - xx))
            inside = (yy >= 0) & (yy <= tf.cast(h - 1, x.dtype)) & (xx >= 0) & \
                (xx <= tf.cast(wd - 1, x.dtype))
            weight = tf.where(inside, weight, tf.zeros_like(weight))
            flat = tf.cast(tf.where(inside, yy, 0.0), tf.int64) * wd + \
                tf.cast(tf.where(inside, xx, 0.0), tf.int64)
            vals = tf.gather(xg, tf.reshape(flat, tf.stack([n, og, -1])), axis=3, batch_dims=2)
            term = vals * tf.reshape(weight, tf.stack([n, og, 1, -1]))
            sampled = term if sampled is None else sampled + term
    if _has(ins, 4):
        sampled = sampled * tf.reshape(tf.cast(ins[4], x.dtype), tf.stack([n, og, 1, -1]))
    # [N, C, kh*kw, oh*ow] columns, grouped for the weights
    cols_ = tf.reshape(sampled, tf.stack([n, group, -1, oh * ow]))
    wg = tf.reshape(w, [group, -1, w.shape[1] * kh * kw])
    y = tf.einsum("ngkl,gok->ngol", cols_, wg)
    y = tf.reshape(y, tf.stack([n, -1, oh, ow]))
    if _has(ins, 3):
        y = y + tf.reshape(ins[3], [1, -1, 1, 1])
    return y


@op("RoiAlign")
def _roi_align(tf, node, ins):
    """Per ROI, a grid of bilinear samples in each output bin (sampling_ratio per side, or
    the bin's size rounded up), averaged or maxed, as ONNX's reference (samples outside
    [-1, size] count as zeros; coordinates clamped at 0 and at the last cell)."""
    x, rois, batch = ins
    n_rois = rois.shape[0]
    if n_rois is None:
        raise UnsupportedError("RoiAlign needs a static ROI count")
    oh, ow = int(_a(node, "output_height", 1)), int(_a(node, "output_width", 1))
    ratio = int(_a(node, "sampling_ratio", 0))
    scale = float(_a(node, "spatial_scale", 1.0))
    half = _a(node, "coordinate_transformation_mode", "half_pixel") == "half_pixel"
    avg = _a(node, "mode", "avg") == "avg"
    h, w = _dims(tf, x)[2:]
    h_i, w_i = tf.cast(h, tf.int64), tf.cast(w, tf.int64)
    outs = []
    for r in range(n_rois):
        roi = tf.cast(rois[r], tf.float64) * scale - (0.5 if half else 0.0)
        start_w, start_h, end_w, end_h = roi[0], roi[1], roi[2], roi[3]
        rw, rh = end_w - start_w, end_h - start_h
        if not half:
            rw, rh = tf.maximum(rw, 1.0), tf.maximum(rh, 1.0)
        bin_h, bin_w = rh / oh, rw / ow
        gh = tf.constant(ratio, tf.int64) if ratio > 0 else tf.cast(tf.math.ceil(rh / oh),
                                                                    tf.int64)
        gw = tf.constant(ratio, tf.int64) if ratio > 0 else tf.cast(tf.math.ceil(rw / ow),
                                                                    tf.int64)
        count = tf.cast(tf.maximum(gh * gw, 1), tf.float64)
        lo_y, hi_y, wy, ok_y = _roi_axis(tf, start_h, bin_h, oh, gh, h_i)
        lo_x, hi_x, wx, ok_x = _roi_axis(tf, start_w, bin_w, ow, gw, w_i)
        img = tf.cast(tf.gather(x, tf.cast(tf.reshape(batch[r], []), tf.int64)), tf.float64)
        terms = []
        for iy, ay in ((lo_y, 1 - wy), (hi_y, wy)):
            rows = tf.gather(img, tf.reshape(iy, [-1]), axis=1)  # [C, oh*gh, W]
            for ix, ax in ((lo_x, 1 - wx), (hi_x, wx)):
                v = tf.gather(rows, tf.reshape(ix, [-1]), axis=2)  # [C, oh*gh, ow*gw]
                wgt = tf.reshape(ay * tf.cast(ok_y, tf.float64), [-1])[:, None] * \
                    tf.reshape(ax * tf.cast(ok_x, tf.float64), [-1])[None, :]
                terms.append(v * wgt)
        c = tf.shape(img)[0]
        shape = tf.stack([c, oh, tf.cast(gh, tf.int32), ow, tf.cast(gw, tf.int32)])
        if avg:
            y = tf.reduce_sum(tf.reshape(tf.add_n(terms), shape), [2, 4]) / count
        else:
            best = tf.reduce_max(tf.stack(terms), 0)
            y = tf.reduce_max(tf.reshape(best, shape), [2, 4])
        outs.append(y)
    return tf.cast(tf.stack(outs), x.dtype)


def _roi_axis(tf, start, size, bins, grid, limit):
    """Low / high cell, the high cell's weight and validity of every sample along one axis:
    [bins, grid] each."""
    p = tf.cast(tf.range(bins), tf.float64)[:, None]
    i = tf.cast(tf.range(grid), tf.float64)[None, :]
    v = start + p * size + (i + 0.5) * size / tf.cast(grid, tf.float64)
    last = tf.cast(limit - 1, tf.float64)
    ok = (v >= -1.0) & (v <= tf.cast(limit, tf.float64))
    v = tf.maximum(v, 0.0)
    low = tf.floor(v)
    edge = low >= last
    low = tf.where(edge, last, low)
    v = tf.where(edge, low, v)
    high = tf.where(edge, low, low + 1)
    return tf.cast(low, tf.int64), tf.cast(high, tf.int64), v - low, ok
