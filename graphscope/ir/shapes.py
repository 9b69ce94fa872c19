"""Shape inference: one rule per canonical op, written once for every format.

A rule takes the node and its input types and returns the output types. Small integer
tensors (shape vectors, axes) are tracked as constants in ``Value.meta['const']`` so that
Reshape(x, Concat(Shape(x)[0], -1)) gets a shape, symbolic batch included.
"""
from __future__ import annotations

from typing import Callable

from ..errors import GraphscopeError, ShapeError
from . import dims as D
from .graph import Dim, Graph, Node, TensorType, Value
from .ops import attr
from ..registry import keyed_registry

Rule = Callable[[Node, list], list]
RULES: dict[str, Rule] = {}
CONST_RULES: dict[str, Callable[[Node, list], list | None]] = {}
MAX_CONST = 1024  # elements; larger int tensors are not tracked as constants

ONNX_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32",
               7: "int64", 8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32",
               13: "uint64", 14: "complex64", 15: "complex128", 16: "bfloat16"}


rule = keyed_registry(RULES)


const_rule = keyed_registry(CONST_RULES)


# -- helpers ----------------------------------------------------------------------------------
def const(v: Value | None) -> list | None:
    """The known integer contents of a small tensor (flattened), or None."""
    if v is None:
        return None
    if "const" in v.meta:
        return v.meta["const"]
    if v.data is not None and v.data.size <= MAX_CONST and v.data.dtype.startswith(("int", "uint")):
        try:
            v.meta["const"] = [int(x) for x in v.data.array.reshape(-1)]
        except GraphscopeError:
            return None
        return v.meta["const"]
    return None


def const_float(v: Value | None) -> list | None:
    if v is None or v.data is None or v.data.size > MAX_CONST:
        return None
    try:
        return [float(x) for x in v.data.array.reshape(-1)]
    except (GraphscopeError, TypeError, ValueError):
        return None


def ints_from(node: Node, name: str, index: int) -> list | None:
    """An attribute that later opsets moved to an input (axes, split, pads, shape...)."""
    a = node.attrs.get(name)
    if a is not None:
        return list(a)
    if index < len(node.inputs):
        return const(node.inputs[index])
    return None


