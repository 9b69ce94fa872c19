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


def _binary(name):
    def fn(a, rank):
        if name == "where":
            return "Where", [a["condition"], a["self"], a["other"]], {}
        x = a.get("self")
        y = a.get("other", a.get("exponent"))
        alpha = a.get("alpha", 1)
        if alpha not in (1, None):  # add(x, y, alpha=2): keep torch's meaning
            return None
        return _BINARY[name], [x, y], {}
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
        return fn(args, rank)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        # an overload with other arguments, or a rank the op needs that is not recorded
        # (rank None): keep the torch op, still drawn
        return None
