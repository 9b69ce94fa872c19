"""A torch interpreter over the IR (after torch.fx's Interpreter): an nn.Module whose forward
walks the graph's nodes in order and dispatches each canonical op to torch. Weights become
parameters, so gradients flow (explanations) and the module can be traced or saved."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import UnsupportedError, require
from ..ir.graph import Graph
from ..ir.ops import attr
from ..ir.shapes import explicit_pads
from ..registry import keyed_registry

IMPLS: dict[str, Callable] = {}


impl = keyed_registry(IMPLS)


def supported(op: str) -> bool:
    return op in IMPLS


def torch_runnable(graph: Graph) -> Graph:
    """The graph with the framework ops this backend lacks lowered to ONNX ops."""
    from ..convert.to_onnx import lowered_for
    return lowered_for(graph, supported)


def build_module(graph: Graph, trainable: bool = False):
    """An nn.Module computing ``graph``. Raises UnsupportedError naming the ops it lacks."""
    torch = require("torch", "torch", "running a graph with torch")
    from ..convert.to_onnx import missing_ops, refuse_missing
    missing = missing_ops(graph, supported)
    if missing:
        raise refuse_missing(missing, "the torch backend")
    return _make_module_class(torch)(graph, trainable)


def _make_module_class(torch):
    nn = torch.nn

    class GraphModule(nn.Module):
        def __init__(self, graph: Graph, trainable: bool):
            super().__init__()
            self.graph = graph
            self._names: dict[str, str] = {}
            for i, (name, v) in enumerate(sorted(graph.weights.items())):
                key = f"w{i}_" + "".join(c if c.isalnum() else "_" for c in name)[:60]
                t = torch.from_numpy(_owned(v.data.read()))
                if t.is_floating_point():
                    self.register_parameter(key, nn.Parameter(t, requires_grad=trainable))
                else:
                    self.register_buffer(key, t)
                self._names[name] = key
            self.taps: dict[str, Callable] = {}  # value name -> fn(tensor) -> tensor
            self.overrides: dict[str, Callable] = {}  # op -> impl, e.g. guided ReLU
            self.input_perm: tuple | None = None  # permute the first input first (NCHW->NHWC)

        def forward(self, *args, capture: list[str] | None = None):
            if self.input_perm is not None:
                args = (args[0].permute(*self.input_perm),) + args[1:]
            env: dict[str, object] = {}
            for v, a in zip(self.graph.inputs, args):
                env[v.name] = a
            for name, key in self._names.items():
                env[name] = getattr(self, key)
            captured = {}
            for node in self.graph.nodes:
                ins = [None if v is None else env[v.name] for v in node.inputs]
                outs = (self.overrides.get(node.op) or IMPLS[node.op])(torch, node, ins)
                if not isinstance(outs, (list, tuple)):
                    outs = [outs]
                for v, o in zip(node.outputs, outs):
                    tap = self.taps.get(v.name)
                    env[v.name] = tap(o) if tap is not None else o
                    if capture is not None and v.name in capture:
                        captured[v.name] = env[v.name]
            results = [env[v.name] for v in self.graph.outputs]
            if capture is not None:
                return results, captured
            return results[0] if len(results) == 1 else tuple(results)

    return GraphModule


# -- helpers ---------------------------------------------------------------------------------
def _owned(a) -> np.ndarray:
    """A writable array torch may share: the weight as read, copied only when read-only."""
    a = np.asarray(a)
    return a if a.flags.writeable and a.flags.c_contiguous else np.array(a)


def _ints(t) -> list[int]:
    if t is None:
        return []
    if hasattr(t, "tolist"):
        v = t.tolist()
        return v if isinstance(v, list) else [v]
    return list(t)


def _pad_input(torch, x, pads, n, value=0.0):
    """ONNX pads [b1..bn, e1..en] -> F.pad (last dim first)."""
    if not pads or not any(pads):
        return x
    order = []
    for i in reversed(range(n)):
        order += [pads[i], pads[i + n]]
    return torch.nn.functional.pad(x, order, value=value)


def _auto_pads(node, x, kernel, strides, dil):
    return explicit_pads(attr(node, "auto_pad") or "NOTSET", attr(node, "pads"),
                         tuple(x.shape[2:]), kernel, strides, dil)


# -- ops -------------------------------------------------------------------------------------
@impl("Conv")
def _conv(torch, node, ins):
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    n = w.dim() - 2
    kernel = list(w.shape[2:])
    strides = list(attr(node, "strides") or [1] * n)
    dil = list(attr(node, "dilations") or [1] * n)
    pads = _auto_pads(node, x, kernel, strides, dil)
    x = _pad_input(torch, x, pads, n)
    fn = getattr(torch.nn.functional, f"conv{n}d")
    return fn(x, w, b, strides, 0, dil, attr(node, "group") or 1)


@impl("ConvTranspose")
def _conv_transpose(torch, node, ins):
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    n = w.dim() - 2
    strides = list(attr(node, "strides") or [1] * n)
    dil = list(attr(node, "dilations") or [1] * n)
    pads = list(attr(node, "pads") or [0] * (2 * n))
    out_pad = list(attr(node, "output_padding") or [0] * n)
    fn = getattr(torch.nn.functional, f"conv_transpose{n}d")
    y = fn(x, w, b, strides, 0, out_pad, attr(node, "group") or 1, dil)
    # crop the (possibly asymmetric) pads from the full output
    index = [slice(None), slice(None)] + [slice(pads[i], y.shape[2 + i] - pads[i + n])
                                          for i in range(n)]
    return y[tuple(index)]


@impl("Gemm")
def _gemm(torch, node, ins):
    a, b = ins[0], ins[1]
    if attr(node, "transA"):
        a = a.t()
    if attr(node, "transB"):
        b = b.t()
    y = (attr(node, "alpha") or 1.0) * (a @ b)
    if len(ins) > 2 and ins[2] is not None:
        y = y + (attr(node, "beta") if attr(node, "beta") is not None else 1.0) * ins[2]
    return y


@impl("MatMul")
def _matmul(torch, node, ins):
    return torch.matmul(ins[0], ins[1])


def _pool(torch, node, ins, kind):
    x = ins[0]
    kernel = list(attr(node, "kernel_shape"))
    n = len(kernel)
    strides = list(attr(node, "strides") or [1] * n)
    dil = list(attr(node, "dilations") or [1] * n)
    pads = _auto_pads(node, x, kernel, strides, dil)
    ceil = bool(attr(node, "ceil_mode"))
    F = torch.nn.functional
    symmetric = pads[:n] == pads[n:] and all(pads[i] <= kernel[i] // 2 for i in range(n))
    if kind == "max":
        if not symmetric:
            x = _pad_input(torch, x, pads, n, float("-inf"))
            pads = [0] * (2 * n)
        return getattr(F, f"max_pool{n}d")(x, kernel, strides, pads[:n], dil, ceil_mode=ceil)
    include = bool(attr(node, "count_include_pad"))
    if not symmetric:
        if include:
            x = _pad_input(torch, x, pads, n)
            pads = [0] * (2 * n)
        else:
            raise UnsupportedError(f"node '{node.name}': asymmetric average pooling")
    return getattr(F, f"avg_pool{n}d")(x, kernel, strides, pads[:n], ceil_mode=ceil,
                                       count_include_pad=include)


@impl("MaxPool")
def _maxpool(torch, node, ins):
    return _pool(torch, node, ins, "max")


@impl("AveragePool")
def _avgpool(torch, node, ins):
    return _pool(torch, node, ins, "avg")


@impl("GlobalAveragePool")
def _gap(torch, node, ins):
    return ins[0].mean(dim=tuple(range(2, ins[0].dim())), keepdim=True)


@impl("GlobalMaxPool")
def _gmp(torch, node, ins):
    return ins[0].amax(dim=tuple(range(2, ins[0].dim())), keepdim=True)


@impl("BatchNormalization")
def _bn(torch, node, ins):
    x, scale, bias, mean, var = ins[:5]
    return torch.nn.functional.batch_norm(x, mean, var, scale, bias, False, 0.0,
                                          attr(node, "epsilon"))


@impl("InstanceNormalization")
def _in(torch, node, ins):
    return torch.nn.functional.instance_norm(ins[0], weight=ins[1], bias=ins[2],
                                             eps=attr(node, "epsilon"))


@impl("LayerNormalization")
def _ln(torch, node, ins):
    x = ins[0]
    axis = attr(node, "axis")
    axis = axis + x.dim() if axis < 0 else axis
    bias = ins[2] if len(ins) > 2 else None
    return torch.nn.functional.layer_norm(x, tuple(x.shape[axis:]), ins[1], bias,
                                          attr(node, "epsilon"))


@impl("LRN")
def _lrn(torch, node, ins):
    # ONNX and torch share the formula: x / (bias + alpha/size * sum(x^2 over size))^beta
    return torch.nn.functional.local_response_norm(ins[0], attr(node, "size"), attr(node, "alpha"),
                                                   attr(node, "beta"), attr(node, "bias"))


_UNARY = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Exp": "exp", "Log": "log",
          "Sqrt": "sqrt", "Neg": "neg", "Abs": "abs", "Reciprocal": "reciprocal",
          "Floor": "floor", "Ceil": "ceil", "Erf": "erf", "Sin": "sin", "Cos": "cos",
          "Sign": "sign", "Round": "round", "Not": "logical_not"}
for _op, _fn in _UNARY.items():
    IMPLS[_op] = (lambda name: lambda torch, node, ins: getattr(torch, name)(ins[0]))(_fn)


@impl("LeakyRelu")
def _leaky(torch, node, ins):
    return torch.nn.functional.leaky_relu(ins[0], attr(node, "alpha"))


@impl("Elu")
def _elu(torch, node, ins):
    return torch.nn.functional.elu(ins[0], attr(node, "alpha"))


@impl("PRelu")
def _prelu(torch, node, ins):
    x, slope = ins
    return torch.where(x >= 0, x, x * slope)


@impl("Gelu")
def _gelu(torch, node, ins):
    return torch.nn.functional.gelu(ins[0], approximate=node.attrs.get("approximate", "none"))


@impl("Softplus")
def _softplus(torch, node, ins):
    return torch.nn.functional.softplus(ins[0])


@impl("HardSigmoid")
def _hsig(torch, node, ins):
    return torch.clamp(attr(node, "alpha") * ins[0] + attr(node, "beta"), 0, 1)


@impl("HardSwish")
def _hswish(torch, node, ins):
    return torch.nn.functional.hardswish(ins[0])


@impl("Clip")
def _clip(torch, node, ins):
    lo = ins[1] if len(ins) > 1 and ins[1] is not None else node.attrs.get("min")
    hi = ins[2] if len(ins) > 2 and ins[2] is not None else node.attrs.get("max")
    return torch.clamp(ins[0], None if lo is None else float(lo), None if hi is None else float(hi))


@impl("Softmax", "LogSoftmax")
def _softmax(torch, node, ins):
    fn = torch.softmax if node.op == "Softmax" else torch.log_softmax
    return fn(ins[0], dim=attr(node, "axis"))


_BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow",
           "Max": "maximum", "Min": "minimum", "Equal": "eq", "Greater": "gt", "Less": "lt",
           "GreaterOrEqual": "ge", "LessOrEqual": "le", "And": "logical_and",
           "Or": "logical_or"}
for _op, _fn in _BINARY.items():
    IMPLS[_op] = (lambda name: lambda torch, node, ins: getattr(torch, name)(ins[0], ins[1]))(_fn)


@impl("Sum", "Mean")
def _sum(torch, node, ins):
    out = ins[0]
    for t in ins[1:]:
        out = out + t
    return out / len(ins) if node.op == "Mean" else out


@impl("Where")
def _where(torch, node, ins):
    return torch.where(ins[0].bool(), ins[1], ins[2])


@impl("Dropout", "Identity")
def _identity(torch, node, ins):
    return ins[0]


@impl("Cast")
def _cast(torch, node, ins):
    from ..ir.shapes import ONNX_DTYPES
    return ins[0].to(getattr(torch, ONNX_DTYPES[attr(node, "to")]))


@impl("Concat")
def _concat(torch, node, ins):
    return torch.cat([t for t in ins if t is not None], dim=attr(node, "axis"))


@impl("Split")
def _split(torch, node, ins):
    x = ins[0]
    axis = attr(node, "axis")
    sizes = node.attrs.get("split") or (_ints(ins[1]) if len(ins) > 1 and ins[1] is not None
                                        else None)
    if sizes is None:
        k = len(node.outputs)
        chunk = -(-x.shape[axis] // k)
        sizes = [min(chunk, x.shape[axis] - i * chunk) for i in range(k)]
    return list(torch.split(x, list(sizes), dim=axis))


@impl("Reshape")
def _reshape(torch, node, ins):
    x = ins[0]
    shape = node.attrs.get("shape") or _ints(ins[1])
    if not attr(node, "allowzero"):
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return x.reshape([int(d) for d in shape])


@impl("Flatten")
def _flatten(torch, node, ins):
    x = ins[0]
    axis = attr(node, "axis")
    axis = axis + x.dim() if axis < 0 else axis
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


@impl("Transpose")
def _transpose(torch, node, ins):
    perm = attr(node, "perm") or list(range(ins[0].dim()))[::-1]
    return ins[0].permute(*perm)


@impl("Squeeze")
def _squeeze(torch, node, ins):
    axes = node.attrs.get("axes") or (_ints(ins[1]) if len(ins) > 1 and ins[1] is not None
                                      else None)
    x = ins[0]
    if axes is None:
        return x.squeeze()
    for a in sorted((a + x.dim() if a < 0 else a for a in axes), reverse=True):
        x = x.squeeze(a)
    return x


@impl("Unsqueeze")
def _unsqueeze(torch, node, ins):
    axes = node.attrs.get("axes") or _ints(ins[1])
    x = ins[0]
    rank = x.dim() + len(axes)
    for a in sorted(a + rank if a < 0 else a for a in axes):
        x = x.unsqueeze(a)
    return x


@impl("Slice")
def _slice(torch, node, ins):
    x = ins[0]
    starts = node.attrs.get("starts") or _ints(ins[1])
    ends = node.attrs.get("ends") or _ints(ins[2])
    axes = node.attrs.get("axes") or (_ints(ins[3]) if len(ins) > 3 and ins[3] is not None
                                      else list(range(len(starts))))
    steps = _ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    index = [slice(None)] * x.dim()
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = a + x.dim() if a < 0 else a
        size = x.shape[a]
        s, e = max(min(s, size), -size), max(min(e, size), -size - 1)
        if st < 0:
            idx = torch.arange(*slice(s, e, st).indices(size))
            x = x.index_select(a, idx)
            continue
        index[a] = slice(s, e, st)
        x = x[tuple(index)]
        index[a] = slice(None)
    return x


@impl("Pad")
def _pad(torch, node, ins):
    x = ins[0]
    pads = node.attrs.get("pads") or _ints(ins[1])
    value = float(ins[2]) if len(ins) > 2 and ins[2] is not None else attr(node, "value") or 0.0
    mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}[attr(node, "mode")]
    n = x.dim()
    order = []
    for i in reversed(range(n)):
        order += [pads[i], pads[i + n]]
    if mode == "constant":
        return torch.nn.functional.pad(x, order, value=value)
    return torch.nn.functional.pad(x, order[:2 * (n - 2)], mode=mode)


@impl("Resize", "Upsample")
def _resize(torch, node, ins):
    x = ins[0]
    if node.op == "Resize" and len(ins) > 3 and ins[3] is not None:
        size = [int(s) for s in _ints(ins[3])][2:]
        kwargs = {"size": size}
    else:
        scales = (node.attrs.get("scales") or
                  [float(s) for s in (ins[2] if node.op == "Resize" else ins[1]).tolist()])
        kwargs = {"scale_factor": [float(s) for s in scales[2:]]}
    mode = attr(node, "mode")
    if mode == "nearest":
        return torch.nn.functional.interpolate(x, mode="nearest", **kwargs)
    ctm = node.attrs.get("coordinate_transformation_mode", "half_pixel")
    return torch.nn.functional.interpolate(x, mode="bilinear" if x.dim() == 4 else "linear",
                                           align_corners=ctm == "align_corners", **kwargs)


@impl("Shape")
def _shape(torch, node, ins):
    return torch.tensor(list(ins[0].shape)[attr(node, "start") or 0:attr(node, "end")],
                        dtype=torch.int64)


@impl("Gather")
def _gather(torch, node, ins):
    x, idx = ins
    axis = attr(node, "axis")
    axis = axis + x.dim() if axis < 0 else axis
    idx = idx.long()
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    out = x.index_select(axis, idx.reshape(-1))
    return out.reshape(tuple(x.shape[:axis]) + tuple(idx.shape) + tuple(x.shape[axis + 1:]))


@impl("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin")
def _reduce(torch, node, ins):
    x = ins[0]
    axes = node.attrs.get("axes") or (_ints(ins[1]) if len(ins) > 1 and ins[1] is not None
                                      else list(range(x.dim())))
    keep = bool(attr(node, "keepdims"))
    fn = {"ReduceMean": torch.mean, "ReduceSum": torch.sum, "ReduceMax": torch.amax,
          "ReduceMin": torch.amin}[node.op]
    return fn(x, dim=tuple(axes), keepdim=keep)


@impl("ArgMax")
def _argmax(torch, node, ins):
    return torch.argmax(ins[0], dim=attr(node, "axis"), keepdim=bool(attr(node, "keepdims")))


@impl("Expand")
def _expand(torch, node, ins):
    shape = _ints(ins[1])
    return ins[0] * torch.ones(shape, dtype=ins[0].dtype)


@impl("Tile")
def _tile(torch, node, ins):
    return ins[0].repeat(*_ints(ins[1]))


@impl("Constant")
def _constant(torch, node, ins):
    return torch.from_numpy(np.array(node.attrs["value"]))


@impl("torch.linear")
def _torch_linear(torch, node, ins):
    return torch.nn.functional.linear(ins[0], ins[1], ins[2] if len(ins) > 2 else None)


@impl("torch.unbind")
def _torch_unbind(torch, node, ins):
    return list(torch.unbind(ins[0], dim=int(node.attrs.get("dim", 0))))


@impl("Attention")
def _attention(torch, node, ins):
    q, k, v = ins[:3]
    mask = ins[3] if len(ins) > 3 else None
    return torch.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=bool(attr(node, "is_causal")),
        scale=node.attrs.get("scale"))


@impl("Embedding")
def _embedding(torch, node, ins):
    return torch.nn.functional.embedding(ins[0].long(), ins[1])