def norm_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ShapeError(f"axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def same(t: TensorType | None, shape=None, dtype=None) -> TensorType:
    t = t or TensorType()
    return TensorType(dtype or t.dtype, tuple(shape) if shape is not None else t.shape)


def spatial_out(size: Dim, k: int, stride: int, dil: int, pad_b: int, pad_e: int,
                auto_pad: str, ceil: bool = False) -> Dim:
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return D.ceildiv(size, stride)
    if auto_pad == "VALID":
        pad_b = pad_e = 0
    span = D.sub(D.add(size, pad_b + pad_e), dil * (k - 1) + 1)
    if isinstance(span, int) and span < 0:
        raise ShapeError(window_too_big(size, k, dil, pad_b + pad_e))
    if not ceil:
        return D.add(D.floordiv(span, stride), 1)
    out = D.add(D.ceildiv(span, stride), 1)
    # A last window that would start in the end padding is dropped (ONNX, Caffe, PyTorch).
    if isinstance(out, int) and isinstance(size, int) and (out - 1) * stride >= size + pad_b:
        out -= 1
    return out


def window_too_big(size: int, k: int, dil: int, pads: int) -> str:
    extent = f"{k} (dilated to {dil * (k - 1) + 1})" if dil > 1 else str(k)
    return f"a window of {extent} does not fit the input's {size} (+ {pads} padding)"


def explicit_pads(auto_pad: str, pads, sizes, kernel, strides, dilations) -> list[int]:
    """ONNX's [b1..bn, e1..en] pads with auto_pad resolved. ``sizes``, the spatial input
    sizes, are needed (as ints) only for SAME_*: the total padding that makes the output
    ceil(size / stride), split evenly, the odd unit at the end (UPPER) or the start (LOWER)."""
    n = len(kernel)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for size, k, s, d in zip(sizes, kernel, strides, dilations):
            total = max(0, (-(-size // s) - 1) * s + (k - 1) * d + 1 - size)
            small, big = total // 2, total - total // 2
            begin.append(small if auto_pad == "SAME_UPPER" else big)
            end.append(big if auto_pad == "SAME_UPPER" else small)
        return begin + end
    if auto_pad == "VALID":
        return [0] * (2 * n)
    return [int(p) for p in (pads or [0] * (2 * n))]


def window(node: Node, x: TensorType, kernel: list[int]):
    n = len(kernel)
    strides = attr(node, "strides") or [1] * n
    dil = attr(node, "dilations") or [1] * n
    pads = attr(node, "pads") or [0] * (2 * n)
    return strides, dil, pads, attr(node, "auto_pad") or "NOTSET"


# -- layers -----------------------------------------------------------------------------------
@rule("Conv")
def _conv(node, ins):
    x, w = ins[0], ins[1] if len(ins) > 1 else None
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    kernel = attr(node, "kernel_shape")
    if kernel is None and w is not None and w.shape is not None:
        kernel = list(w.shape[2:])
    if kernel is None or any(not isinstance(k, int) for k in kernel):
        return [TensorType(x.dtype)]
    cout = w.shape[0] if w is not None and w.shape is not None else None
    strides, dil, pads, auto = window(node, x, kernel)
    n = len(kernel)
    if len(x.shape) != n + 2:
        raise ShapeError(f"input rank {len(x.shape)} does not fit a {n}-d kernel")
    group = attr(node, "group") or 1
    cin = x.shape[1]
    if w is not None and w.shape is not None and isinstance(cin, int) and isinstance(w.shape[1], int):
        if cin != w.shape[1] * group:
            raise ShapeError(f"input has {cin} channels but weight expects "
                             f"{w.shape[1]}x{group} (group={group})")
    sp = [spatial_out(x.shape[2 + i], kernel[i], strides[i], dil[i], pads[i], pads[i + n], auto)
          for i in range(n)]
    return [TensorType(x.dtype, (x.shape[0], cout, *sp))]


@rule("ConvTranspose")
def _conv_transpose(node, ins):
    x, w = ins[0], ins[1] if len(ins) > 1 else None
    if x is None or x.shape is None or w is None or w.shape is None:
        return [TensorType(x and x.dtype)]
    kernel = attr(node, "kernel_shape") or list(w.shape[2:])
    n = len(kernel)
    strides, dil, pads, auto = window(node, x, kernel)
    group = attr(node, "group") or 1
    cout = D.mul(w.shape[1], group)
    explicit = attr(node, "output_shape")
    if explicit:
        return [TensorType(x.dtype, (x.shape[0], cout, *explicit[-n:]))]
    out_pad = attr(node, "output_padding") or [0] * n
    sp = []
    for i in range(n):
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            sp.append(D.mul(x.shape[2 + i], strides[i]))
            continue
        p = 0 if auto == "VALID" else pads[i] + pads[i + n]
        size = D.mul(D.sub(x.shape[2 + i], 1), strides[i])
        sp.append(D.sub(D.add(size, out_pad[i] + (kernel[i] - 1) * dil[i] + 1), p))
    return [TensorType(x.dtype, (x.shape[0], cout, *sp))]


@rule("Gemm")
def _gemm(node, ins):
    a, b = ins[0], ins[1]
    if a is None or b is None or a.shape is None or b.shape is None:
        return [TensorType(a and a.dtype)]
    m = a.shape[1] if attr(node, "transA") else a.shape[0]
    ka = a.shape[0] if attr(node, "transA") else a.shape[1]
    n = b.shape[0] if attr(node, "transB") else b.shape[1]
    kb = b.shape[1] if attr(node, "transB") else b.shape[0]
    if isinstance(ka, int) and isinstance(kb, int) and ka != kb:
        raise ShapeError(f"Gemm inner dims differ: A gives {ka}, B gives {kb}")
    return [TensorType(a.dtype, (m, n))]


@rule("MatMul")
def _matmul(node, ins):
    a, b = ins[0], ins[1]
    if a is None or b is None or a.shape is None or b.shape is None:
        return [TensorType(a and a.dtype)]
    sa, sb = list(a.shape), list(b.shape)
    squeeze_a, squeeze_b = len(sa) == 1, len(sb) == 1
    if squeeze_a:
        sa = [1] + sa
    if squeeze_b:
        sb = sb + [1]
    if isinstance(sa[-1], int) and isinstance(sb[-2], int) and sa[-1] != sb[-2]:
        raise ShapeError(f"MatMul inner dims differ: {a.shape_str()} @ {b.shape_str()}")
    batch = D.broadcast(tuple(sa[:-2]), tuple(sb[:-2]))
    out = list(batch) + [sa[-2], sb[-1]]
    if squeeze_a:
        out.pop(-2)
    if squeeze_b:
        out.pop(-1)
    return [TensorType(a.dtype, tuple(out))]


@rule("MaxPool", "AveragePool", "LpPool")
def _pool(node, ins):
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)] * len(node.outputs)
    kernel = attr(node, "kernel_shape")
    strides, dil, pads, auto = window(node, x, kernel)
    n = len(kernel)
    ceil = bool(attr(node, "ceil_mode"))
    sp = [spatial_out(x.shape[2 + i], kernel[i], strides[i], dil[i], pads[i], pads[i + n], auto,
                      ceil) for i in range(n)]
    out = TensorType(x.dtype, (*x.shape[:2], *sp))
    return [out, TensorType("int64", out.shape)][:len(node.outputs)]


@rule("MaxUnpool")
def _max_unpool(node, ins):
    """The output_shape operand when its value is known; else each spatial size is
    (in - 1) * stride + kernel - pads, the inverse of MaxPool's."""
    x = ins[0]
    explicit = const(node.inputs[2]) if len(node.inputs) > 2 else None
    if explicit:
        return [TensorType(x and x.dtype, tuple(explicit))]
    if x is None or x.shape is None or len(node.inputs) > 2:
        return [TensorType(x and x.dtype)]
    kernel = attr(node, "kernel_shape")
    n = len(kernel)
    strides = attr(node, "strides") or [1] * n
    pads = attr(node, "pads") or [0] * (2 * n)
    sp = [D.sub(D.add(D.mul(D.sub(x.shape[2 + i], 1), strides[i]), kernel[i]),
                pads[i] + pads[i + n]) for i in range(n)]
    return [TensorType(x.dtype, (*x.shape[:2], *sp))]


@rule("GlobalMaxPool", "GlobalAveragePool")
def _global_pool(node, ins):
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    return [TensorType(x.dtype, (*x.shape[:2], *[1] * (len(x.shape) - 2)))]


@rule("MaxRoiPool", "RoiAlign")
def _roi_pool(node, ins):
    x, rois = ins[0], ins[1]
    hw = attr(node, "pooled_shape") or [attr(node, "output_height"), attr(node, "output_width")]
    n = rois.shape[0] if rois is not None and rois.shape else None
    c = x.shape[1] if x is not None and x.shape else None
    return [TensorType(x and x.dtype, (n, c, *hw))]


# -- shape-preserving ops ---------------------------------------------------------------------
PASSTHROUGH = ("Relu", "Sigmoid", "Tanh", "Softplus", "Softsign", "Erf", "Gelu", "Mish", "Swish",
               "HardSwish", "Abs", "Exp", "Log", "Sqrt", "Neg", "Reciprocal", "Floor", "Ceil",
               "Round", "Sign", "Sin", "Cos", "Silu", "LeakyRelu", "Elu", "Selu", "Celu",
               "HardSigmoid", "ThresholdedRelu", "PRelu", "Clip", "Softmax", "LogSoftmax",
               "Hardmax", "BatchNormalization", "InstanceNormalization", "LRN",
               "LpNormalization", "MeanVarianceNormalization", "GroupNormalization",
               "Identity", "CumSum", "CastLike")


@rule(*PASSTHROUGH)
def _passthrough(node, ins):
    return [same(ins[0])] + [TensorType(ins[0] and ins[0].dtype)] * (len(node.outputs) - 1)


@rule("Dropout")
def _dropout(node, ins):
    return [same(ins[0]), TensorType("bool", ins[0] and ins[0].shape)][:len(node.outputs)]


@rule("LayerNormalization")
def _layer_norm(node, ins):
    x = ins[0]
    outs = [same(x)]
    if len(node.outputs) > 1 and x is not None and x.shape is not None:
        axis = norm_axis(attr(node, "axis"), len(x.shape))
        stat = TensorType("float32", (*x.shape[:axis], *[1] * (len(x.shape) - axis)))
        outs += [stat] * (len(node.outputs) - 1)
    return outs


@rule("Cast")
def _cast(node, ins):
    return [same(ins[0], dtype=ONNX_DTYPES.get(attr(node, "to"), None))]


COMPARISONS = ("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor",
               "Not", "IsNaN", "IsInf")


@rule("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Mod", "BitShift",
      *COMPARISONS)
def _broadcast(node, ins):
    shape = D.broadcast(*[None if t is None else t.shape for t in ins])
    dtype = "bool" if node.op in COMPARISONS else next((t.dtype for t in ins if t and t.dtype), None)
    return [TensorType(dtype, shape)]


@rule("Where")
def _where(node, ins):
    shape = D.broadcast(*[None if t is None else t.shape for t in ins])
    return [TensorType(ins[1] and ins[1].dtype, shape)]


# -- tensor manipulation ----------------------------------------------------------------------
@rule("Concat")
def _concat(node, ins):
    shapes = [t.shape if t is not None else None for t in ins]
    dtype = next((t.dtype for t in ins if t and t.dtype), None)
    if any(s is None for s in shapes) or not shapes:
        return [TensorType(dtype)]
    rank = len(shapes[0])
    axis = norm_axis(attr(node, "axis"), rank)
    out = list(shapes[0])
    for s in shapes[1:]:
        if len(s) != rank:
            raise ShapeError(f"Concat inputs have ranks {rank} and {len(s)}")
        for i in range(rank):
            if i == axis:
                out[i] = D.add(out[i], s[i])
            elif isinstance(out[i], int) and isinstance(s[i], int) and out[i] != s[i]:
                raise ShapeError(f"Concat on axis {axis}: inputs differ in dim {i} "
                                 f"({out[i]} vs {s[i]})")
    return [TensorType(dtype, tuple(out))]


@rule("Split")
def _split(node, ins):
    x = ins[0]
    k = len(node.outputs)
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)] * k
    axis = norm_axis(attr(node, "axis"), len(x.shape))
    sizes = ints_from(node, "split", 1)
    total = x.shape[axis]
    if sizes is None and len(node.inputs) > 1 and node.inputs[1] is not None:
        sizes = [None] * k  # sizes given at run time: not an equal split
    if sizes is None:
        if isinstance(total, int):
            chunk = -(-total // k)
            sizes = [min(chunk, total - i * chunk) for i in range(k)]
        else:
            sizes = [None] * k
    outs = []
    for s in sizes:
        shape = list(x.shape)
        shape[axis] = s
        outs.append(TensorType(x.dtype, tuple(shape)))
    return outs


@rule("Reshape")
def _reshape(node, ins):
    x = ins[0]
    target = ints_from(node, "shape", 1)
    if target is None:
        n = node.inputs[1].type.shape if len(node.inputs) > 1 and node.inputs[1] else None
        rank = n[0] if n and isinstance(n[0], int) else None
        return [TensorType(x and x.dtype, None if rank is None else (None,) * rank)]
    out = list(target)
    allowzero = attr(node, "allowzero")
    if x is not None and x.shape is not None and not allowzero:
        for i, d in enumerate(out):
            if d == 0 and i < len(x.shape):
                out[i] = x.shape[i]
    if -1 in out:
        i = out.index(-1)
        known = D.product([d for j, d in enumerate(out) if j != i])
        total = D.product(x.shape) if x is not None and x.shape is not None else None
        out[i] = _divide(total, known)
    return [TensorType(x and x.dtype, tuple(out))]


def _divide(total: Dim, part: Dim) -> Dim:
    """total / part for the -1 of Reshape; symbols cancel when they appear in both."""
    if isinstance(total, int) and isinstance(part, int):
        if part == 0 or total % part:
            raise ShapeError(f"cannot reshape {total} elements into a multiple of {part}")
        return total // part
    if total is None or part is None:
        return None
    t, p = _factors(total), _factors(part)
    if t is None or p is None:
        return None
    ti, ts = t
    pi, ps = p
    for s in ps:
        if s not in ts:
            return None
        ts.remove(s)
    if pi == 0 or ti % pi:
        return None
    return D.product([ti // pi, *ts])


def _factors(d: Dim):
    """Split a product expression 'k*A*B' into (k, [A, B]); None if not a plain product."""
    if isinstance(d, int):
        return d, []
    parts = str(d).split("*")
    k, syms = 1, []
    for p in parts:
        if p.isdigit():
            k *= int(p)
        elif p.isidentifier():
            syms.append(p)
        else:
            return None
    return k, syms


@rule("Flatten")
def _flatten(node, ins):
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    axis = attr(node, "axis")
    axis = axis + len(x.shape) if axis < 0 else axis
    return [TensorType(x.dtype, (D.product(x.shape[:axis]), D.product(x.shape[axis:])))]


@rule("Transpose")
def _transpose(node, ins):
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    perm = attr(node, "perm") or list(range(len(x.shape)))[::-1]
    return [TensorType(x.dtype, tuple(x.shape[p] for p in perm))]


@rule("Squeeze")
def _squeeze(node, ins):
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    axes = ints_from(node, "axes", 1)
    if axes is None:
        if len(node.inputs) > 1 and node.inputs[1] is not None:
            return [TensorType(x.dtype)]
        return [TensorType(x.dtype, tuple(d for d in x.shape if d != 1))]
    drop = {norm_axis(a, len(x.shape)) for a in axes}
    return [TensorType(x.dtype, tuple(d for i, d in enumerate(x.shape) if i not in drop))]


@rule("Unsqueeze")
def _unsqueeze(node, ins):
    x = ins[0]
    axes = ints_from(node, "axes", 1)
    if x is None or x.shape is None or axes is None:
        return [TensorType(x and x.dtype)]
    rank = len(x.shape) + len(axes)
    add = sorted(norm_axis(a, rank) for a in axes)
    out, it = [], iter(x.shape)
    for i in range(rank):
        out.append(1 if i in add else next(it))
    return [TensorType(x.dtype, tuple(out))]


@rule("Slice")
def _slice(node, ins):
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    starts, ends = ints_from(node, "starts", 1), ints_from(node, "ends", 2)
    axes = ints_from(node, "axes", 3)
    steps = const(node.inputs[4]) if len(node.inputs) > 4 else None
    if starts is None or ends is None:
        return [TensorType(x.dtype, (None,) * len(x.shape))]
    axes = axes or list(range(len(starts)))
    steps = steps or [1] * len(starts)
    out = list(x.shape)
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = norm_axis(a, len(x.shape))
        out[a] = _slice_len(x.shape[a], s, e, st)
    return [TensorType(x.dtype, tuple(out))]


def _slice_len(size: Dim, start, end, step) -> Dim:
    if not all(isinstance(v, int) for v in (start, end, step)):
        return None
    if not isinstance(size, int):
        # x[start:] on a symbolic dim; other slices of it are unknown
        return D.sub(size, start) if step == 1 and 0 <= start and end >= 2 ** 31 - 1 else None
    return len(range(size)[slice(start, end, step)]) if step else None


@rule("Pad")
def _pad(node, ins):
    x = ins[0]
    pads = ints_from(node, "pads", 1)
    if x is None or x.shape is None or pads is None:
        return [TensorType(x and x.dtype, None if x is None or x.shape is None
                           else (None,) * len(x.shape))]
    n = len(x.shape)
    axes = const(node.inputs[3]) if len(node.inputs) > 3 else None
    axes = [norm_axis(a, n) for a in axes] if axes else list(range(n))
    out = list(x.shape)
    k = len(axes)
    for j, a in enumerate(axes):
        out[a] = D.add(out[a], pads[j] + pads[j + k])
    return [TensorType(x.dtype, tuple(out))]


@rule("Resize", "Upsample")
def _resize(node, ins):
    """Sizes or scales, for every axis or for those in ``axes``. keep_aspect_ratio_policy
    other than 'stretch' rescales the sizes: left to onnx's inference (unknown here)."""
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    rank = len(x.shape)
    axes = [norm_axis(a, rank) for a in node.attrs.get("axes") or range(rank)]
    out = list(x.shape)
    if node.op == "Resize":
        sizes = const(node.inputs[3]) if len(node.inputs) > 3 else None
        if sizes:
            if (node.attrs.get("keep_aspect_ratio_policy") or "stretch") != "stretch":
                return [TensorType(x.dtype, (None,) * rank)]
            for a, n in zip(axes, sizes):
                out[a] = n
            return [TensorType(x.dtype, tuple(out))]
        scales = const_float(node.inputs[2]) if len(node.inputs) > 2 else None
    else:
        scales = attr(node, "scales") or (const_float(node.inputs[1]) if len(node.inputs) > 1
                                          else None)
    if not scales or len(scales) != len(axes):
        return [TensorType(x.dtype, (None,) * rank)]
    import math
    for a, s in zip(axes, scales):
        d = x.shape[a]
        out[a] = int(math.floor(d * s)) if isinstance(d, int) else (d if s == 1 else None)
    return [TensorType(x.dtype, tuple(out))]


@rule("OneHot")
def _one_hot(node, ins):
    """The indices' shape with the depth inserted at ``axis``; values give the dtype."""
    idx = ins[0]
    values = ins[2] if len(ins) > 2 else None
    dtype = values and values.dtype
    if idx is None or idx.shape is None:
        return [TensorType(dtype)]
    depth = _numbers(node.inputs[1]) if len(node.inputs) > 1 else None
    n = int(depth[0]) if depth and len(depth) == 1 else None
    shape = list(idx.shape)
    shape.insert(norm_axis(attr(node, "axis"), len(shape) + 1), n)
    return [TensorType(dtype, tuple(shape))]


@rule("STFT")
def _stft(node, ins):
    """[batch, frames, bins, 2]: frames = (length - frame_length) // frame_step + 1, bins =
    frame_length // 2 + 1 when onesided (the default)."""
    signal = ins[0]
    if signal is None or signal.shape is None or len(signal.shape) != 3:
        return [TensorType(signal and signal.dtype)]
    step = _numbers(node.inputs[1]) if len(node.inputs) > 1 else None
    length = _numbers(node.inputs[3]) if len(node.inputs) > 3 and node.inputs[3] else None
    window = ins[2] if len(ins) > 2 else None
    if length is None and window is not None and window.shape:
        length = [window.shape[0]]
    frames = bins = None
    if length and isinstance(length[0], (int, float)):
        n = int(length[0])
        bins = n // 2 + 1 if node.attrs.get("onesided", 1) else n
        if step and isinstance(signal.shape[1], int):
            frames = (signal.shape[1] - n) // int(step[0]) + 1
    return [TensorType(signal.dtype, (signal.shape[0], frames, bins, 2))]


@rule("Tile")
def _tile(node, ins):
    x, reps = ins[0], const(node.inputs[1])
    if x is None or x.shape is None or reps is None:
        return [TensorType(x and x.dtype)]
    return [TensorType(x.dtype, tuple(D.mul(d, r) for d, r in zip(x.shape, reps)))]


@rule("Expand")
def _expand(node, ins):
    x, shape = ins[0], const(node.inputs[1])
    if x is None or x.shape is None or shape is None:
        return [TensorType(x and x.dtype)]
    return [TensorType(x.dtype, D.broadcast(x.shape, tuple(shape)))]


@rule("Shape")
def _shape(node, ins):
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType("int64", (None,))]
    start, end = attr(node, "start") or 0, attr(node, "end")
    return [TensorType("int64", (len(x.shape[start:end]),))]


@rule("Size")
def _size(node, ins):
    return [TensorType("int64", ())]


@rule("ConstantOfShape")
def _constant_of_shape(node, ins):
    shape = const(node.inputs[0])
    value = node.attrs.get("value")
    dtype = getattr(value, "dtype", None)
    return [TensorType(str(dtype) if dtype is not None else "float32",
                       None if shape is None else tuple(shape))]


@rule("Gather")
def _gather(node, ins):
    x, idx = ins[0], ins[1]
    if x is None or x.shape is None or idx is None or idx.shape is None:
        return [TensorType(x and x.dtype)]
    axis = norm_axis(attr(node, "axis"), len(x.shape))
    return [TensorType(x.dtype, (*x.shape[:axis], *idx.shape, *x.shape[axis + 1:]))]


@rule("Embedding")
def _embedding(node, ins):
    idx, table = ins[0], ins[1]
    if idx is None or idx.shape is None or table is None or table.shape is None:
        return [TensorType(table and table.dtype)]
    return [TensorType(table.dtype, (*idx.shape, table.shape[-1]))]


@rule("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
      "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin")
def _reduce(node, ins):
    x = ins[0]
    dtype = "int64" if node.op.startswith("Arg") else (x and x.dtype)
    if x is None or x.shape is None:
        return [TensorType(dtype)]
    if node.op.startswith("Arg"):
        axes = [attr(node, "axis")]
    else:
        axes = ints_from(node, "axes", 1)
        if axes is None and len(node.inputs) > 1 and node.inputs[1] is not None:
            return [TensorType(dtype)]
        if not axes:
            axes = [] if attr(node, "noop_with_empty_axes") else list(range(len(x.shape)))
    drop = {norm_axis(a, len(x.shape)) for a in axes}
    keep = attr(node, "keepdims")
    out = tuple(1 if i in drop else d for i, d in enumerate(x.shape) if keep or i not in drop)
    return [TensorType(dtype, out)]


@rule("TopK")
def _topk(node, ins):
    x = ins[0]
    k = const(node.inputs[1])
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype), TensorType("int64")]
    axis = norm_axis(attr(node, "axis"), len(x.shape))
    shape = list(x.shape)
    shape[axis] = k[0] if k else None
    return [TensorType(x.dtype, tuple(shape)), TensorType("int64", tuple(shape))]


