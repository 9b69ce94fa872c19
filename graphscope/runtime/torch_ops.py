"""ONNX operators as plain torch functions, each written once: the torch interpreter
(runtime/torch.py) calls them, and the PyTorch source generator (convert/torch_source.py) copies
their text into the generated file and calls them there, so the two cannot disagree.

Rules for this module (the generator copies functions verbatim):
- a function only uses ``torch``, ``F`` (torch.nn.functional), builtins and the functions and
  constants defined here; no other imports;
- ONNX inputs are positional-only (None for an omitted optional input), ONNX attributes are
  keyword-only with the operator's defaults; one tensor or a tuple (one per output) back;
- ``@onnx_op("Name")`` registers it; the name in OPS is the canonical op.
Semantics follow the ONNX operator specification (rounding, integer types, broadcasting).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

OPS: dict = {}


def onnx_op(*names, multi_output=False):
    """Register ``fn`` for ops ``names``; ``multi_output``: it returns a tuple."""
    def register(fn):
        for name in names:
            OPS[name] = fn
        fn.multi_output = multi_output
        return fn
    return register


# -- helpers -------------------------------------------------------------------------------------
ONNX_TORCH_DTYPES = {
    1: torch.float32, 2: torch.uint8, 3: torch.int8, 4: torch.uint16, 5: torch.int16,
    6: torch.int32, 7: torch.int64, 9: torch.bool, 10: torch.float16, 11: torch.float64,
    12: torch.uint32, 13: torch.uint64, 14: torch.complex64, 15: torch.complex128,
    16: torch.bfloat16, 17: torch.float8_e4m3fn, 18: torch.float8_e4m3fnuz,
    19: torch.float8_e5m2, 20: torch.float8_e5m2fnuz, 24: torch.float8_e8m0fnu}
WIDE_UNSIGNED = (torch.uint16, torch.uint32, torch.uint64)
FLOAT8 = (torch.float8_e4m3fn, torch.float8_e4m3fnuz, torch.float8_e5m2, torch.float8_e5m2fnuz)


def onnx_dtype(to):
    if to not in ONNX_TORCH_DTYPES:
        raise NotImplementedError(f"ONNX element type {to} has no torch form")
    return ONNX_TORCH_DTYPES[to]


def widen(*xs):
    """uint16/32/64 tensors as int64 (torch has little arithmetic for them); others as is."""
    return [x.to(torch.int64) if x.dtype in WIDE_UNSIGNED else x for x in xs]


def as_ints(t):
    """A small tensor (or list, or None) as a list of Python ints."""
    if t is None:
        return None
    if isinstance(t, torch.Tensor):
        return [int(v) for v in t.reshape(-1).tolist()]
    return [int(v) for v in t]


def norm_axes(axes, rank):
    return [a + rank if a < 0 else a for a in axes]


# -- elementwise ----------------------------------------------------------------------------------
def binary(fn, a, b):
    """``fn`` on a and b, computed wide for uint16/32/64 and cast back."""
    dtype = a.dtype
    wa, wb = widen(a, b)
    out = fn(wa, wb)
    return out.to(dtype) if dtype in WIDE_UNSIGNED and out.dtype != torch.bool else out


def compare(fn, a, b):
    wa, wb = widen(a, b)
    return fn(wa, wb)


@onnx_op("Add")
def onnx_add(a, b, /):
    return binary(torch.add, a, b)


@onnx_op("Sub")
def onnx_sub(a, b, /):
    return binary(torch.sub, a, b)


@onnx_op("Mul")
def onnx_mul(a, b, /):
    if a.dtype == torch.bool:
        return a & b
    return binary(torch.mul, a, b)


@onnx_op("Div")
def onnx_div(a, b, /):
    if a.dtype.is_floating_point:
        return a / b
    return binary(lambda x, y: torch.div(x, y, rounding_mode="trunc"), a, b)


@onnx_op("Mod")
def onnx_mod(a, b, /, *, fmod=0):
    if fmod:
        return binary(torch.fmod, a, b)
    return binary(torch.remainder, a, b)


@onnx_op("Pow")
def onnx_pow(x, y, /):
    if not x.dtype.is_floating_point and y.dtype.is_floating_point:
        return torch.pow(x.to(torch.float64), y).to(x.dtype)
    if x.dtype.is_floating_point and y.dtype != x.dtype:
        return torch.pow(x, y.to(x.dtype))
    return binary(torch.pow, x, y)


@onnx_op("BitShift")
def onnx_bit_shift(x, y, /, *, direction):
    if direction == "LEFT":
        return binary(torch.bitwise_left_shift, x, y)
    return binary(torch.bitwise_right_shift, x, y)


@onnx_op("BitwiseAnd")
def onnx_bitwise_and(a, b, /):
    return binary(torch.bitwise_and, a, b)


@onnx_op("BitwiseOr")
def onnx_bitwise_or(a, b, /):
    return binary(torch.bitwise_or, a, b)


@onnx_op("BitwiseXor")
def onnx_bitwise_xor(a, b, /):
    return binary(torch.bitwise_xor, a, b)


@onnx_op("BitwiseNot")
def onnx_bitwise_not(x, /):
    if x.dtype in WIDE_UNSIGNED:
        return torch.bitwise_not(x.to(torch.int64)).to(x.dtype)
    return torch.bitwise_not(x)


@onnx_op("And")
def onnx_and(a, b, /):
    return torch.logical_and(a, b)


@onnx_op("Or")
def onnx_or(a, b, /):
    return torch.logical_or(a, b)


@onnx_op("Xor")
def onnx_xor(a, b, /):
    return torch.logical_xor(a, b)


@onnx_op("Equal")
def onnx_equal(a, b, /):
    return compare(torch.eq, a, b)


@onnx_op("Greater")
def onnx_greater(a, b, /):
    return compare(torch.gt, a, b)


@onnx_op("Less")
def onnx_less(a, b, /):
    return compare(torch.lt, a, b)


@onnx_op("GreaterOrEqual")
def onnx_greater_or_equal(a, b, /):
    return compare(torch.ge, a, b)


@onnx_op("LessOrEqual")
def onnx_less_or_equal(a, b, /):
    return compare(torch.le, a, b)


def variadic(fn, xs):
    xs = [x for x in xs if x is not None]
    dtype = xs[0].dtype
    wide = widen(*xs)
    out = wide[0]
    for x in wide[1:]:
        out = fn(out, x)
    return out.to(dtype)


@onnx_op("Max")
def onnx_max(*xs):
    return variadic(torch.maximum, xs)


@onnx_op("Min")
def onnx_min(*xs):
    return variadic(torch.minimum, xs)


@onnx_op("Sum")
def onnx_sum(*xs):
    return variadic(torch.add, xs)


@onnx_op("Mean")
def onnx_mean(*xs):
    return variadic(torch.add, xs) / len([x for x in xs if x is not None])


@onnx_op("Clip")
def onnx_clip(x, lo=None, hi=None, /, *, min=None, max=None):
    lo = min if lo is None else lo
    hi = max if hi is None else hi
    dtype = x.dtype
    (x,) = widen(x)
    if lo is not None:
        x = torch.maximum(x, torch.as_tensor(lo, dtype=x.dtype))
    if hi is not None:
        x = torch.minimum(x, torch.as_tensor(hi, dtype=x.dtype))
    return x.to(dtype)


@onnx_op("IsNaN")
def onnx_is_nan(x, /):
    return torch.isnan(x)


@onnx_op("IsInf")
def onnx_is_inf(x, /, *, detect_negative=1, detect_positive=1):
    return (torch.isposinf(x) & bool(detect_positive)) | (torch.isneginf(x) & bool(detect_negative))


@onnx_op("Acos")
def onnx_acos(x, /):
    return torch.acos(x)


@onnx_op("Acosh")
def onnx_acosh(x, /):
    return torch.acosh(x)


@onnx_op("Asin")
def onnx_asin(x, /):
    return torch.asin(x)


@onnx_op("Asinh")
def onnx_asinh(x, /):
    return torch.asinh(x)


@onnx_op("Atan")
def onnx_atan(x, /):
    return torch.atan(x)


@onnx_op("Atanh")
def onnx_atanh(x, /):
    return torch.atanh(x)


@onnx_op("Cosh")
def onnx_cosh(x, /):
    return torch.cosh(x)


@onnx_op("Sinh")
def onnx_sinh(x, /):
    return torch.sinh(x)


@onnx_op("Tan")
def onnx_tan(x, /):
    return torch.tan(x)


@onnx_op("Softsign")
def onnx_softsign(x, /):
    return x / (1 + x.abs())


@onnx_op("Mish")
def onnx_mish(x, /):
    return x * torch.tanh(F.softplus(x))


@onnx_op("Selu")
def onnx_selu(x, /, *, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875):
    return gamma * torch.where(x > 0, x, alpha * (torch.exp(x) - 1))


@onnx_op("Celu")
def onnx_celu(x, /, *, alpha=1.0):
    return torch.clamp(x, min=0) + torch.clamp(alpha * (torch.exp(x / alpha) - 1), max=0)


@onnx_op("ThresholdedRelu")
def onnx_thresholded_relu(x, /, *, alpha=1.0):
    return torch.where(x > alpha, x, torch.zeros_like(x))


@onnx_op("Shrink")
def onnx_shrink(x, /, *, bias=0.0, lambd=0.5):
    out = torch.where(x < -lambd, x + bias, torch.where(x > lambd, x - bias, torch.zeros_like(x)))
    return out.to(x.dtype)


@onnx_op("Swish")
def onnx_swish(x, /, *, alpha=1.0):
    return x * torch.sigmoid(alpha * x)


@onnx_op("HardSigmoid")
def onnx_hard_sigmoid(x, /, *, alpha=0.2, beta=0.5):
    return torch.clamp(alpha * x + beta, 0, 1)


@onnx_op("HardSwish")
def onnx_hard_swish(x, /):
    return x * torch.clamp(x / 6 + 0.5, 0, 1)


@onnx_op("LeakyRelu")
def onnx_leaky_relu(x, /, *, alpha=0.01):
    return torch.where(x >= 0, x, alpha * x)


@onnx_op("Elu")
def onnx_elu(x, /, *, alpha=1.0):
    return torch.where(x > 0, x, alpha * (torch.exp(x) - 1))


@onnx_op("Softplus")
def onnx_softplus(x, /):
    return F.softplus(x)  # ln(exp(x) + 1), linear past 20 where exp would overflow


@onnx_op("Gelu")
def onnx_gelu(x, /, *, approximate="none"):
    return F.gelu(x, approximate=approximate)


@onnx_op("PRelu")
def onnx_prelu(x, slope, /):
    return torch.where(x >= 0, x, x * slope)


@onnx_op("Sign")
def onnx_sign(x, /):
    return torch.sign(x)


@onnx_op("Abs")
def onnx_abs(x, /):
    return torch.abs(x) if x.dtype not in WIDE_UNSIGNED else x


@onnx_op("Neg")
def onnx_neg(x, /):
    return torch.neg(x)


@onnx_op("Not")
def onnx_not(x, /):
    return torch.logical_not(x)


@onnx_op("Where")
def onnx_where(cond, a, b, /):
    return torch.where(cond.bool(), a, b)


# -- types and shapes -----------------------------------------------------------------------------
def cast_to(x, dtype, saturate=1, round_mode="up"):
    if x.dtype == dtype:
        return x
    if dtype == torch.float8_e8m0fnu and x.dtype != torch.float8_e8m0fnu:
        return to_e8m0(x, saturate, round_mode)
    if dtype in FLOAT8 and x.dtype.is_floating_point:
        big = torch.finfo(dtype).max
        x = x.to(torch.float32)
        if saturate:
            x = torch.where(torch.isnan(x), x, x.clamp(-big, big))
        elif dtype in (torch.float8_e5m2,):
            x = torch.where(x.abs() > big, x * float("inf"), x)
        else:
            x = torch.where(x.abs() > big, torch.full_like(x, float("nan")), x)
        return x.to(dtype)
    if x.dtype in FLOAT8 or x.dtype == torch.float8_e8m0fnu:
        x = x.to(torch.float32)
    if dtype == torch.bool:
        return x != 0
    if not dtype.is_floating_point and x.dtype.is_floating_point:
        if dtype in WIDE_UNSIGNED or dtype == torch.uint8:
            return x.to(torch.int64).to(dtype)
    return x.to(dtype)


def to_e8m0(x, saturate, round_mode):
    """float8_e8m0fnu (a bare power-of-two exponent) from float32's exponent bits, rounded
    as ONNX says: 'up' when any fraction bit is set, 'nearest' on the guard bit (ties to
    even), 'down' never; NaN and infinity become NaN (0xFF)."""
    bits = x.to(torch.float32).view(torch.int32)
    exponent = (bits >> 23) & 0xFF
    special = exponent == 0xFF
    if round_mode == "up":
        up = (bits & 0x7FFFFF) != 0
    elif round_mode == "nearest":
        guard = (bits & 0x400000) != 0
        up = guard & (((bits & 0x3FFFFF) != 0) | (exponent > 0))
    else:
        up = torch.zeros_like(special)
    if saturate:
        up = up & (exponent != 0xFE)
    exponent = torch.where(special, 0xFF, exponent + up.to(torch.int32))
    return exponent.to(torch.uint8).view(torch.float8_e8m0fnu)


@onnx_op("Cast")
def onnx_cast(x, /, *, to, saturate=1, round_mode="up"):
    return cast_to(x, onnx_dtype(to), saturate, round_mode)


@onnx_op("CastLike")
def onnx_cast_like(x, like, /, *, saturate=1, round_mode="up"):
    return cast_to(x, like.dtype, saturate, round_mode)


@onnx_op("Constant")
def onnx_constant(*, value=None, value_float=None, value_floats=None, value_int=None,
                  value_ints=None, sparse_value=None):
    if value is not None:
        return value
    if value_float is not None:
        return torch.tensor(value_float, dtype=torch.float32)
    if value_floats is not None:
        return torch.tensor(value_floats, dtype=torch.float32)
    if value_int is not None:
        return torch.tensor(value_int, dtype=torch.int64)
    return torch.tensor(value_ints, dtype=torch.int64)


@onnx_op("Identity")
def onnx_identity(x, /):
    return x


@onnx_op("Shape")
def onnx_shape(x, /, *, start=0, end=None):
    return torch.tensor(list(x.shape)[start:end], dtype=torch.int64)


@onnx_op("Size")
def onnx_size(x, /):
    return torch.tensor(x.numel(), dtype=torch.int64)


@onnx_op("ConstantOfShape")
def onnx_constant_of_shape(shape, /, *, value=None):
    if value is None:
        return torch.zeros(as_ints(shape), dtype=torch.float32)
    return value.reshape(-1)[0].expand(as_ints(shape)).clone()


@onnx_op("Range")
def onnx_range(start, limit, delta, /):
    n = max(int(torch.ceil((limit.double() - start.double()) / delta.double())), 0)
    return start + torch.arange(n, dtype=start.dtype) * delta


@onnx_op("EyeLike")
def onnx_eye_like(x, /, *, dtype=None, k=0):
    out = torch.ones(x.shape[0], x.shape[1]).triu(k).tril(k)
    return out.to(x.dtype if dtype is None else onnx_dtype(dtype))


@onnx_op("Trilu")
def onnx_trilu(x, k=None, /, *, upper=1):
    k = 0 if k is None else int(k)
    return torch.triu(x, k) if upper else torch.tril(x, k)


@onnx_op("Reshape")
def onnx_reshape(x, shape, /, *, allowzero=0):
    shape = as_ints(shape)
    if not allowzero:
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return x.reshape(shape)


@onnx_op("Expand")
def onnx_expand(x, shape, /):
    shape = as_ints(shape)
    rank = max(len(shape), x.dim())
    dims = [1] * (rank - x.dim()) + list(x.shape)
    shape = [1] * (rank - len(shape)) + shape
    target = [d if s == 1 else s for d, s in zip(dims, shape)]
    return x.reshape(dims).expand(target).clone()


@onnx_op("Tile")
def onnx_tile(x, repeats, /):
    return x.repeat(*as_ints(repeats))


@onnx_op("Squeeze")
def onnx_squeeze(x, axes_in=None, /, *, axes=None):
    axes = as_ints(axes_in) if axes_in is not None else axes
    if axes is None:
        return x.squeeze()
    for a in sorted(norm_axes(axes, x.dim()), reverse=True):
        x = x.squeeze(a)
    return x


@onnx_op("Unsqueeze")
def onnx_unsqueeze(x, axes_in=None, /, *, axes=None):
    axes = as_ints(axes_in) if axes_in is not None else axes
    for a in sorted(norm_axes(axes, x.dim() + len(axes))):
        x = x.unsqueeze(a)
    return x


@onnx_op("Flatten")
def onnx_flatten(x, /, *, axis=1):
    axis = axis + x.dim() if axis < 0 else axis
    outer = 1
    for d in x.shape[:axis]:
        outer *= d
    return x.reshape(outer, -1)


@onnx_op("Transpose")
def onnx_transpose(x, /, *, perm=None):
    return x.permute(*(perm if perm is not None else range(x.dim() - 1, -1, -1)))


@onnx_op("Concat")
def onnx_concat(*xs, axis):
    return torch.cat([x for x in xs if x is not None], dim=axis)


@onnx_op("Split", multi_output=True)
def onnx_split(x, split_in=None, /, *, axis=0, split=None, num_outputs=None, n_outputs=1):
    sizes = as_ints(split_in) if split_in is not None else split
    if sizes is None:
        num_outputs = num_outputs or n_outputs
        n = x.shape[axis]
        chunk = -(-n // num_outputs)
        sizes = [min(chunk, n - i * chunk) for i in range(num_outputs)]
    return tuple(torch.split(x, list(sizes), dim=axis))


@onnx_op("Slice")
def onnx_slice(x, starts, ends, axes=None, steps=None, /):
    starts, ends = as_ints(starts), as_ints(ends)
    axes = norm_axes(as_ints(axes), x.dim()) if axes is not None else list(range(len(starts)))
    steps = as_ints(steps) if steps is not None else [1] * len(starts)
    for s, e, a, st in zip(starts, ends, axes, steps):
        idx = torch.arange(*slice(s, e, st).indices(x.shape[a]))
        x = x.index_select(a, idx)
    return x


@onnx_op("Pad")
def onnx_pad(x, pads_in=None, value_in=None, axes_in=None, /, *, mode="constant", pads=None,
             value=0.0):
    pads = as_ints(pads_in) if pads_in is not None else pads
    if value_in is not None and value_in.numel():
        value = value_in.reshape(-1)[0].item()
    n = x.dim()
    axes = norm_axes(as_ints(axes_in), n) if axes_in is not None else list(range(n))
    k = len(axes)
    full = [0] * (2 * n)
    for i, a in enumerate(axes):
        full[a], full[a + n] = pads[i], pads[i + k]
    # negative pads crop
    crop = [slice(max(-full[i], 0), x.shape[i] - max(-full[i + n], 0)) for i in range(n)]
    x = x[tuple(crop)]
    order = []
    for i in reversed(range(n)):
        order += [max(full[i], 0), max(full[i + n], 0)]
    if not any(order):
        return x
    if mode == "constant":
        return F.pad(x, order, value=value)
    if mode == "wrap":
        for i in range(n):
            b, e = max(full[i], 0), max(full[i + n], 0)
            if b or e:
                size = x.shape[i]
                idx = torch.arange(-b, size + e) % size
                x = x.index_select(i, idx)
        return x
    # reflect / edge on any axes: index arithmetic, one axis at a time
    for i in range(n):
        b, e = max(full[i], 0), max(full[i + n], 0)
        if b or e:
            size = x.shape[i]
            idx = torch.arange(-b, size + e)
            if mode == "edge":
                idx = idx.clamp(0, size - 1)
            else:
                period = 2 * (size - 1)
                idx = idx.abs() % period
                idx = torch.where(idx >= size, period - idx, idx)
            x = x.index_select(i, idx)
    return x


@onnx_op("Gather")
def onnx_gather(x, idx, /, *, axis=0):
    axis = axis + x.dim() if axis < 0 else axis
    idx = idx.long()
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    out = x.index_select(axis, idx.reshape(-1))
    return out.reshape(tuple(x.shape[:axis]) + tuple(idx.shape) + tuple(x.shape[axis + 1:]))


@onnx_op("GatherElements")
def onnx_gather_elements(x, idx, /, *, axis=0):
    idx = idx.long()
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    return torch.gather(x, axis, idx)


@onnx_op("GatherND")
def onnx_gather_nd(x, idx, /, *, batch_dims=0):
    idx = idx.long()
    b = batch_dims
    batch = list(x.shape[:b])
    nb = 1
    for d in batch:
        nb *= d
    k = idx.shape[-1]
    xs = x.reshape([nb] + list(x.shape[b:]))
    ids = idx.reshape(nb, -1, k)
    dims = torch.tensor(list(x.shape[b:b + k]))
    ids = torch.where(ids < 0, ids + dims, ids)
    rows = [xs[i][tuple(ids[i, :, j] for j in range(k))] for i in range(nb)]
    out = torch.stack(rows) if rows else xs[:0]
    return out.reshape(list(idx.shape[:-1]) + list(x.shape[b + k:]))


def scatter_reduce(out, idx, upd, reduction):
    """out[idx] (op)= upd for flat positions ``idx`` of ``out`` (1-D view), in order."""
    if reduction == "none":
        return out.index_put((idx,), upd)
    mode = {"add": "sum", "mul": "prod", "max": "amax", "min": "amin"}[reduction]
    return out.scatter_reduce(0, idx, upd, mode, include_self=True)


@onnx_op("ScatterND")
def onnx_scatter_nd(x, idx, upd, /, *, reduction="none"):
    idx = idx.long()
    k = idx.shape[-1]
    dims = list(x.shape)
    ids = idx.reshape(-1, k)
    ids = torch.where(ids < 0, ids + torch.tensor(dims[:k]), ids)
    inner = 1
    for d in dims[k:]:
        inner *= d
    strides = [1] * k
    for i in range(k - 2, -1, -1):
        strides[i] = strides[i + 1] * dims[i + 1]
    base = (ids * torch.tensor(strides)).sum(-1) * inner
    flat_idx = (base.unsqueeze(1) + torch.arange(inner)).reshape(-1)
    out = scatter_reduce(x.reshape(-1).clone(), flat_idx, upd.reshape(-1), reduction)
    return out.reshape(dims)


@onnx_op("ScatterElements", "Scatter")
def onnx_scatter_elements(x, idx, upd, /, *, axis=0, reduction="none"):
    idx = idx.long()
    axis = axis + x.dim() if axis < 0 else axis
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    if reduction == "none":
        return x.scatter(axis, idx, upd)
    mode = {"add": "sum", "mul": "prod", "max": "amax", "min": "amin"}[reduction]
    return x.scatter_reduce(axis, idx, upd, mode, include_self=True)


@onnx_op("OneHot")
def onnx_one_hot(idx, depth, values, /, *, axis=-1):
    depth = int(depth.reshape(-1)[0])
    idx = idx.to(torch.int64)
    idx = torch.where(idx < 0, idx + depth, idx)
    hot = (idx.unsqueeze(-1) == torch.arange(depth))
    out = torch.where(hot, values[1], values[0])
    axis = axis + out.dim() if axis < 0 else axis
    return out.movedim(-1, axis)


@onnx_op("NonZero")
def onnx_non_zero(x, /):
    return torch.nonzero(x).t().contiguous().to(torch.int64)


@onnx_op("Compress")
def onnx_compress(x, cond, /, *, axis=None):
    keep = torch.nonzero(cond.bool()).reshape(-1)
    if axis is None:
        return x.reshape(-1).index_select(0, keep)
    return x.index_select(axis, keep)


@onnx_op("ReverseSequence")
def onnx_reverse_sequence(x, lens, /, *, batch_axis=1, time_axis=0):
    out = x.clone()
    for b in range(x.shape[batch_axis]):
        n = int(lens[b])
        row = x.select(batch_axis, b)
        t = time_axis if time_axis < batch_axis else time_axis - 1
        rev = torch.cat([row.narrow(t, 0, n).flip(t), row.narrow(t, n, row.shape[t] - n)], t)
        out.select(batch_axis, b).copy_(rev)
    return out


@onnx_op("Einsum")
def onnx_einsum(*xs, equation):
    return torch.einsum(equation, *xs)


@onnx_op("CumSum")
def onnx_cum_sum(x, axis, /, *, exclusive=0, reverse=0):
    return cumulative(torch.cumsum, 0, x, int(axis), exclusive, reverse)


@onnx_op("CumProd")
def onnx_cum_prod(x, axis, /, *, exclusive=0, reverse=0):
    return cumulative(torch.cumprod, 1, x, int(axis), exclusive, reverse)


def cumulative(fn, neutral, x, axis, exclusive, reverse):
    if reverse:
        x = x.flip(axis)
    if exclusive:
        first = torch.full_like(x.narrow(axis, 0, 1), neutral)
        x = torch.cat([first, x.narrow(axis, 0, x.shape[axis] - 1)], axis)
    (w,) = widen(x)
    out = fn(w, axis).to(x.dtype)
    return out.flip(axis) if reverse else out


# -- reductions ----------------------------------------------------------------------------------
def reduce_axes(x, axes_in, axes, noop_with_empty_axes):
    """The axes to reduce; None means 'leave x as it is' (noop_with_empty_axes)."""
    axes = as_ints(axes_in) if axes_in is not None else axes
    if not axes:
        return None if noop_with_empty_axes else list(range(x.dim()))
    return norm_axes(axes, x.dim())


def reduce(fn, x, axes_in, axes, keepdims, noop_with_empty_axes):
    dims = reduce_axes(x, axes_in, axes, noop_with_empty_axes)
    if dims is None:
        return x
    return fn(x, dims, bool(keepdims))


def _extreme(x, dims, keep, largest):
    if x.numel() == 0:  # the identity of max is -inf (min: +inf) for empty reductions
        shape = [1 if i in dims else d for i, d in enumerate(x.shape)] if keep else \
            [d for i, d in enumerate(x.shape) if i not in dims]
        if x.dtype == torch.bool:
            fill = not largest
        elif x.dtype.is_floating_point:
            fill = float("-inf") if largest else float("inf")
        else:
            info = torch.iinfo(x.dtype)
            fill = info.min if largest else info.max
        return torch.full(shape, fill, dtype=x.dtype)
    (w,) = widen(x)
    out = torch.amax(w, dims, keep) if largest else torch.amin(w, dims, keep)
    return out.to(x.dtype)


@onnx_op("ReduceMax")
def onnx_reduce_max(x, axes_in=None, /, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return reduce(lambda t, d, k: _extreme(t, d, k, True), x, axes_in, axes, keepdims,
                  noop_with_empty_axes)


@onnx_op("ReduceMin")
def onnx_reduce_min(x, axes_in=None, /, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return reduce(lambda t, d, k: _extreme(t, d, k, False), x, axes_in, axes, keepdims,
                  noop_with_empty_axes)


@onnx_op("ReduceSum")
def onnx_reduce_sum(x, axes_in=None, /, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return reduce(lambda t, d, k: torch.sum(t, d, k, dtype=t.dtype), x, axes_in, axes,
                  keepdims, noop_with_empty_axes)


@onnx_op("ReduceMean")
def onnx_reduce_mean(x, axes_in=None, /, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return reduce(lambda t, d, k: torch.mean(t, d, k), x, axes_in, axes, keepdims,
                  noop_with_empty_axes)


@onnx_op("ReduceProd")
def onnx_reduce_prod(x, axes_in=None, /, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    def prod(t, dims, keep):
        for d in sorted(dims, reverse=True):
            t = torch.prod(t, d, keepdim=bool(keep))
        return t
    return reduce(prod, x, axes_in, axes, keepdims, noop_with_empty_axes)


@onnx_op("ReduceL1")
def onnx_reduce_l1(x, axes_in=None, /, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return reduce(lambda t, d, k: torch.sum(t.abs(), d, k), x, axes_in, axes, keepdims,
                  noop_with_empty_axes)


@onnx_op("ReduceL2")
def onnx_reduce_l2(x, axes_in=None, /, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return reduce(lambda t, d, k: torch.sqrt(torch.sum(t * t, d, k)).to(t.dtype), x, axes_in,
                  axes, keepdims, noop_with_empty_axes)


@onnx_op("ReduceSumSquare")
def onnx_reduce_sum_square(x, axes_in=None, /, *, axes=None, keepdims=1,
                           noop_with_empty_axes=0):
    return reduce(lambda t, d, k: torch.sum(t * t, d, k), x, axes_in, axes, keepdims,
                  noop_with_empty_axes)


@onnx_op("ReduceLogSum")
def onnx_reduce_log_sum(x, axes_in=None, /, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return reduce(lambda t, d, k: torch.log(torch.sum(t, d, k)), x, axes_in, axes, keepdims,
                  noop_with_empty_axes)


@onnx_op("ReduceLogSumExp")
def onnx_reduce_log_sum_exp(x, axes_in=None, /, *, axes=None, keepdims=1,
                            noop_with_empty_axes=0):
    def lse(t, dims, keep):
        if t.numel() == 0:
            return torch.log(torch.sum(torch.exp(t), dims, keep))
        return torch.logsumexp(t.double(), dims, keep).to(t.dtype)
    return reduce(lse, x, axes_in, axes, keepdims, noop_with_empty_axes)


def arg_extreme(x, axis, keepdims, select_last_index, largest):
    if select_last_index:
        x = x.flip(axis)
    out = torch.argmax(x, axis, True) if largest else torch.argmin(x, axis, True)
    if select_last_index:
        out = x.shape[axis] - 1 - out
    return out if keepdims else out.squeeze(axis)


@onnx_op("ArgMax")
def onnx_arg_max(x, /, *, axis=0, keepdims=1, select_last_index=0):
    return arg_extreme(x, axis, keepdims, select_last_index, True)


@onnx_op("ArgMin")
def onnx_arg_min(x, /, *, axis=0, keepdims=1, select_last_index=0):
    return arg_extreme(x, axis, keepdims, select_last_index, False)


@onnx_op("TopK", multi_output=True)
def onnx_top_k(x, k, /, *, axis=-1, largest=1, sorted=1):
    k = int(k.reshape(-1)[0])
    axis = axis + x.dim() if axis < 0 else axis
    (wide,) = widen(x)  # torch sorts and gathers no uint16/32/64
    # a stable sort keeps equal values in index order, as ONNX asks
    order = torch.sort(wide, dim=axis, descending=bool(largest), stable=True).indices
    idx = order.narrow(axis, 0, k)
    return torch.gather(wide, axis, idx).to(x.dtype), idx


@onnx_op("Hardmax")
def onnx_hardmax(x, /, *, axis=-1):
    idx = torch.argmax(x, axis, True)
    return torch.zeros_like(x).scatter(axis, idx, 1.0)


def coerce_2d(fn, x, axis):
    """Softmax-family ops before opset 13 work on x flattened to 2-D at ``axis``."""
    shape = x.shape
    return fn(x.reshape(int(torch.tensor(shape[:axis]).prod()), -1), 1).reshape(shape)


@onnx_op("Softmax")
def onnx_softmax(x, /, *, axis=-1):
    return torch.softmax(x, axis)


@onnx_op("LogSoftmax")
def onnx_log_softmax(x, /, *, axis=-1):
    return torch.log_softmax(x, axis)


# -- normalization --------------------------------------------------------------------------------
def stash(x, stash_type):
    return x.to(torch.float32) if stash_type == 1 and x.dtype != torch.float64 else x


@onnx_op("LayerNormalization", multi_output=True)
def onnx_layer_normalization(x, scale, bias=None, /, *, axis=-1, epsilon=1e-5, stash_type=1):
    axis = axis + x.dim() if axis < 0 else axis
    dims = list(range(axis, x.dim()))
    xs = stash(x, stash_type)
    mean = xs.mean(dims, keepdim=True)
    var = ((xs - mean) ** 2).mean(dims, keepdim=True)
    inv = 1 / torch.sqrt(var + epsilon)
    y = ((xs - mean) * inv).to(x.dtype) * scale
    if bias is not None:
        y = y + bias
    return y, mean, inv


@onnx_op("RMSNormalization")
def onnx_rms_normalization(x, scale, /, *, axis=-1, epsilon=1e-5, stash_type=1):
    axis = axis + x.dim() if axis < 0 else axis
    xs = stash(x, stash_type)
    rms = torch.sqrt((xs * xs).mean(list(range(axis, x.dim())), keepdim=True) + epsilon)
    return (xs / rms).to(x.dtype) * scale


@onnx_op("GroupNormalization")
def onnx_group_normalization(x, scale, bias, /, *, num_groups, epsilon=1e-5, stash_type=1):
    n, c = x.shape[0], x.shape[1]
    xs = stash(x, stash_type).reshape(n, num_groups, -1)
    mean = xs.mean(-1, keepdim=True)
    var = ((xs - mean) ** 2).mean(-1, keepdim=True)
    y = ((xs - mean) / torch.sqrt(var + epsilon)).reshape(x.shape).to(x.dtype)
    if scale.numel() != c:  # opset 18: one scale and bias per group
        scale = scale.repeat_interleave(c // num_groups)
        bias = bias.repeat_interleave(c // num_groups)
    shape = [1, c] + [1] * (x.dim() - 2)
    return y * scale.reshape(shape) + bias.reshape(shape)


@onnx_op("MeanVarianceNormalization")
def onnx_mean_variance_normalization(x, /, *, axes=(0, 2, 3)):
    mean = x.mean(list(axes), keepdim=True)
    var = ((x - mean) ** 2).mean(list(axes), keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-9)


@onnx_op("LpNormalization")
def onnx_lp_normalization(x, /, *, axis=-1, p=2):
    norm = x.abs().sum(axis, keepdim=True) if p == 1 else \
        torch.sqrt((x * x).sum(axis, keepdim=True))
    return torch.where(norm == 0, torch.zeros_like(x), x / norm)


@onnx_op("BatchNormalization", multi_output=True)
def onnx_batch_normalization(x, scale, b, mean, var, /, *, epsilon=1e-5, momentum=0.9,
                             training_mode=0, spatial=1, is_test=0, consumed_inputs=None):
    shape = [1, -1] + [1] * (x.dim() - 2)
    if not training_mode:
        return F.batch_norm(x, mean, var, scale, b, False, 0.0, epsilon), mean, var
    dims = [0] + list(range(2, x.dim()))
    cur_mean = x.mean(dims)
    cur_var = ((x - cur_mean.reshape(shape)) ** 2).mean(dims)
    y = (x - cur_mean.reshape(shape)) / torch.sqrt(cur_var.reshape(shape) + epsilon)
    y = y * scale.reshape(shape) + b.reshape(shape)
    return (y, mean * momentum + cur_mean * (1 - momentum),
            var * momentum + cur_var * (1 - momentum))


@onnx_op("Dropout", multi_output=True)
def onnx_dropout(x, ratio_in=None, training_in=None, /, *, seed=None, ratio=0.5, is_test=0):
    if ratio_in is not None:
        ratio = float(ratio_in)
    if training_in is None or not bool(training_in) or ratio == 0:
        return x, torch.ones(x.shape, dtype=torch.bool)
    mask = torch.rand(x.shape) >= ratio
    return x * mask / (1 - ratio), mask


# -- pooling --------------------------------------------------------------------------------------
def pool_pads(x, kernel, strides, dilations, pads, auto_pad, ceil_mode):
    """Explicit [begins..., ends...] pads and the output sizes, as ONNX computes them."""
    n = len(kernel)
    sizes = list(x.shape[2:])
    pads = list(pads) if pads else [0] * (2 * n)
    out = []
    for i in range(n):
        span = (kernel[i] - 1) * dilations[i] + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-sizes[i] // strides[i])
            total = max((o - 1) * strides[i] + span - sizes[i], 0)
            small = total // 2
            pads[i], pads[i + n] = (small, total - small) if auto_pad == "SAME_UPPER" else \
                (total - small, small)
        elif auto_pad == "VALID":
            pads[i] = pads[i + n] = 0
        room = sizes[i] + pads[i] + pads[i + n] - span
        o = (-(-room // strides[i]) if ceil_mode else room // strides[i]) + 1
        if ceil_mode and (o - 1) * strides[i] >= sizes[i] + pads[i]:
            o -= 1  # the last window must start inside the input or its left padding
        out.append(o)
    return pads, out


def pool_windows(x, kernel, strides, dilations, pads, out, value):
    """x padded (``value``) and cut into windows: [N, C, *out, prod(kernel)]."""
    n = len(kernel)
    order = []
    for i in reversed(range(n)):
        span = (kernel[i] - 1) * dilations[i] + 1
        extra = max((out[i] - 1) * strides[i] + span - (x.shape[2 + i] + pads[i] + pads[i + n]),
                    0)
        order += [pads[i], pads[i + n] + extra]
    x = F.pad(x, order, value=value)
    for i in range(n):
        span = (kernel[i] - 1) * dilations[i] + 1
        x = x.unfold(2 + i, span, strides[i]).narrow(2 + i, 0, out[i])
        x = x[..., ::dilations[i]]
    # x: [N, C, o1..on, k1..kn]
    return x.reshape(list(x.shape[:2 + n]) + [-1])


@onnx_op("AveragePool")
def onnx_average_pool(x, /, *, kernel_shape, auto_pad="NOTSET", ceil_mode=0,
                      count_include_pad=0, dilations=None, pads=None, strides=None):
    n = len(kernel_shape)
    strides = strides or [1] * n
    dilations = dilations or [1] * n
    pads, out = pool_pads(x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode)
    total = pool_windows(x, kernel_shape, strides, dilations, pads, out, 0.0).sum(-1)
    ones = torch.ones([1, 1] + list(x.shape[2:]), dtype=x.dtype)
    if count_include_pad:  # padding counts, the ceil-mode overhang does not
        ones = F.pad(ones, [p for i in reversed(range(n)) for p in (pads[i], pads[i + n])],
                     value=1.0)
        pads = [0] * (2 * n)
    count = pool_windows(ones, kernel_shape, strides, dilations, pads, out, 0.0).sum(-1)
    return total / count


@onnx_op("LpPool")
def onnx_lp_pool(x, /, *, kernel_shape, auto_pad="NOTSET", ceil_mode=0, dilations=None,
                 pads=None, strides=None, p=2):
    n = len(kernel_shape)
    strides = strides or [1] * n
    dilations = dilations or [1] * n
    pads, out = pool_pads(x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode)
    w = pool_windows(x, kernel_shape, strides, dilations, pads, out, 0.0)
    return (w.abs() ** p).sum(-1) ** (1.0 / p)


@onnx_op("MaxPool", multi_output=True)
def onnx_max_pool(x, /, *, kernel_shape, auto_pad="NOTSET", ceil_mode=0, dilations=None,
                  pads=None, storage_order=0, strides=None):
    n = len(kernel_shape)
    strides = strides or [1] * n
    dilations = dilations or [1] * n
    pads, out = pool_pads(x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode)
    low = float("-inf") if x.dtype.is_floating_point else torch.iinfo(x.dtype).min
    xf = x if x.dtype.is_floating_point else x.to(torch.float64)
    w = pool_windows(xf, kernel_shape, strides, dilations, pads, out, low)
    values, where = w.max(-1)
    # the flat index (into N*C*H*W, row major; storage_order 1: column major) of each max
    idx = torch.arange(x.numel()).reshape(x.shape).to(torch.float64)
    if storage_order:
        sizes = list(x.shape[2:])
        col = torch.zeros(sizes, dtype=torch.float64)
        stride = 1
        for i in range(n):
            shape = [1] * n
            shape[i] = sizes[i]
            col = col + torch.arange(sizes[i]).reshape(shape) * stride
            stride *= sizes[i]
        plane = x.shape[2:].numel()
        base = torch.arange(x.shape[0] * x.shape[1]).reshape(x.shape[0], x.shape[1])
        idx = col + (base * plane).reshape(list(base.shape) + [1] * n)
    iw = pool_windows(idx, kernel_shape, strides, dilations, pads, out, -1.0)
    indices = torch.gather(iw, -1, where.unsqueeze(-1)).squeeze(-1).to(torch.int64)
    return values.to(x.dtype), indices


@onnx_op("GlobalLpPool")
def onnx_global_lp_pool(x, /, *, p=2):
    dims = list(range(2, x.dim()))
    return (x.abs() ** p).sum(dims, keepdim=True) ** (1.0 / p)


# -- resize ---------------------------------------------------------------------------------------
def resize_source_coords(mode, y, scale, in_len, out_len, roi_start, roi_end):
    """Output positions ``y`` (float64) -> source coordinates, as coordinate_transformation_mode
    says; also the positions to fill with the extrapolation value (tf_crop_and_resize)."""
    out_float = scale * in_len
    outside = None
    if mode == "align_corners":
        x = torch.zeros_like(y) if out_float == 1 else y * (in_len - 1) / (out_float - 1)
    elif mode == "asymmetric":
        x = y / scale
    elif mode == "tf_crop_and_resize":
        if out_float == 1:
            x = torch.full_like(y, (roi_end - roi_start) * (in_len - 1) / 2)
        else:
            x = y * (roi_end - roi_start) * (in_len - 1) / (out_float - 1)
        x = x + roi_start * (in_len - 1)
        outside = (x < 0) | (x > in_len - 1)
    elif mode == "pytorch_half_pixel":
        x = torch.full_like(y, -0.5) if out_float == 1 else (y + 0.5) / scale - 0.5
    elif mode == "half_pixel_symmetric":
        offset = in_len / 2 * (1 - out_len / out_float)
        x = offset + (y + 0.5) / scale - 0.5
    else:  # half_pixel
        x = (y + 0.5) / scale - 0.5
    return x, outside


def cubic_kernel(t, a):
    t = t.abs()
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return torch.where(t <= 1, near, torch.where(t < 2, far, torch.zeros_like(t)))


def resize_weights(x, in_len, mode, nearest_mode, scale, antialias, cubic_coeff_a,
                   exclude_outside):
    """[out, in_len] weights mapping an axis of length in_len to the source coordinates x."""
    base = torch.floor(x)
    if mode == "nearest":
        frac = x - base
        if nearest_mode == "round_prefer_ceil":
            up = frac >= 0.5
        elif nearest_mode == "floor":
            up = torch.zeros_like(frac, dtype=torch.bool)
        elif nearest_mode == "ceil":
            up = frac > 0
        else:  # round_prefer_floor
            up = frac > 0.5
        idx = (base + up.to(base.dtype)).clamp(0, in_len - 1).long()
        return F.one_hot(idx, in_len).to(torch.float64)
    s = min(scale, 1.0) if antialias else 1.0
    support = (1.0 if mode == "linear" else 2.0) / s
    lo = int(-(support // 1)) - 1
    taps = torch.arange(lo, int(support) + 2, dtype=torch.float64)
    pos = base.unsqueeze(1) + taps  # candidate source pixels
    dist = (pos - x.unsqueeze(1)) * s
    if mode == "linear":
        w = (1 - dist.abs()).clamp(min=0)
    else:
        w = cubic_kernel(dist, cubic_coeff_a)
        w = torch.where(dist.abs() < 2, w, torch.zeros_like(w))
    inside = (pos >= 0) & (pos <= in_len - 1)
    if exclude_outside:
        w = torch.where(inside, w, torch.zeros_like(w))
    if antialias or exclude_outside:
        total = w.sum(1, keepdim=True)
        w = w / torch.where(total == 0, torch.ones_like(total), total)
    idx = pos.clamp(0, in_len - 1).long()  # edge padding
    out = torch.zeros(x.shape[0], in_len, dtype=torch.float64)
    return out.scatter_add(1, idx, w)


@onnx_op("Resize")
def onnx_resize(x, roi=None, scales=None, sizes=None, /, *, antialias=0, axes=None,
                coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.75,
                exclude_outside=0, extrapolation_value=0.0, keep_aspect_ratio_policy="stretch",
                mode="nearest", nearest_mode="round_prefer_floor"):
    rank = x.dim()
    axes = norm_axes(axes, rank) if axes is not None else list(range(rank))
    in_sizes = list(x.shape)
    roi = [float(v) for v in roi.reshape(-1).tolist()] if roi is not None and roi.numel() \
        else None
    if roi is not None and len(roi) == 2 * len(axes) and len(axes) != rank:
        full = [0.0] * rank + [1.0] * rank
        for i, a in enumerate(axes):
            full[a], full[a + rank] = roi[i], roi[i + len(axes)]
        roi = full
    scale_of = [1.0] * rank
    out_sizes = list(in_sizes)
    if sizes is not None and sizes.numel():
        want = as_ints(sizes)
        for i, a in enumerate(axes):
            scale_of[a] = want[i] / in_sizes[a]
            out_sizes[a] = want[i]
        if keep_aspect_ratio_policy != "stretch":
            pick = min if keep_aspect_ratio_policy == "not_larger" else max
            common = pick(scale_of[a] for a in axes)
            for a in axes:
                scale_of[a] = common
                out_sizes[a] = int(common * in_sizes[a] + 0.5)
    else:
        given = [float(v) for v in scales.reshape(-1).tolist()]
        for i, a in enumerate(axes):
            scale_of[a] = given[i]
            out_sizes[a] = int(given[i] * in_sizes[a])
    y = x if mode == "nearest" else x.to(torch.float64)
    for a in axes:
        unchanged = out_sizes[a] == in_sizes[a] and scale_of[a] == 1.0 and (
            roi is None or (roi[a] == 0.0 and roi[a + rank] == 1.0))
        if unchanged:
            continue
        pos = torch.arange(out_sizes[a], dtype=torch.float64)
        start, end = (roi[a], roi[a + rank]) if roi is not None else (0.0, 1.0)
        src, outside = resize_source_coords(coordinate_transformation_mode, pos, scale_of[a],
                                            in_sizes[a], out_sizes[a], start, end)
        w = resize_weights(src, in_sizes[a], mode, nearest_mode, scale_of[a], antialias,
                           cubic_coeff_a, exclude_outside)
        moved = y.movedim(a, -1)
        if mode == "nearest":
            moved = moved.index_select(-1, w.argmax(1))
        else:
            moved = moved @ w.t()
        if outside is not None:
            moved = torch.where(outside, torch.tensor(extrapolation_value, dtype=moved.dtype),
                                moved)
        y = moved.movedim(-1, a)
    return y.to(x.dtype)


@onnx_op("Upsample")
def onnx_upsample(x, scales_in=None, /, *, mode="nearest", scales=None):
    s = scales_in if scales_in is not None else torch.tensor(scales, dtype=torch.float32)
    return onnx_resize(x, None, s, None, mode=mode, coordinate_transformation_mode="asymmetric",
                       nearest_mode="floor")


# -- attention ------------------------------------------------------------------------------------
def heads_first(t, heads):
    """[batch, seq, heads * size] -> [batch, heads, seq, size]."""
    return t.reshape(t.shape[0], t.shape[1], heads, -1).transpose(1, 2)


def positions_allowed(q_len, kv_len, offset, left, right, causal):
    """[q, kv] (or [batch, 1, q, kv] for a per-batch offset) mask of the keys each query
    may see: causal (bottom-right aligned by ``offset``) and the sliding window."""
    i = torch.arange(q_len).reshape(q_len, 1)
    j = torch.arange(kv_len).reshape(1, kv_len)
    if isinstance(offset, torch.Tensor):
        i = i + offset.reshape(-1, 1, 1, 1)
    else:
        i = i + offset
    diff = i - j
    allowed = torch.ones_like(diff, dtype=torch.bool)
    if causal:
        allowed = allowed & (diff >= 0)
    if left >= 0:
        allowed = allowed & (diff <= left)
    if right >= 0:
        allowed = allowed & (-diff <= right)
    return allowed


@onnx_op("Attention", multi_output=True)
def onnx_attention(q, k, v, mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None,
                   /, *, scale=None, is_causal=0, q_num_heads=None, kv_num_heads=None,
                   softmax_precision=None, softcap=0.0, qk_matmul_output_mode=0,
                   left_window_size=-1, right_window_size=-1):
    three_d = q.dim() == 3
    if three_d:
        q, k, v = heads_first(q, q_num_heads), heads_first(k, kv_num_heads), \
            heads_first(v, kv_num_heads)
    dtype = q.dtype
    if scale is None:
        scale = 1 / q.shape[3] ** 0.5
    root = torch.tensor(scale ** 0.5, dtype=torch.float64).to(dtype)
    if past_key is not None:
        k = torch.cat([past_key, k], 2)
        v = torch.cat([past_value, v], 2)
    present_key, present_value = k, v
    q_len, kv_len = q.shape[2], k.shape[2]
    bias = torch.zeros(q_len, kv_len, dtype=dtype)
    if mask is not None:
        if mask.shape[-1] < kv_len:
            fill = False if mask.dtype == torch.bool else float("-inf")
            mask = F.pad(mask, [0, kv_len - mask.shape[-1]], value=fill)
        if mask.dtype == torch.bool:
            mask = torch.where(mask, torch.zeros((), dtype=dtype),
                               torch.full((), float("-inf"), dtype=dtype))
        bias = bias + mask
    if nonpad_kv_seqlen is not None and past_key is None:
        offset = nonpad_kv_seqlen.reshape(-1).to(torch.int64) - q_len
    else:
        offset = past_key.shape[2] if past_key is not None else 0
    if is_causal or left_window_size >= 0 or right_window_size >= 0:
        allowed = positions_allowed(q_len, kv_len, offset, left_window_size, right_window_size,
                                    bool(is_causal))
        bias = bias + torch.where(allowed, torch.zeros((), dtype=dtype),
                                  torch.full((), float("-inf"), dtype=dtype))
    if nonpad_kv_seqlen is not None:
        keep = torch.arange(kv_len).reshape(1, kv_len) < nonpad_kv_seqlen.reshape(-1, 1)
        bias = bias + torch.where(keep, 0.0, float("-inf")).to(dtype).reshape(-1, 1, 1, kv_len)
    if q.shape[1] != k.shape[1]:  # grouped-query attention: share each key/value head
        k = k.repeat_interleave(q.shape[1] // k.shape[1], 1)
        v = v.repeat_interleave(q.shape[1] // v.shape[1], 1)
    scores = (q * root) @ (k * root).transpose(-1, -2)
    if softcap and softcap > 0:
        scores = torch.tanh(scores / softcap) * softcap
    qk_out = scores
    biased = scores + bias
    if qk_matmul_output_mode == 2:
        qk_out = biased
    if softmax_precision is not None:
        biased = biased.to(onnx_dtype(softmax_precision))
    top = biased.amax(-1, keepdim=True)
    top = torch.where(torch.isneginf(top), torch.zeros_like(top), top)
    e = torch.exp(biased - top)
    total = e.sum(-1, keepdim=True)
    probs = e / torch.where(total == 0, torch.ones_like(total), total)
    masked_row = torch.isneginf(bias.amax(-1, keepdim=True))
    probs = torch.where(masked_row, torch.zeros_like(probs), probs)
    if qk_matmul_output_mode == 3:
        qk_out = probs
    probs = probs.to(dtype)
    y = probs @ v
    if three_d:
        y = y.transpose(1, 2).reshape(y.shape[0], y.shape[2], -1)
    return y, present_key, present_value, qk_out.to(dtype)


# -- losses ---------------------------------------------------------------------------------------
@onnx_op("NegativeLogLikelihoodLoss")
def onnx_negative_log_likelihood_loss(x, target, weight=None, /, *, ignore_index=None,
                                      reduction="mean"):
    target = target.to(torch.int64)
    keep = torch.ones_like(target, dtype=torch.bool) if ignore_index is None else \
        target != ignore_index
    safe = torch.where(keep, target, torch.zeros_like(target))
    picked = torch.gather(x, 1, safe.unsqueeze(1)).squeeze(1)
    w = torch.ones_like(picked) if weight is None else weight[safe]
    w = torch.where(keep, w, torch.zeros_like(w))
    loss = -picked * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / w.sum()


@onnx_op("SoftmaxCrossEntropyLoss", multi_output=True)
def onnx_softmax_cross_entropy_loss(scores, labels, weights=None, /, *, ignore_index=None,
                                    reduction="mean"):
    log_prob = torch.log_softmax(scores, 1)
    loss = onnx_negative_log_likelihood_loss(log_prob, labels, weights,
                                             ignore_index=ignore_index, reduction=reduction)
    return loss, log_prob


# -- quantization ---------------------------------------------------------------------------------
def per_axis(param, x, axis, block_size):
    """A scale or zero point shaped to broadcast against x: scalar, per-axis, or blocked."""
    if param.dim() == 0 or (param.numel() == 1 and not block_size):
        return param.reshape([])
    axis = axis + x.dim() if axis < 0 else axis
    if block_size:
        return param.repeat_interleave(block_size, axis).narrow(axis, 0, x.shape[axis])
    shape = [1] * x.dim()
    shape[axis] = -1
    return param.reshape(shape)


def round_half_even(x):
    return torch.round(x)


@onnx_op("QuantizeLinear")
def onnx_quantize_linear(x, scale, zero_point=None, /, *, axis=1, block_size=0, output_dtype=0,
                         saturate=1, precision=0):
    s = per_axis(scale, x, axis, block_size).to(torch.float32)
    if zero_point is not None:
        dtype = zero_point.dtype
    elif output_dtype:
        dtype = onnx_dtype(output_dtype)
    else:
        dtype = torch.uint8
    if dtype in FLOAT8:
        zp = 0.0 if zero_point is None else per_axis(zero_point, x, axis, block_size).float()
        return cast_to(x.to(torch.float32) / s + zp, dtype, saturate)
    zp = 0 if zero_point is None else per_axis(zero_point, x, axis, block_size).to(torch.int64)
    q = round_half_even(x.to(torch.float32) / s).to(torch.int64) + zp
    if dtype == torch.uint16:
        lo, hi = 0, 65535
    else:
        info = torch.iinfo(dtype)
        lo, hi = info.min, info.max
    return q.clamp(lo, hi).to(dtype)


@onnx_op("DequantizeLinear")
def onnx_dequantize_linear(x, scale, zero_point=None, /, *, axis=1, block_size=0,
                           output_dtype=0):
    s = per_axis(scale, x, axis, block_size)
    xf = x.to(torch.float32)
    if zero_point is not None:
        xf = xf - per_axis(zero_point, x, axis, block_size).to(torch.float32)
    out = xf * s.to(torch.float32)
    return out.to(onnx_dtype(output_dtype) if output_dtype else scale.dtype)


@onnx_op("DynamicQuantizeLinear", multi_output=True)
def onnx_dynamic_quantize_linear(x, /):
    lo = torch.clamp(x.min(), max=0.0)
    hi = torch.clamp(x.max(), min=0.0)
    scale = (hi - lo) / 255.0
    zp = torch.clamp(torch.round(0 - lo / scale), 0, 255)
    y = torch.clamp(torch.round(x / scale) + zp, 0, 255)
    return y.to(torch.uint8), scale.to(torch.float32), zp.to(torch.uint8)


@onnx_op("MatMulInteger")
def onnx_matmul_integer(a, b, a_zero=None, b_zero=None, /):
    a = a.to(torch.int64) - (0 if a_zero is None else a_zero.to(torch.int64))
    bz = 0 if b_zero is None else b_zero.to(torch.int64)
    b = b.to(torch.int64) - bz
    return (a.double() @ b.double()).to(torch.int32)


@onnx_op("QLinearMatMul")
def onnx_qlinear_matmul(a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero, /):
    af = (a.to(torch.float64) - a_zero.to(torch.float64)) * a_scale.double()
    bf = (b.to(torch.float64) - b_zero.to(torch.float64)) * b_scale.double()
    y = torch.round((af @ bf) / y_scale.double()) + y_zero.to(torch.float64)
    info = torch.iinfo(y_zero.dtype)
    return y.clamp(info.min, info.max).to(y_zero.dtype)


@onnx_op("ConvInteger")
def onnx_conv_integer(x, w, x_zero=None, w_zero=None, /, *, auto_pad="NOTSET", dilations=None,
                      group=1, kernel_shape=None, pads=None, strides=None):
    xf = x.to(torch.float64) - (0 if x_zero is None else x_zero.to(torch.float64))
    wf = w.to(torch.float64) - (0 if w_zero is None else
                                per_axis(w_zero, w, 0, 0).to(torch.float64))
    y = onnx_conv(xf, wf, None, auto_pad=auto_pad, dilations=dilations, group=group,
                  kernel_shape=kernel_shape, pads=pads, strides=strides)
    return torch.round(y).to(torch.int32)


@onnx_op("QLinearConv")
def onnx_qlinear_conv(x, x_scale, x_zero, w, w_scale, w_zero, y_scale, y_zero, bias=None, /, *,
                      auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None,
                      strides=None):
    xf = (x.to(torch.float64) - x_zero.to(torch.float64)) * x_scale.double()
    wf = (w.to(torch.float64) - per_axis(w_zero, w, 0, 0).to(torch.float64)) * \
        per_axis(w_scale, w, 0, 0).double()
    b = None if bias is None else bias.double() * (x_scale.double() * w_scale.double())
    y = onnx_conv(xf, wf, b, auto_pad=auto_pad, dilations=dilations, group=group,
                  kernel_shape=kernel_shape, pads=pads, strides=strides)
    y = torch.round(y / y_scale.double()) + y_zero.to(torch.float64)
    info = torch.iinfo(y_zero.dtype)
    return y.clamp(info.min, info.max).to(y_zero.dtype)


def conv_pads(x, kernel, strides, dilations, pads, auto_pad):
    n = len(kernel)
    pads = list(pads) if pads else [0] * (2 * n)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        for i in range(n):
            size = x.shape[2 + i]
            out = -(-size // strides[i])
            total = max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size, 0)
            small = total // 2
            pads[i], pads[i + n] = (small, total - small) if auto_pad == "SAME_UPPER" else \
                (total - small, small)
    elif auto_pad == "VALID":
        pads = [0] * (2 * n)
    return pads


@onnx_op("Conv")
def onnx_conv(x, w, b=None, /, *, auto_pad="NOTSET", dilations=None, group=1,
              kernel_shape=None, pads=None, strides=None):
    n = w.dim() - 2
    kernel = list(w.shape[2:])
    strides = strides or [1] * n
    dilations = dilations or [1] * n
    pads = conv_pads(x, kernel, strides, dilations, pads, auto_pad)
    order = []
    for i in reversed(range(n)):
        order += [pads[i], pads[i + n]]
    x = F.pad(x, order)
    fn = (F.conv1d, F.conv2d, F.conv3d)[n - 1]
    return fn(x, w, b, strides, 0, dilations, group)


@onnx_op("ConvTranspose")
def onnx_conv_transpose(x, w, b=None, /, *, auto_pad="NOTSET", dilations=None, group=1,
                        kernel_shape=None, output_padding=None, output_shape=None, pads=None,
                        strides=None):
    n = w.dim() - 2
    strides = strides or [1] * n
    dilations = dilations or [1] * n
    extra = output_padding or [0] * n
    fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[n - 1]
    y = fn(x, w, None, strides, 0, 0, group, dilations)  # the full output, no pads
    full = [y.shape[2 + i] + extra[i] for i in range(n)]
    want = None if output_shape is None else list(output_shape)[-n:]
    if pads is None and auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        want = want or [x.shape[2 + i] * strides[i] for i in range(n)]
        total = [full[i] - want[i] for i in range(n)]
        first = [t // 2 if auto_pad == "SAME_UPPER" else t - t // 2 for t in total]
    else:  # explicit pads (none: 0); a given output_shape is filled from the start
        pads = pads or [0] * (2 * n)
        first = pads[:n]
        want = want or [full[i] - pads[i] - pads[i + n] for i in range(n)]
    # crop (negative) or extend with zeros (positive) each side, last dim first
    order = []
    for i in reversed(range(n)):
        order += [-first[i], want[i] + first[i] - y.shape[2 + i]]
    y = F.pad(y, order)
    return y if b is None else y + b.reshape([-1] + [1] * n)


# -- rearranging ----------------------------------------------------------------------------------
@onnx_op("DepthToSpace")
def onnx_depth_to_space(x, /, *, blocksize, mode="DCR"):
    n, c, h, w = x.shape
    b = blocksize
    if mode == "DCR":
        y = x.reshape(n, b, b, c // (b * b), h, w).permute(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape(n, c // (b * b), b, b, h, w).permute(0, 1, 4, 2, 5, 3)
    return y.reshape(n, c // (b * b), h * b, w * b)


@onnx_op("SpaceToDepth")
def onnx_space_to_depth(x, /, *, blocksize, mode="DCR"):
    n, c, h, w = x.shape
    b = blocksize
    order = (0, 3, 5, 1, 2, 4) if mode == "DCR" else (0, 1, 3, 5, 2, 4)
    y = x.reshape(n, c, h // b, b, w // b, b).permute(*order)
    return y.reshape(n, c * b * b, h // b, w // b)


@onnx_op("CenterCropPad")
def onnx_center_crop_pad(x, shape, /, *, axes=None):
    want = as_ints(shape)
    axes = norm_axes(axes, x.dim()) if axes is not None else list(range(x.dim()))
    for a, size in zip(axes, want):
        have = x.shape[a]
        if have > size:
            x = x.narrow(a, (have - size) // 2, size)
        elif have < size:
            before = (size - have) // 2
            parts = list(x.shape)
            parts[a] = before
            lead = torch.zeros(parts, dtype=x.dtype)
            parts[a] = size - have - before
            x = torch.cat([lead, x, torch.zeros(parts, dtype=x.dtype)], a)
    return x


@onnx_op("Det")
def onnx_det(x, /):
    return torch.linalg.det(x)


@onnx_op("Unique", multi_output=True)
def onnx_unique(x, /, *, axis=None, sorted=1):
    flat = x.reshape(-1) if axis is None else x
    dim = 0 if axis is None else (axis + x.dim() if axis < 0 else axis)
    values, inverse, counts = torch.unique(flat, sorted=True, return_inverse=True,
                                           return_counts=True, dim=dim)
    n = flat.shape[dim]
    # the first occurrence of each unique value
    first = torch.full((values.shape[dim],), n, dtype=torch.int64)
    first = first.scatter_reduce(0, inverse, torch.arange(n), "amin")
    if not sorted:  # in order of first occurrence
        order = torch.argsort(first)
        remap = torch.empty_like(order)
        remap[order] = torch.arange(order.numel())
        values = values.index_select(dim, order)
        first, counts, inverse = first[order], counts[order], remap[inverse]
    return values, first, inverse.reshape(-1), counts


@onnx_op("Bernoulli")
def onnx_bernoulli(x, /, *, dtype=None, seed=None):
    out = torch.bernoulli(x.to(torch.float64))
    return out.to(x.dtype if dtype is None else onnx_dtype(dtype))


@onnx_op("RandomUniformLike")
def onnx_random_uniform_like(x, /, *, dtype=None, high=1.0, low=0.0, seed=None):
    out = torch.rand(x.shape, dtype=torch.float64) * (high - low) + low
    return out.to(x.dtype if dtype is None else onnx_dtype(dtype))


@onnx_op("RandomNormalLike")
def onnx_random_normal_like(x, /, *, dtype=None, mean=0.0, scale=1.0, seed=None):
    out = torch.randn(x.shape, dtype=torch.float64) * scale + mean
    return out.to(x.dtype if dtype is None else onnx_dtype(dtype))


@onnx_op("RandomUniform")
def onnx_random_uniform(*, shape, dtype=1, high=1.0, low=0.0, seed=None):
    return (torch.rand(shape, dtype=torch.float64) * (high - low) + low).to(onnx_dtype(dtype))


@onnx_op("RandomNormal")
def onnx_random_normal(*, shape, dtype=1, mean=0.0, scale=1.0, seed=None):
    return (torch.randn(shape, dtype=torch.float64) * scale + mean).to(onnx_dtype(dtype))


def window(size, periodic, fn):
    n = int(size)
    denom = n if periodic else n - 1
    k = torch.arange(n, dtype=torch.float64)
    return fn(k, denom)


@onnx_op("HannWindow")
def onnx_hann_window(size, /, *, output_datatype=1, periodic=1):
    out = window(size, periodic, lambda k, d: 0.5 - 0.5 * torch.cos(2 * torch.pi * k / d))
    return out.to(onnx_dtype(output_datatype))


@onnx_op("HammingWindow")
def onnx_hamming_window(size, /, *, output_datatype=1, periodic=1):
    a0 = 25.0 / 46.0
    out = window(size, periodic,
                 lambda k, d: a0 - (1 - a0) * torch.cos(2 * torch.pi * k / d))
    return out.to(onnx_dtype(output_datatype))


@onnx_op("BlackmanWindow")
def onnx_blackman_window(size, /, *, output_datatype=1, periodic=1):
    out = window(size, periodic, lambda k, d: 0.42 - 0.5 * torch.cos(2 * torch.pi * k / d)
                 + 0.08 * torch.cos(4 * torch.pi * k / d))
    return out.to(onnx_dtype(output_datatype))


@onnx_op("MaxUnpool")
def onnx_max_unpool(x, idx, output_shape=None, /, *, kernel_shape, pads=None, strides=None):
    n = len(kernel_shape)
    strides = strides or [1] * n
    pads = pads or [0] * (2 * n)
    shape = list(x.shape[:2]) + [(x.shape[2 + i] - 1) * strides[i] + kernel_shape[i]
                                 - pads[i] - pads[i + n] for i in range(n)]
    out = torch.zeros(int(torch.tensor(shape).prod()), dtype=x.dtype)
    out = out.scatter(0, idx.reshape(-1).to(torch.int64), x.reshape(-1)).reshape(shape)
    if output_shape is None:
        return out
    # the indices address the inferred shape; a given output_shape holds it at its origin
    grow = []
    for have, want in zip(reversed(shape), reversed(as_ints(output_shape))):
        grow += [0, want - have]
    return F.pad(out, grow)


@onnx_op("SwiGLU")
def onnx_swiglu(a, b, /, *, alpha=1.0):
    return a * torch.sigmoid(alpha * a) * b


@onnx_op("Col2Im")
def onnx_col2im(x, image_shape, block_shape, /, *, dilations=None, pads=None, strides=None):
    size = as_ints(image_shape)
    block = as_ints(block_shape)
    n = len(size)
    dilations = dilations or [1] * n
    strides = strides or [1] * n
    pads = pads or [0] * (2 * n)
    if n == 2 and pads[0] == pads[2] and pads[1] == pads[3]:
        return F.fold(x, size, block, dilation=dilations, padding=pads[:2], stride=strides)
    # any rank, any pads: add every column entry into its image position
    counts = [(size[i] + pads[i] + pads[i + n] - dilations[i] * (block[i] - 1) - 1)
              // strides[i] + 1 for i in range(n)]
    offsets = [t.reshape(-1, 1) for t in
               torch.meshgrid(*[torch.arange(b) for b in block], indexing="ij")]
    places = [t.reshape(1, -1) for t in
              torch.meshgrid(*[torch.arange(c) for c in counts], indexing="ij")]
    flat, valid = 0, True
    for i in range(n):
        at = places[i] * strides[i] - pads[i] + offsets[i] * dilations[i]
        valid = valid & (at >= 0) & (at < size[i])
        flat = flat * size[i] + at
    flat = torch.where(valid, flat, 0).reshape(-1)
    cols = x.reshape(x.shape[0], -1, flat.numel()) * valid.reshape(-1)
    out = cols.new_zeros(cols.shape[0], cols.shape[1], math_prod(size))
    return out.index_add(2, flat, cols).reshape(cols.shape[0], cols.shape[1], *size)


def math_prod(values):
    out = 1
    for v in values:
        out *= int(v)
    return out


# -- sampling -------------------------------------------------------------------------------------
@onnx_op("GridSample")
def onnx_grid_sample(x, grid, /, *, align_corners=0, mode="linear", padding_mode="zeros"):
    mode = {"linear": "bilinear", "cubic": "bicubic"}.get(mode, mode)
    if x.dim() == 5 and mode == "bicubic":
        raise NotImplementedError("GridSample: cubic interpolation of volumes")
    return F.grid_sample(x, grid.to(x.dtype), mode=mode, padding_mode=padding_mode,
                         align_corners=bool(align_corners))


@onnx_op("AffineGrid")
def onnx_affine_grid(theta, size, /, *, align_corners=0):
    return F.affine_grid(theta, as_ints(size), align_corners=bool(align_corners))


@onnx_op("BitCast")
def onnx_bit_cast(x, /, *, to):
    dtype = onnx_dtype(to)
    if dtype.itemsize != x.dtype.itemsize:
        raise NotImplementedError("BitCast between types of different sizes")
    return x.view(dtype)


@onnx_op("RotaryEmbedding")
def onnx_rotary_embedding(x, cos_cache, sin_cache, position_ids=None, /, *, interleaved=0,
                          num_heads=0, rotary_embedding_dim=0):
    three_d = x.dim() == 3
    if three_d:  # [batch, seq, heads * size] -> [batch, seq, heads, size]
        x = x.reshape(x.shape[0], x.shape[1], num_heads, -1)
    else:  # [batch, heads, seq, size] -> [batch, seq, heads, size]
        x = x.transpose(1, 2)
    if position_ids is not None:
        cos_cache = cos_cache[position_ids.to(torch.int64)]
        sin_cache = sin_cache[position_ids.to(torch.int64)]
    dim = rotary_embedding_dim or x.shape[-1]
    rot, rest = x[..., :dim], x[..., dim:]
    half = dim // 2
    cos = cos_cache[..., :half].unsqueeze(2)
    sin = sin_cache[..., :half].unsqueeze(2)
    if interleaved:
        a, b = rot[..., 0::2], rot[..., 1::2]
    else:
        a, b = rot[..., :half], rot[..., half:]
    ra = a * cos - b * sin
    rb = b * cos + a * sin
    if interleaved:
        rot = torch.stack([ra, rb], -1).reshape(rot.shape)
    else:
        rot = torch.cat([ra, rb], -1)
    y = torch.cat([rot, rest], -1)
    if three_d:
        return y.reshape(y.shape[0], y.shape[1], -1)
    return y.transpose(1, 2)


@onnx_op("NonMaxSuppression")
def onnx_non_max_suppression(boxes, scores, max_out=None, iou_threshold=None,
                             score_threshold=None, /, *, center_point_box=0):
    limit = 0 if max_out is None else int(max_out.reshape(-1)[0])
    iou_min = 0.0 if iou_threshold is None else float(iou_threshold.reshape(-1)[0])
    selected = []
    for b in range(boxes.shape[0]):
        box = boxes[b].to(torch.float64)
        if center_point_box:
            xy, wh = box[:, :2], box[:, 2:]
            box = torch.cat([xy - wh / 2, xy + wh / 2], 1)[:, [1, 0, 3, 2]]
        y1 = torch.minimum(box[:, 0], box[:, 2])
        y2 = torch.maximum(box[:, 0], box[:, 2])
        x1 = torch.minimum(box[:, 1], box[:, 3])
        x2 = torch.maximum(box[:, 1], box[:, 3])
        area = (y2 - y1) * (x2 - x1)
        for c in range(scores.shape[1]):
            s = scores[b, c].to(torch.float64)
            order = torch.sort(s, descending=True, stable=True).indices.tolist()
            kept = []
            for i in order:
                if len(kept) >= limit:
                    break
                if score_threshold is not None and s[i] <= float(score_threshold):
                    continue
                ok = True
                for j in kept:
                    h = torch.clamp(torch.minimum(y2[i], y2[j]) - torch.maximum(y1[i], y1[j]),
                                    min=0)
                    w = torch.clamp(torch.minimum(x2[i], x2[j]) - torch.maximum(x1[i], x1[j]),
                                    min=0)
                    inter = h * w
                    union = area[i] + area[j] - inter
                    if union > 0 and inter / union > iou_min:
                        ok = False
                        break
                if ok:
                    kept.append(i)
            selected += [[b, c, i] for i in kept]
    return torch.tensor(selected, dtype=torch.int64).reshape(-1, 3)


@onnx_op("TensorScatter")
def onnx_tensor_scatter(past, update, write_indices=None, /, *, axis=-2, mode="linear"):
    axis = axis + past.dim() if axis < 0 else axis
    out = past.clone()
    size = past.shape[axis]
    for b in range(past.shape[0]):
        start = 0 if write_indices is None else int(write_indices[b])
        for t in range(update.shape[axis]):
            pos = start + t
            pos = pos % size if mode == "circular" else pos
            out[b].select(axis - 1, pos).copy_(update[b].select(axis - 1, t))
    return out


@onnx_op("DFT")
def onnx_dft(x, dft_length=None, axis_in=None, /, *, axis=1, inverse=0, onesided=0):
    if axis_in is not None:
        axis = int(axis_in)
    axis = axis + x.dim() if axis < 0 else axis
    signal = x[..., 0] if x.shape[-1] == 1 else torch.complex(x[..., 0], x[..., 1])
    n = None if dft_length is None else int(dft_length)
    if inverse and onesided:  # one-sided spectrum -> real signal
        n = 2 * (signal.shape[axis] - 1) if n is None else n
        return torch.fft.irfft(signal, n=n, dim=axis).unsqueeze(-1).to(x.dtype)
    y = (torch.fft.ifft if inverse else torch.fft.fft)(signal, n=n, dim=axis)
    if onesided:
        y = y.narrow(axis, 0, y.shape[axis] // 2 + 1)
    return torch.stack([y.real, y.imag], -1).to(x.dtype)


from . import torch_ops_layers  # noqa: E402,F401 - registers the layers and control flow
