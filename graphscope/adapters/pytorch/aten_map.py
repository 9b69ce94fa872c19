"""ATen ops -> canonical (ONNX-named) ops, with ONNX attribute meanings.

A translator takes the op's arguments by schema name (tensors are IR Values, the rest plain
Python values) and the output rank, and returns ``(op, inputs, attrs)``; inputs may hold
Python numbers or lists, which the caller turns into constant weights. Ops with no entry keep
``torch.<name>`` with every tensor argument as an input and the rest as attributes. The same
table serves torch.export graphs (``aten.conv2d.default``) and TorchScript graphs
(``aten::_convolution``): both are keyed by the op's base name.
"""
from __future__ import annotations

from typing import Any, Callable

from ...registry import keyed_registry

Translator = Callable[[dict, int], "tuple[str, list, dict] | None"]
TABLE: dict[str, Translator] = {}


aten = keyed_registry(TABLE)


def _ints(v, n: int) -> list[int]:
    """A size argument that may be one int or a list (kernel 3 -> [3, 3])."""
    if isinstance(v, (list, tuple)):
        v = list(v)
        return v * n if len(v) == 1 and n > 1 else v
    return [int(v)] * n


def _axis(d: int, rank: int) -> int:
    return d + rank if d < 0 else d


# -- layers ---------------------------------------------------------------------------------
def _conv(a, transposed: bool):
    w = a["weight"]
    nd = len(w.type.shape) - 2 if w.type.shape else 2
    pad = a.get("padding", 0)
    attrs = {"kernel_shape": list(w.type.shape[2:]) if w.type.shape else None,
             "strides": _ints(a.get("stride", 1), nd), "dilations": _ints(a.get("dilation", 1), nd),
             "group": int(a.get("groups", 1))}
    if isinstance(pad, str):  # conv2d.padding overload: 'same' / 'valid'
        attrs["auto_pad"] = "SAME_UPPER" if pad == "same" else "VALID"
    else:
        p = _ints(pad, nd)
        attrs["pads"] = p + p
    if transposed:
        attrs["output_padding"] = _ints(a.get("output_padding", 0), nd)
    attrs = {k: v for k, v in attrs.items() if v is not None}
    return ("ConvTranspose" if transposed else "Conv"), [a["input"], w, a.get("bias")], attrs


@aten("conv1d", "conv2d", "conv3d")
def _conv_nd(a, rank):
    return _conv(a, False)