@rule("DepthToSpace", "SpaceToDepth")
def _depth_space(node, ins):
    x = ins[0]
    b = attr(node, "blocksize")
    if x is None or x.shape is None or len(x.shape) != 4:
        return [TensorType(x and x.dtype)]
    n, c, h, w = x.shape
    if node.op == "DepthToSpace":
        return [TensorType(x.dtype, (n, D.floordiv(c, b * b), D.mul(h, b), D.mul(w, b)))]
    return [TensorType(x.dtype, (n, D.mul(c, b * b), D.floordiv(h, b), D.floordiv(w, b)))]


@rule("LSTM", "GRU", "RNN")
def _recurrent(node, ins):
    x, w = ins[0], ins[1]
    hidden = attr(node, "hidden_size")
    dirs = 2 if attr(node, "direction") == "bidirectional" else 1
    if x is None or x.shape is None or len(x.shape) != 3:
        return [TensorType(x and x.dtype)] * len(node.outputs)
    if attr(node, "layout"):
        batch, seq = x.shape[0], x.shape[1]
        y = (batch, seq, dirs, hidden)
        h = (batch, dirs, hidden)
    else:
        seq, batch = x.shape[0], x.shape[1]
        y = (seq, dirs, batch, hidden)
        h = (dirs, batch, hidden)
    return [TensorType(x.dtype, y)] + [TensorType(x.dtype, h)] * (len(node.outputs) - 1)


@rule("Attention", "ai.onnx.preview.FlexAttention")
def _attention(node, ins):
    """Y only. 4-D: [B, q_heads, S, v_head]. 3-D inputs pack the heads into the last dim:
    Y's is q_num_heads * (V's last / kv_num_heads), unknown without those attributes."""
    q, v = ins[0], ins[2] if len(ins) > 2 else None
    rest = [TensorType(q and q.dtype)] * (len(node.outputs) - 1)
    if q is None or q.shape is None or v is None or v.shape is None:
        return [TensorType(q and q.dtype)] + rest
    last = v.shape[-1]
    if len(q.shape) == 3:
        qh, kvh = attr(node, "q_num_heads"), attr(node, "kv_num_heads")
        last = None if not (qh and kvh and isinstance(last, int) and last % kvh == 0) \
            else qh * (last // kvh)
    return [TensorType(q.dtype, (*q.shape[:-1], last))] + rest


@rule("Range")
def _range(node, ins):
    n = _range_len(*(_numbers(v) for v in node.inputs[:3]))
    return [TensorType(ins[0] and ins[0].dtype, (n,))]


def _numbers(v: Value | None) -> list | None:
    c = const(v)
    if c is not None and all(isinstance(d, int) for d in c):
        return c
    return const_float(v)


def _range_len(start, limit, delta) -> int | None:
    """max(ceil((limit - start) / delta), 0) from one-element constants."""
    if not all(v is not None and len(v) == 1 for v in (start, limit, delta)) or not delta[0]:
        return None
    import math
    return max(int(math.ceil((limit[0] - start[0]) / delta[0])), 0)


@rule("NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss")
def _nll_loss(node, ins):
    """The loss per target element with reduction 'none', else a scalar; SoftmaxCrossEntropy
    also gives the log-probabilities (its input's shape)."""
    x, target = ins[0], ins[1] if len(ins) > 1 else None
    dtype = x and x.dtype
    if (node.attrs.get("reduction") or "mean") != "none":
        loss = TensorType(dtype, ())
    else:
        loss = TensorType(dtype, target.shape if target is not None else None)
    return [loss, same(x)][:len(node.outputs)]


@rule("Scan")
def _scan(node, ins):
    """States keep their inputs' types; each scan output stacks the body's per-step output
    along its scan_output_axes entry (0 by default), the sequence length taken from the
    first scan input."""
    body = node.subgraphs.get("body")
    k = attr(node, "num_scan_inputs")
    if body is None or not k or len(body.inputs) != len(ins):
        return []  # opset 8's Scan (sequence_lens first, a batch axis) is left to onnx
    states = len(ins) - k
    first = ins[states]
    in_axes = node.attrs.get("scan_input_axes") or [0] * k
    out_axes = node.attrs.get("scan_output_axes") or [0] * (len(node.outputs) - states)
    seq = None
    if first is not None and first.shape is not None:
        seq = first.shape[norm_axis(in_axes[0], len(first.shape))]
    outs = [same(t) for t in ins[:states]]
    for j, v in enumerate(body.outputs[states:len(node.outputs)]):
        step = v.type
        if step.shape is None:
            outs.append(TensorType(step.dtype))
            continue
        shape = list(step.shape)
        shape.insert(norm_axis(out_axes[j], len(shape) + 1), seq)
        outs.append(TensorType(step.dtype, tuple(shape)))
    return outs


def _seed_scan_body(node: Node) -> None:
    """A Scan body's inputs that the file leaves untyped: a state is typed as the node's
    state input, a scan input as one step of the node's (its scan axis dropped)."""
    body = node.subgraphs.get("body")
    k = attr(node, "num_scan_inputs")
    if body is None or not k or len(body.inputs) != len(node.inputs):
        return
    states = len(node.inputs) - k
    in_axes = node.attrs.get("scan_input_axes") or [0] * k
    for i, (inner, outer) in enumerate(zip(body.inputs, node.inputs)):
        if inner.type.shape is not None or outer is None or outer.type.shape is None:
            continue
        shape = list(outer.type.shape)
        if i >= states:
            try:
                del shape[norm_axis(in_axes[i - states], len(shape))]
            except (ShapeError, IndexError):
                continue
        inner.type = TensorType(inner.type.dtype or outer.type.dtype, tuple(shape))


@rule("If")
def _if(node, ins):
    """Outputs take the branch outputs' types, dim by dim where the branches agree."""
    then_g, else_g = node.subgraphs.get("then_branch"), node.subgraphs.get("else_branch")
    if then_g is None or else_g is None:
        return []
    outs = []
    for a, b in zip(then_g.outputs, else_g.outputs):
        ta, tb = a.type, b.type
        if ta.shape is None or tb.shape is None or len(ta.shape) != len(tb.shape):
            outs.append(TensorType(ta.dtype or tb.dtype))
        else:
            outs.append(TensorType(ta.dtype or tb.dtype, tuple(
                x if x == y else None for x, y in zip(ta.shape, tb.shape))))
    return outs


@rule("Constant")
def _constant(node, ins):
    value = node.attrs.get("value")
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    return [TensorType(None if dtype is None else str(dtype),
                       None if shape is None else tuple(int(d) for d in shape))]


# -- constant propagation for shape arithmetic ----------------------------------------------
@const_rule("Shape")
def _c_shape(node, vals):
    x = node.inputs[0]
    if x is None or x.type.shape is None:
        return None
    return list(x.type.shape[attr(node, "start") or 0:attr(node, "end")])


@const_rule("Constant")
def _c_constant(node, vals):
    value = node.attrs.get("value")
    if value is None or getattr(value, "size", MAX_CONST + 1) > MAX_CONST:
        return None
    if not str(getattr(value, "dtype", "")).startswith(("int", "uint")):
        return None
    return [int(x) for x in value.reshape(-1)]


@const_rule("Identity", "Cast", "Squeeze", "Unsqueeze", "Reshape", "Flatten")
def _c_same(node, vals):
    return vals[0]


@const_rule("Concat")
def _c_concat(node, vals):
    if any(v is None for v in vals):
        return None
    return [d for v in vals for d in v]


@const_rule("Gather")
def _c_gather(node, vals):
    data, idx = vals[0], vals[1]
    if data is None or idx is None or (attr(node, "axis") or 0) != 0:
        return None
    try:
        return [data[i] for i in idx]
    except IndexError:
        return None


@const_rule("Slice")
def _c_slice(node, vals):
    data = vals[0]
    starts, ends = ints_from(node, "starts", 1), ints_from(node, "ends", 2)
    steps = vals[4] if len(vals) > 4 else None
    if data is None or starts is None or ends is None or len(starts) != 1:
        return None
    return data[slice(starts[0], ends[0], steps[0] if steps else 1)]


@const_rule("Neg")
def _c_neg(node, vals):
    return None if vals[0] is None else [D.sub(0, d) for d in vals[0]]


@const_rule("Range")
def _c_range(node, vals):
    if any(v is None or len(v) != 1 or not isinstance(v[0], int) for v in vals[:3]) \
            or not vals[2][0]:
        return None
    return list(range(vals[0][0], vals[1][0], vals[2][0]))


@const_rule("Size")
def _c_size(node, vals):
    x = node.inputs[0]
    n = D.numel(x.type.shape) if x is not None else None
    return None if n is None or not x.type.is_static() else [n]


@const_rule("ConstantOfShape")
def _c_constant_of_shape(node, vals):
    value = node.attrs.get("value")
    n = D.numel(vals[0]) if vals[0] is not None and all(isinstance(d, int) for d in vals[0]) \
        else None
    if value is None or n is None or n > MAX_CONST or getattr(value, "size", 0) != 1 or \
            not str(value.dtype).startswith(("int", "uint")):
        return None
    return [int(value.reshape(-1)[0])] * n


@const_rule("Add", "Sub", "Mul", "Div")
def _c_arith(node, vals):
    a, b = vals[0], vals[1] if len(vals) > 1 else None
    if a is None or b is None:
        return None
    if len(a) == 1 and len(b) > 1:
        a = a * len(b)
    if len(b) == 1 and len(a) > 1:
        b = b * len(a)
    if len(a) != len(b):
        return None
    fn = {"Add": D.add, "Sub": D.sub, "Mul": D.mul, "Div": D.floordiv}[node.op]
    return [fn(x, y) for x, y in zip(a, b)]


@const_rule("ReduceProd")
def _c_reduce_prod(node, vals):
    """The element count of some dims (Tensordot's Prod(Gather(Shape(x), axes)))."""
    if vals[0] is None or len(node.inputs[0].type.shape or ()) != 1:
        return None
    return [D.product(vals[0])]


@rule("Einsum")
def _einsum(node, ins):
    """'bij,bjk->bk' style equations (explicit output, no ellipsis)."""
    eq = (attr(node, "equation") or "").replace(" ", "")
    dtype = next((t.dtype for t in ins if t and t.dtype), None)
    if "->" not in eq or "." in eq:
        return [TensorType(dtype)]
    lhs, out = eq.split("->")
    sizes = einsum_sizes(lhs.split(","), ins)
    if sizes is None:
        return [TensorType(dtype)]
    return [TensorType(dtype, tuple(sizes.get(c) for c in out))]


def einsum_sizes(terms: list[str], ins: list) -> dict | None:
    """Each index letter's size, from the operands' shapes (None if a shape is unknown)."""
    sizes: dict = {}
    for term, t in zip(terms, ins):
        if t is None or t.shape is None or len(t.shape) != len(term):
            return None
        for c, d in zip(term, t.shape):
            if sizes.get(c) in (None, 1):
                sizes[c] = d
    return sizes


# -- the pass ---------------------------------------------------------------------------------
def infer_shapes(graph: Graph, overwrite: bool = False) -> Graph:
    """Fill in output types for every node (nested subgraphs too). Types already known (from
    the file) are kept unless ``overwrite``. A rule that fails records a warning on the node
    and leaves its outputs unknown, so the rest of the graph still gets shapes. Graphs with an
    ONNX opset also get onnx's own inference (onnx_infer.py), combined dim by dim with ours."""
    from .onnx_infer import onnx_types
    hints = onnx_types(graph)
    for node in graph.nodes:
        if node.op == "Scan":
            _seed_scan_body(node)
        for sub in node.subgraphs.values():
            infer_shapes(sub, overwrite)
        _infer_node(graph, node, overwrite, hints)
    return graph


def _infer_node(graph: Graph, node: Node, overwrite: bool, hints: dict | None = None) -> None:
    fn = RULES.get(node.op)
    if (fn is not None or hints) and (overwrite or any(not _known(v.type) for v in node.outputs)):
        types = []
        try:
            if fn is not None:
                types = fn(node, node.input_types())
        except ShapeError as exc:
            node.meta["shape_error"] = exc.message
            node.meta["shape_invalid"] = True  # the model is wrong here, not our inference
            warnings = graph.metadata.setdefault("warnings", [])
            warning = f"node '{node.name}': {exc.message}"
            if warning not in warnings:  # inference may run twice over a node (Caffe)
                warnings.append(warning)
            types = []
        except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError) as exc:
            node.meta["shape_error"] = f"cannot infer shape: {exc}"
            types = []
        if hints:
            types = _agree(graph, node, types, [hints.get(v.name) for v in node.outputs])
        for v, t in zip(node.outputs, types):
            if t is not None and (overwrite or not _known(v.type)):
                v.type = _merge(v.type, t)
    crule = CONST_RULES.get(node.op)
    if crule is not None and len(node.outputs) == 1:
        try:
            value = crule(node, [const(v) for v in node.inputs])
        except (TypeError, ValueError, IndexError, ZeroDivisionError):
            value = None
        if value is not None and len(value) <= MAX_CONST:
            node.outputs[0].meta["const"] = value