@aten("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
def _conv_t(a, rank):
    return _conv(a, True)


@aten("_convolution", "convolution")
def _convolution(a, rank):
    return _conv(a, bool(a.get("transposed")))


@aten("linear")
def _linear(a, rank):
    x = a["input"]
    if x.type.rank == 2:
        return "Gemm", [x, a["weight"], a.get("bias")], {"transB": 1}
    # N-d input: ONNX Gemm is 2-d only, so MatMul by W^T (+ bias in the same node's inputs
    # would break MatMul's meaning); keep one node, as torch does: torch.linear costs as MatMul
    return "torch.linear", [x, a["weight"], a.get("bias")], {}


@aten("addmm")
def _addmm(a, rank):
    return "Gemm", [a["mat1"], a["mat2"], a["self"]], {
        "alpha": float(a.get("alpha", 1)), "beta": float(a.get("beta", 1))}


@aten("mm", "bmm", "matmul")
def _matmul(a, rank):
    return "MatMul", [a.get("self"), a.get("other", a.get("mat2"))], {}


@aten("batch_norm", "_native_batch_norm_legit_no_training", "native_batch_norm")
def _batch_norm(a, rank):
    return "BatchNormalization", [a["input"], a.get("weight"), a.get("bias"),
                                  a.get("running_mean"), a.get("running_var")], {
        "epsilon": float(a.get("eps", 1e-5))}


@aten("layer_norm", "native_layer_norm")
def _layer_norm(a, rank):
    n = len(_ints(a["normalized_shape"], 1))
    return "LayerNormalization", [a["input"], a.get("weight"), a.get("bias")], {
        "axis": -n, "epsilon": float(a.get("eps", 1e-5))}


@aten("group_norm")
def _group_norm(a, rank):
    return "GroupNormalization", [a["input"], a.get("weight"), a.get("bias")], {
        "num_groups": int(a["num_groups"]), "epsilon": float(a.get("eps", 1e-5))}


@aten("embedding")
def _embedding(a, rank):
    return "Embedding", [a["indices"], a["weight"]], {}


@aten("scaled_dot_product_attention")
def _sdpa(a, rank):
    attrs = {"is_causal": int(bool(a.get("is_causal")))}
    if a.get("scale") is not None:
        attrs["scale"] = float(a["scale"])
    return "Attention", [a["query"], a["key"], a["value"], a.get("attn_mask")], attrs


# -- pooling ----------------------------------------------------------------------------------
@aten("max_pool1d", "max_pool2d", "max_pool3d", "max_pool2d_with_indices")
def _max_pool(a, rank):
    nd = rank - 2
    k = _ints(a["kernel_size"], nd)
    stride = a.get("stride") or k
    p = _ints(a.get("padding", 0), nd)
    return "MaxPool", [a["self"]], {"kernel_shape": k, "strides": _ints(stride, nd),
                                    "pads": p + p, "dilations": _ints(a.get("dilation", 1), nd),
                                    "ceil_mode": int(bool(a.get("ceil_mode")))}


@aten("avg_pool1d", "avg_pool2d", "avg_pool3d")
def _avg_pool(a, rank):
    nd = rank - 2
    k = _ints(a["kernel_size"], nd)
    stride = a.get("stride") or k
    p = _ints(a.get("padding", 0), nd)
    return "AveragePool", [a["self"]], {
        "kernel_shape": k, "strides": _ints(stride, nd), "pads": p + p,
        "ceil_mode": int(bool(a.get("ceil_mode"))),
        "count_include_pad": int(bool(a.get("count_include_pad", True)))}


@aten("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "_adaptive_avg_pool2d")
def _adaptive_avg(a, rank):
    size = _ints(a["output_size"], rank - 2)
    if all(s == 1 for s in size):
        return "GlobalAveragePool", [a["self"]], {}
    return "torch.adaptive_avg_pool2d", [a["self"]], {"output_size": size}


@aten("adaptive_max_pool2d")
def _adaptive_max(a, rank):
    size = _ints(a["output_size"], rank - 2)
    if all(s == 1 for s in size):
        return "GlobalMaxPool", [a["self"]], {}
    return None


# -- activations --------------------------------------------------------------------------------
_UNARY = {"relu": "Relu", "relu_": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "silu": "Silu",
          "silu_": "Silu", "gelu": "Gelu", "mish": "Mish", "hardswish": "HardSwish",
          "hardswish_": "HardSwish", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "neg": "Neg",
          "abs": "Abs", "erf": "Erf", "rsqrt": "torch.rsqrt", "reciprocal": "Reciprocal",
          "softplus": "Softplus", "sin": "Sin", "cos": "Cos", "sigmoid_": "Sigmoid",
          "tanh_": "Tanh", "clone": "Identity", "contiguous": "Identity", "alias": "Identity",
          "detach": "Identity", "dropout": "Dropout", "dropout_": "Dropout",
          "feature_dropout": "Dropout", "lift_fresh_copy": "Identity"}


def _unary(name):
    def fn(a, rank):
        x = a.get("self", a.get("input"))
        return _UNARY[name], [x], {}
    return fn


for _n in _UNARY:
    TABLE[_n] = _unary(_n)


@aten("round")
def _round(a, rank):  # half to even, as ONNX Round; round(x, decimals) keeps the torch op
    return None if a.get("decimals") else ("Round", [a["self"]], {})


@aten("remainder")
def _remainder(a, rank):
    """Python's mod (the divisor's sign): ONNX Mod with fmod=0, which ONNX allows on integers
    only; a float remainder keeps the torch op."""
    if not str(a["_out"].dtype).startswith(("int", "uint")):
        return None
    other = a["other"]
    if isinstance(other, int):  # a scalar: a constant of the tensor's dtype
        import numpy as np
        other = np.array(other, a["_out"].dtype)
    return "Mod", [a["self"], other], {"fmod": 0}


@aten("hardtanh", "hardtanh_")
def _hardtanh(a, rank):  # relu6 is hardtanh(0, 6)
    return "Clip", [a["self"], float(a.get("min_val", -1.0)), float(a.get("max_val", 1.0))], {}


@aten("clamp", "clamp_")
def _clamp(a, rank):
    return "Clip", [a["self"], a.get("min"), a.get("max")], {}


@aten("leaky_relu", "leaky_relu_")
def _leaky(a, rank):
    return "LeakyRelu", [a["self"]], {"alpha": float(a.get("negative_slope", 0.01))}


@aten("elu", "elu_")
def _elu(a, rank):
    return "Elu", [a["self"]], {"alpha": float(a.get("alpha", 1.0))}


@aten("hardsigmoid", "hardsigmoid_")
def _hsig(a, rank):
    return "HardSigmoid", [a["self"]], {"alpha": 1 / 6, "beta": 0.5}


@aten("softmax", "_softmax")
def _softmax(a, rank):
    return "Softmax", [a["self"]], {"axis": int(a["dim"])}


@aten("log_softmax", "_log_softmax")
def _log_softmax(a, rank):
    return "LogSoftmax", [a["self"]], {"axis": int(a["dim"])}


# -- elementwise ------------------------------------------------------------------------------
_BINARY = {"add": "Add", "add_": "Add", "sub": "Sub", "sub_": "Sub", "mul": "Mul", "mul_": "Mul",
           "div": "Div", "div_": "Div", "pow": "Pow", "maximum": "Max", "minimum": "Min",
           "eq": "Equal", "gt": "Greater", "lt": "Less", "ge": "GreaterOrEqual",
           "le": "LessOrEqual", "where": "Where"}


def _like(v, other):
    """A Python number operand as a 0-d array of the tensor operand's dtype (torch's type
    promotion keeps the tensor's dtype; ONNX needs both operands of one type)."""
    import numpy as np
    dtype = getattr(getattr(other, "type", None), "dtype", None)
    if isinstance(v, (bool, int, float)) and dtype is not None:
        return np.array(v, dtype="float32" if dtype == "bfloat16" else dtype)
    return v


def _binary(name):
    def fn(a, rank):
        if name == "where":
            return "Where", [a["condition"], a["self"], a["other"]], {}
        x = a.get("self")
        y = a.get("other", a.get("exponent"))
        alpha = a.get("alpha", 1)
        if alpha not in (1, None):  # add(x, y, alpha=2): keep torch's meaning
            return None
        if name.startswith("div") and a["_out"].dtype != getattr(x.type, "dtype", None) \
                and a.get("rounding_mode") is None:
            return None  # int / int -> float in torch, an integer division in ONNX
        return _BINARY[name], [_like(x, y), _like(y, x)], {}
    return fn


for _n in _BINARY:
    TABLE[_n] = _binary(_n)


# -- shape and tensor ops ---------------------------------------------------------------------
@aten("view", "reshape", "_unsafe_view", "unflatten", "_reshape_alias", "view_as",
      "reshape_as")
def _reshape(a, rank):
    return "Reshape", [a["self"]], {}  # shape input added by the caller, from the output type


@aten("flatten")
def _flatten(a, rank):
    if int(a.get("start_dim", 0)) == 1 and int(a.get("end_dim", -1)) == -1:
        return "Flatten", [a["self"]], {"axis": 1}  # the same as ONNX Flatten(axis=1)
    return "Reshape", [a["self"]], {}


@aten("permute")
def _permute(a, rank):
    return "Transpose", [a["self"]], {"perm": [_axis(int(d), rank) for d in a["dims"]]}


@aten("transpose")
def _transpose(a, rank):
    perm = list(range(rank))
    i, j = _axis(int(a["dim0"]), rank), _axis(int(a["dim1"]), rank)
    perm[i], perm[j] = perm[j], perm[i]
    return "Transpose", [a["self"]], {"perm": perm}


@aten("t", "numpy_T")
def _t(a, rank):
    return "Transpose", [a["self"]], {"perm": list(range(rank))[::-1]}


@aten("cat", "concat", "concatenate")
def _cat(a, rank):
    return "Concat", list(a["tensors"]), {"axis": int(a.get("dim", 0))}


@aten("select")
def _select(a, rank):  # x[:, i]: a Gather with a scalar index drops the axis, as select does
    return "Gather", [a["self"], int(a["index"])], {"axis": int(a["dim"])}


@aten("unsqueeze", "unsqueeze_")
def _unsqueeze(a, rank):
    return "Unsqueeze", [a["self"], [int(a["dim"])]], {}


@aten("squeeze")
def _squeeze(a, rank):
    dim = a.get("dim")
    if dim is None:
        return "Squeeze", [a["self"]], {}
    return "Squeeze", [a["self"], _ints(dim, 1)], {}


@aten("mean")
def _mean(a, rank):
    if a.get("dim") is None:
        return "ReduceMean", [a["self"]], {"keepdims": 0}
    return "ReduceMean", [a["self"], _ints(a["dim"], 1)], {"keepdims": int(bool(a.get("keepdim")))}


@aten("sum")
def _sum(a, rank):
    if a.get("dim") is None:
        return "ReduceSum", [a["self"]], {"keepdims": 0}
    return "ReduceSum", [a["self"], _ints(a["dim"], 1)], {"keepdims": int(bool(a.get("keepdim")))}


def translate(name: str, args: dict[str, Any], rank: int) -> tuple[str, list, dict] | None:
    """The canonical (op, inputs, attrs) for ATen op ``name``, or None to keep torch.<name>."""
    fn = TABLE.get(name)
    if fn is None:
        return None
    try:
        return fn(dict(args, _name=name), rank)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        # an overload with other arguments, or a rank the op needs that is not recorded
        # (rank None): keep the torch op, still drawn
        return None


@aten("_grouped_mm", "grouped_mm", "grouped_mm_fallback")
def _grouped_mm(a, rank):
    """torch._grouped_mm / F.grouped_mm and transformers' fallback op: 2-d x, 3-d weights."""
    x, w, offs = a["input"] if "input" in a else a["self"], a.get("weight", a.get("mat2")), \
        a.get("offs")
    if x.type.rank not in (2, None) or w.type.rank not in (3, None):
        return None
    return "torch.grouped_mm", [x, w, offs], {}


# -- the tensor plumbing transformers emit (masks, positions, padding, routing) --------------
def _static_shape(a) -> list[int]:
    shape = a["_out"].shape
    if shape is None or not all(isinstance(d, int) for d in shape):
        raise ValueError("a dynamic output shape")  # keep the torch op
    return list(shape)


def _dtype_code(a) -> int:
    from ...ir.shapes import ONNX_DTYPES
    codes = {name: code for code, name in ONNX_DTYPES.items()}
    return codes[a["_out"].dtype]


@aten("to", "_to_copy", "type_as")
def _to(a, rank):
    x = a["self"]
    if x.type.dtype is not None and x.type.dtype == a["_out"].dtype:
        return "Identity", [x], {}
    return "Cast", [x], {"to": _dtype_code(a)}


@aten("expand", "expand_as", "broadcast_to")
def _expand(a, rank):
    return "Expand", [a["self"], _static_shape(a)], {}


@aten("slice")
def _slice(a, rank):
    start, end = a.get("start"), a.get("end")
    start = 0 if start is None else int(start)
    end = 2 ** 63 - 1 if end is None else min(int(end), 2 ** 63 - 1)
    return "Slice", [a["self"], [start], [end], [int(a.get("dim", 0))],
                     [int(a.get("step", 1))]], {}


@aten("cumsum")
def _cumsum(a, rank):
    x = a["self"]
    if x.type.dtype != a["_out"].dtype:
        return None  # a cast inside (dtype=, or bool summed as int64): keep torch's op
    import numpy as np
    return "CumSum", [x, np.array(int(a["dim"]), np.int64)], {}


@aten("gather")
def _gather(a, rank):
    return "GatherElements", [a["self"], a["index"]], {"axis": int(a["dim"])}


_LOGICAL = {"__and__": "And", "bitwise_and": "And", "logical_and": "And", "__or__": "Or",
            "bitwise_or": "Or", "logical_or": "Or"}


def _logical(name):
    def fn(a, rank):
        x, y = a["self"], a["other"]
        if a["_out"].dtype != "bool":
            return None  # integer bitwise ops have no ONNX form
        return _LOGICAL[name], [x, y], {}
    return fn


for _n in _LOGICAL:
    TABLE[_n] = _logical(_n)


@aten("bitwise_not", "logical_not")
def _not(a, rank):
    return ("Not", [a["self"]], {}) if a["_out"].dtype == "bool" else None


@aten("arange")
def _arange(a, rank):
    start, end, step = a.get("start", 0), a.get("end"), a.get("step", 1)
    if end is None or not all(isinstance(v, (int, float)) for v in (start, end, step)):
        return None
    kind = float if a["_out"].dtype.startswith(("float", "bfloat")) else int
    return "Range", [kind(start), kind(end), kind(step)], {}


_FILLS = {"zeros": 0, "new_zeros": 0, "zeros_like": 0, "empty_like": 0, "new_empty": 0,
          "empty": 0, "ones": 1, "new_ones": 1, "ones_like": 1, "full": None, "new_full": None,
          "full_like": None}


def _fill(name):
    def fn(a, rank):
        import numpy as np
        value = _FILLS[name] if _FILLS[name] is not None else a["fill_value"]
        if not isinstance(value, (int, float, bool)):
            return None
        dtype = a["_out"].dtype
        return "ConstantOfShape", [_static_shape(a)], {"value": np.array([value], dtype)}
    return fn


for _n in _FILLS:
    TABLE[_n] = _fill(_n)


@aten("argmax", "argmin")
def _argmax(a, rank):
    if a.get("dim") is None:
        return None
    return "ArgMax", [a["self"]], {"axis": int(a["dim"]), "keepdims": int(bool(a.get("keepdim")))}


@aten("repeat")
def _repeat(a, rank):
    reps = [int(r) for r in a["repeats"]]
    if a["self"].type.rank != len(reps):
        return None
    return "Tile", [a["self"], reps], {}


@aten("constant_pad_nd", "pad")
def _pad(a, rank):
    if a.get("mode", "constant") != "constant":
        return None
    x, pad = a.get("self", a.get("input")), [int(p) for p in a["pad"]]
    n = x.type.rank
    begins, ends = [0] * n, [0] * n
    for i in range(len(pad) // 2):  # torch: (left, right) of the last dim first
        begins[n - 1 - i], ends[n - 1 - i] = pad[2 * i], pad[2 * i + 1]
    value = a.get("value") or 0.0
    return "Pad", [x, begins + ends, float(value)], {"mode": "constant"}


@aten("split", "split_with_sizes", "chunk", "unsafe_split", "split_copy")
def _split(a, rank):
    dim = _axis(int(a.get("dim", 0)), a["self"].type.rank)
    outs = a["_outs"]
    sizes = [t.shape[dim] if t.shape is not None else None for t in outs]
    if not all(isinstance(d, int) for d in sizes):
        return None
    return "Split", [a["self"], sizes], {"axis": dim}


def _index_tensors(a) -> tuple[list[int], list]:
    """x[..., i, j, ...]: the dims that integer index tensors index, and those tensors. A
    boolean index (a mask: data-dependent shape) raises, keeping the torch op."""
    idx = list(a["indices"])
    used = [i for i, t in enumerate(idx) if t is not None]
    if not used or any(idx[i].type.dtype in ("bool", "uint8", None) for i in used):
        raise ValueError("a mask index or an index of unknown type")
    return used, [idx[i] for i in used]


@aten("index")
def _index(a, rank):
    used, tensors = _index_tensors(a)
    if len(used) == 1:
        return "Gather", [a["self"], tensors[0]], {"axis": used[0]}
    # several index tensors (broadcast together): lowered to GatherND (convert/lower_torch)
    return "torch.index", [a["self"], *tensors], {"dims": used}


@aten("index_put", "index_put_")
def _index_put(a, rank):
    """x[indices] = values (+= with accumulate): lowered to ScatterND (convert/lower_torch)."""
    used, tensors = _index_tensors(a)
    return "torch.index_put", [a["self"], a["values"], *tensors], {
        "dims": used, "accumulate": int(bool(a.get("accumulate")))}


@aten("diff")
def _diff(a, rank):
    """diff(x, n, dim, prepend, append): the optional tensors keep their slots."""
    return "torch.diff", [a["self"], a.get("prepend"), a.get("append")], {
        "n": int(a.get("n", 1)), "dim": int(a.get("dim", -1))}


@aten("min", "max", "amin", "amax")
def _min_max(a, rank, _ops={"min": "Min", "max": "Max", "amin": "Min", "amax": "Max"}):
    """min(x, y) elementwise; min(x) / amin(x, dims) reduced. min(x, dim) (values and
    indices) keeps the torch op."""
    x = a["self"]
    op = _ops[a["_name"]]
    if "other" in a:
        return op, [x, a["other"]], {}
    if a.get("dim") is None or a["_name"].startswith("a"):
        dims = a.get("dim")
        inputs = [x] if not dims else [x, _ints(dims, 1)]
        return f"Reduce{op}", inputs, {"keepdims": int(bool(a.get("keepdim")))}
    return None