def _agree(graph: Graph, node: Node, ours: list, theirs: list) -> list:
    """Our rule's types combined with onnx's, output by output and dim by dim: what one side
    knows fills the other's unknown; two different static sizes (or ranks) become unknown and
    are noted on the node and in the graph's warnings, never silently picked."""
    out = []
    for i, t in enumerate(theirs):
        o = ours[i] if i < len(ours) else None
        if t is None or o is None or o == t:
            out.append(o if t is None else t)
            continue
        shape, conflict = o.shape, False
        if o.shape is None:
            shape = t.shape
        elif t.shape is not None:
            if len(o.shape) != len(t.shape):
                shape, conflict = None, True
            else:
                dims = [_agree_dim(a, b) for a, b in zip(o.shape, t.shape)]
                conflict = any(d is _CONFLICT for d in dims)
                shape = tuple(None if d is _CONFLICT else d for d in dims)
        if conflict:
            note = (f"node '{node.name}': output {i}: graphscope's rule gives "
                    f"{o.shape_str()}, onnx's gives {t.shape_str()}; left unknown")
            node.meta["shape_conflict"] = note
            warnings = graph.metadata.setdefault("warnings", [])
            if note not in warnings:
                warnings.append(note)
        out.append(TensorType(t.dtype or o.dtype, shape))
    return out


_CONFLICT = object()


def _agree_dim(ours: Dim, theirs: Dim):
    if theirs is None or ours == theirs:
        return ours
    if ours is None:
        return theirs
    if isinstance(ours, int) and isinstance(theirs, int):
        return _CONFLICT
    if isinstance(theirs, int):  # a symbol of ours that onnx knows the size of
        return theirs
    return ours if isinstance(ours, str) else _CONFLICT  # our expression over onnx's symbol


def _known(t: TensorType) -> bool:
    return t.shape is not None and t.dtype is not None and all(d is not None for d in t.shape)


def _merge(old: TensorType, new: TensorType) -> TensorType:
    """Prefer what is known: the file's dims where ours are unknown, and vice versa."""
    if new.shape is None:
        shape = old.shape
    elif old.shape is None or len(old.shape) != len(new.shape):
        shape = new.shape
    else:
        shape = tuple(n if n is not None else o for o, n in zip(old.shape, new.shape))
    return TensorType(new.dtype or old.dtype, shape)
