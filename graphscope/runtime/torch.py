"""A torch interpreter over the IR (after torch.fx's Interpreter): an nn.Module whose forward
walks the graph's nodes in order and dispatches each canonical op to torch. Weights become
parameters, so gradients flow (explanations) and the module can be traced or saved."""
from __future__ import annotations

from collections import ChainMap
from typing import Callable

import numpy as np

from ..errors import UnsupportedError, require
from ..ir.graph import Graph
from ..ir.ops import attr
from ..ir.shapes import explicit_pads
from ..registry import keyed_registry

IMPLS: dict[str, Callable] = {}


impl = keyed_registry(IMPLS)

# ops with subgraphs: their impls take a fourth argument, run(key, inputs) -> outputs, that
# runs the subgraph node.subgraphs[key] in the current scope
CONTROL_FLOW: set[str] = set()


def control_flow(*ops: str):
    CONTROL_FLOW.update(ops)
    return impl(*ops)


def supported(op: str) -> bool:
    return op in IMPLS or op in function_ops()


def function_ops() -> dict[str, Callable]:
    """op -> the plain torch function of runtime/torch_ops.py (shared with generated source);
    empty when torch is missing."""
    try:
        from . import torch_ops
    except ImportError:
        return {}
    return torch_ops.OPS


def call_function(fn: Callable, node, ins: list, opset: int | None = None):
    """Call a torch_ops function on a node: inputs positionally (trailing omitted ones
    dropped), the node's attributes as keywords. An attribute the function does not know is
    refused by name, never ignored."""
    import inspect
    params = inspect.signature(fn).parameters
    keywords = {n for n, p in params.items() if p.kind is p.KEYWORD_ONLY}
    unknown = sorted(set(node.attrs) - keywords)
    if unknown:
        raise UnsupportedError(f"{node.op}: attribute '{unknown[0]}' is not supported by the "
                               f"torch backend", node=node.name)
    kwargs = {k: _attr_value(v) for k, v in node.attrs.items()}
    if "opset" in keywords and opset is not None:
        kwargs["opset"] = opset
    if "n_outputs" in keywords:  # how many outputs the node asks for (Split)
        kwargs["n_outputs"] = len(node.outputs)
    while ins and ins[-1] is None:
        ins = ins[:-1]
    return fn(*ins, **kwargs)


def _attr_value(v):
    """Tensor attributes (numpy arrays) as tensors; numpy scalars as Python numbers."""
    import torch
    if isinstance(v, np.ndarray):
        return torch.from_numpy(owned_array(v))
    if isinstance(v, np.generic):
        return v.item()
    return v


def run_op(node, call: Callable):
    """``call()`` for one node, any failure reported as a GraphscopeError naming the node and
    op: a GraphscopeError gets the node; torch's 'not implemented for <dtype>' is a refusal;
    anything else is a BackendError (an internal fault)."""
    from ..errors import BackendError, GraphscopeError
    try:
        return call()
    except GraphscopeError as exc:
        if exc.node is None:
            exc.node = node.name
        raise
    except NotImplementedError as exc:
        raise UnsupportedError(f"{node.op}: {_first_line(exc)}", node=node.name) from exc
    except Exception as exc:  # noqa: BLE001 - reported with the node, cause chained
        raise BackendError(f"{node.op} failed in the torch backend: "
                           f"{type(exc).__name__}: {_first_line(exc)}", node=node.name) from exc


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


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
            self._names = self._register_weights(graph, "w", trainable)
            # the weights of subgraphs (If branches, Loop bodies), by the subgraph's path
            self._sub_names: dict[str, dict[str, str]] = {}
            for i, (path, sub) in enumerate(_subgraphs(graph)):
                self._sub_names[path] = self._register_weights(sub, f"s{i}w", trainable)
            self.taps: dict[str, Callable] = {}  # value name -> fn(tensor) -> tensor
            self.overrides: dict[str, Callable] = {}  # op -> impl, e.g. guided ReLU
            self.input_perm: tuple | None = None  # permute the first input first (NCHW->NHWC)
            self.functions = function_ops()
            self.opset = graph.metadata.get("opset") if graph.metadata.get("format") == "onnx" \
                else None

        def _register_weights(self, graph: Graph, prefix: str, trainable: bool) -> dict:
            names = {}
            for i, (name, v) in enumerate(sorted(graph.weights.items())):
                key = f"{prefix}{i}_" + "".join(c if c.isalnum() else "_" for c in name)[:60]
                t = torch.from_numpy(owned_array(v.data.read()))
                if t.is_floating_point():
                    self.register_parameter(key, nn.Parameter(t, requires_grad=trainable))
                else:
                    self.register_buffer(key, t)
                names[name] = key
            return names

        def forward(self, *args, capture: list[str] | None = None):
            if self.input_perm is not None:
                args = (args[0].permute(*self.input_perm),) + args[1:]
            env: dict[str, object] = {}
            for v, a in zip(self.graph.inputs, args):
                env[v.name] = a
            for name, key in self._names.items():
                env[name] = getattr(self, key)
            captured: dict[str, object] = {}
            self._run_nodes(self.graph, env, "", capture, captured)
            results = [env[v.name] for v in self.graph.outputs]
            if capture is not None:
                return results, captured
            return results[0] if len(results) == 1 else tuple(results)

        def _run_nodes(self, graph: Graph, env, scope: str, capture=None,
                       captured=None) -> None:
            for node in graph.nodes:
                ins = [None if v is None else env[v.name] for v in node.inputs]
                outs = run_op(node, lambda: self._call(node, ins, env, scope))
                if not isinstance(outs, (list, tuple)):
                    outs = [outs]
                for v, o in zip(node.outputs, outs):
                    if v.name == "":  # an omitted optional output
                        continue
                    tap = self.taps.get(v.name)
                    env[v.name] = tap(o) if tap is not None else o
                    if capture is not None and v.name in capture:
                        captured[v.name] = env[v.name]

        def _call(self, node, ins, env, scope):
            fn = self.overrides.get(node.op)
            if fn is None and node.op in self.functions:
                return call_function(self.functions[node.op], node, ins, self.opset)
            fn = fn or IMPLS[node.op]
            if node.op in CONTROL_FLOW:
                return fn(torch, node, ins, self._subgraph_runner(node, env, scope))
            return fn(torch, node, ins)

        def _subgraph_runner(self, node, outer_env, scope: str) -> Callable:
            """run(key, inputs) -> the outputs of node.subgraphs[key] fed ``inputs``; the
            body sees the enclosing scopes' values by name, as ONNX subgraphs do."""
            def run(key: str, inputs: list) -> list:
                graph = node.subgraphs[key]
                env = ChainMap({}, outer_env)
                for v, a in zip(graph.inputs, inputs):
                    env[v.name] = a
                path = _subgraph_path(scope, node, key)
                for name, attr_key in self._sub_names[path].items():
                    env[name] = getattr(self, attr_key)
                self._run_nodes(graph, env, path)
                return [env[v.name] for v in graph.outputs]
            return run

    return GraphModule


def _subgraph_path(scope: str, node, key: str) -> str:
    return f"{scope}/{node.name}.{key}"


def _subgraphs(graph: Graph, scope: str = "") -> list[tuple[str, Graph]]:
    """(path, subgraph) for every nested subgraph, depth first, in a stable order."""
    out = []
    for node in graph.nodes:
        for key, sub in sorted(node.subgraphs.items()):
            path = _subgraph_path(scope, node, key)
            out += [(path, sub)] + _subgraphs(sub, path)
    return out


# -- helpers ---------------------------------------------------------------------------------
def owned_array(a) -> np.ndarray:
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


# -- recurrent layers (ONNX LSTM, GRU, RNN) ----------------------------------------------------
# activation name (lower case) -> (fn(torch, x, alpha, beta), default alpha, default beta); a
# None default means the function takes no such argument and consumes none from the lists.
# Defaults are the ONNX operators' (onnxruntime uses 0 for Affine, ScaledTanh and
# ThresholdedRelu when activation_alpha/beta leave them out).
_RNN_ACTIVATIONS = {
    "relu": (lambda torch, x, a, b: torch.relu(x), None, None),
    "tanh": (lambda torch, x, a, b: torch.tanh(x), None, None),
    "sigmoid": (lambda torch, x, a, b: torch.sigmoid(x), None, None),
    "affine": (lambda torch, x, a, b: a * x + b, 1.0, 0.0),
    "leakyrelu": (lambda torch, x, a, b: torch.nn.functional.leaky_relu(x, a), 0.01, None),
    "thresholdedrelu": (lambda torch, x, a, b: torch.where(x > a, x, torch.zeros_like(x)),
                        1.0, None),
    "scaledtanh": (lambda torch, x, a, b: a * torch.tanh(b * x), 1.0, 1.0),
    "hardsigmoid": (lambda torch, x, a, b: torch.clamp(a * x + b, 0.0, 1.0), 0.2, 0.5),
    "elu": (lambda torch, x, a, b: torch.nn.functional.elu(x, a), 1.0, None),
    "softsign": (lambda torch, x, a, b: torch.nn.functional.softsign(x), None, None),
    "softplus": (lambda torch, x, a, b: torch.nn.functional.softplus(x), None, None),
}

# op -> (gate blocks in W/R, default activations per direction)
_RNN_KINDS = {"LSTM": (4, ("Sigmoid", "Tanh", "Tanh")), "GRU": (3, ("Sigmoid", "Tanh")),
              "RNN": (1, ("Tanh",))}


def _rnn_activations(torch, node, num_directions: int) -> list[list[Callable]]:
    """Per direction, the activation functions (f, g, h...) with their alpha/beta bound.
    activation_alpha/beta are consumed in order, only by the functions that take them."""
    defaults = _RNN_KINDS[node.op][1]
    names = list(node.attrs.get("activations") or defaults * num_directions)
    if len(names) == len(defaults) and num_directions == 2:
        names = names * 2
    alphas = iter(node.attrs.get("activation_alpha") or [])
    betas = iter(node.attrs.get("activation_beta") or [])
    fns = []
    for name in names:
        entry = _RNN_ACTIVATIONS.get(str(name).lower())
        if entry is None:
            raise UnsupportedError(f"{node.op}: unknown activation '{name}'", node=node.name)
        fn, default_a, default_b = entry
        a = None if default_a is None else float(next(alphas, default_a))
        b = None if default_b is None else float(next(betas, default_b))
        fns.append(lambda x, fn=fn, a=a, b=b: fn(torch, x, a, b))
    k = len(defaults)
    return [fns[d * k:(d + 1) * k] for d in range(num_directions)]


def _optional_input(ins, i: int):
    return ins[i] if len(ins) > i else None


def _reverse_time(torch, xs, lens):
    """Each sequence of ``xs`` [seq, batch, ...] reversed within its own length (steps past
    it stay put): the same permutation undoes it."""
    if lens is None:
        return xs.flip(0)
    seq, batch = xs.shape[0], xs.shape[1]
    t = torch.arange(seq).unsqueeze(1)
    lens = lens.to(torch.int64).unsqueeze(0)
    index = torch.where(t < lens, lens - 1 - t, t.expand(seq, batch))
    index = index.reshape(seq, batch, *([1] * (xs.dim() - 2))).expand_as(xs)
    return xs.gather(0, index)


def _scan_direction(torch, xs, state: tuple, step: Callable, reverse: bool, lens):
    """Run ``step(x_t, state) -> state`` (state[0] is the hidden state) over ``xs``
    [seq, batch, ...]. Batch entries past their sequence length keep their state and output
    zeros. Returns (Y [seq, batch, hidden], final state)."""
    if reverse:
        xs = _reverse_time(torch, xs, lens)
    ys = []
    for t in range(xs.shape[0]):
        new = step(xs[t], state)
        if lens is not None:
            valid = (t < lens).unsqueeze(1)
            new = tuple(torch.where(valid, n, s) for n, s in zip(new, state))
            ys.append(torch.where(valid, new[0], torch.zeros_like(new[0])))
        else:
            ys.append(new[0])
        state = new
    y = torch.stack(ys) if ys else state[0].new_zeros((0,) + tuple(state[0].shape))
    return (_reverse_time(torch, y, lens) if reverse else y), state


def _lstm_step(r, rb, p, acts, clip, input_forget, hidden):
    f, g, h = acts

    def step(xw, state):
        h_prev, c_prev = state
        gates = xw + h_prev @ r.t() + rb
        i, o, fg, c = gates.split(hidden, -1)
        if p is not None:  # peepholes: i and f read the previous cell, o the new one
            pi, po, pf = p.split(hidden)
            i, fg = i + pi * c_prev, fg + pf * c_prev
        i = f(clip(i))
        fg = 1 - i if input_forget else f(clip(fg))
        c_new = fg * c_prev + i * g(clip(c))
        if p is not None:
            o = o + po * c_new
        return f(clip(o)) * h(c_new), c_new
    return step


def _gru_step(r, rb, acts, clip, linear_before_reset, hidden):
    f, g = acts
    r_zr, r_h = r[:2 * hidden], r[2 * hidden:]
    rb_zr, rb_h = rb[:2 * hidden], rb[2 * hidden:]

    def step(xw, state):
        (h_prev,) = state
        x_z, x_r, x_h = xw.split(hidden, -1)
        h_z, h_r = (h_prev @ r_zr.t() + rb_zr).split(hidden, -1)
        z, reset = f(clip(x_z + h_z)), f(clip(x_r + h_r))
        if linear_before_reset:
            h_tilde = g(clip(x_h + reset * (h_prev @ r_h.t() + rb_h)))
        else:
            h_tilde = g(clip(x_h + (reset * h_prev) @ r_h.t() + rb_h))
        return ((1 - z) * h_tilde + z * h_prev,)
    return step


def _rnn_step(r, rb, acts, clip):
    (f,) = acts

    def step(xw, state):
        return (f(clip(xw + state[0] @ r.t() + rb)),)
    return step


def _step_for(node, r, rb, p, acts, clip, hidden) -> Callable:
    """One direction's step function for the node's op."""
    if node.op == "LSTM":
        return _lstm_step(r, rb, p, acts, clip, bool(node.attrs.get("input_forget", 0)), hidden)
    if node.op == "GRU":
        return _gru_step(r, rb, acts, clip, bool(node.attrs.get("linear_before_reset", 0)),
                         hidden)
    return _rnn_step(r, rb, acts, clip)


def _recurrent(torch, node, ins):
    """ONNX LSTM / GRU / RNN: outputs Y [seq, dirs, batch, hidden], Y_h (and Y_c for LSTM)
    [dirs, batch, hidden]; layout 1 puts the batch first in all of them."""
    gates = _RNN_KINDS[node.op][0]
    x, w, r = ins[0], ins[1], ins[2]
    b, lens, h0, c0, p = (_optional_input(ins, i) for i in range(3, 8))
    batch_first = bool(attr(node, "layout"))
    if batch_first:
        x = x.transpose(0, 1)
        h0, c0 = (None if t is None else t.transpose(0, 1) for t in (h0, c0))
    dirs, hidden = w.shape[0], w.shape[1] // gates
    if b is None:
        b = x.new_zeros(dirs, 2 * gates * hidden)
    bound = node.attrs.get("clip")
    clip = (lambda t: t) if bound is None else \
        (lambda t: torch.clamp(t, -float(bound), float(bound)))
    acts = _rnn_activations(torch, node, dirs)
    zeros = x.new_zeros(x.shape[1], hidden)
    ys, finals = [], []
    for d in range(dirs):
        wb, rb = b[d, :gates * hidden], b[d, gates * hidden:]
        xw = x @ w[d].t() + wb  # the input projection of every step at once
        state = (zeros if h0 is None else h0[d],)
        if node.op == "LSTM":
            state += (zeros if c0 is None else c0[d],)
        step = _step_for(node, r[d], rb, None if p is None else p[d], acts[d], clip, hidden)
        reverse = attr(node, "direction") == "reverse" or d == 1
        y, state = _scan_direction(torch, xw, state, step, reverse, lens)
        ys.append(y)
        finals.append(state)
    y = torch.stack(ys, 1)
    outs = [y.permute(2, 0, 1, 3) if batch_first else y]
    for k in range(len(finals[0])):  # Y_h, then Y_c
        s = torch.stack([f[k] for f in finals])
        outs.append(s.transpose(0, 1) if batch_first else s)
    return outs


IMPLS["LSTM"] = IMPLS["GRU"] = IMPLS["RNN"] = _recurrent


# -- control flow (If, Loop, Scan) ---------------------------------------------------------------
@control_flow("If")
def _if(torch, node, ins, run):
    return run("then_branch" if bool(ins[0]) else "else_branch", [])


def _stacked(torch, parts: list, body_output) -> object:
    """Per-iteration values stacked on a new axis 0 (an empty tensor for zero iterations)."""
    if parts:
        return torch.stack(parts)
    t = body_output.type
    shape = [d for d in (t.shape or ()) if isinstance(d, int)]
    dtype = getattr(torch, t.dtype or "float32", torch.float32)
    return torch.zeros([0] + (shape if len(shape) == len(t.shape or ()) else []), dtype=dtype)


@control_flow("Loop")
def _loop(torch, node, ins, run):
    """ONNX Loop: inputs (M, cond, carried...); the body maps (i, cond, carried...) to
    (cond, carried..., scan outputs...), and runs while i < M (when given) and cond. The
    body's cond is obeyed even with no cond input, as onnxruntime does (the spec's text says
    to ignore it then)."""
    trip, cond, carried = ins[0], ins[1], list(ins[2:])
    trip = None if trip is None else int(trip)
    going = True if cond is None else bool(cond)
    body = node.subgraphs["body"]
    n = len(carried)
    scans: list[list] = [[] for _ in body.outputs[1 + n:]]
    i = 0
    while going and (trip is None or i < trip):
        outs = run("body", [torch.tensor(i, dtype=torch.int64), torch.tensor(going)] + carried)
        going = bool(outs[0])
        carried = list(outs[1:1 + n])
        for parts, t in zip(scans, outs[1 + n:]):
            parts.append(t)
        i += 1
    return carried + [_stacked(torch, parts, v) for parts, v in zip(scans, body.outputs[1 + n:])]


@control_flow("Scan")
def _scan(torch, node, ins, run):
    """ONNX Scan (opset 9+): inputs (states..., scan inputs...); the body maps (states...,
    one slice of each scan input) to (states..., one slice of each scan output)."""
    # opset 8's Scan has a batch axis and sequence_lens (its first input, often omitted)
    if "directions" in node.attrs or (ins and ins[0] is None):
        raise UnsupportedError("Scan: the opset-8 form (batched, sequence_lens) is not run",
                               node=node.name)
    m = int(node.attrs["num_scan_inputs"])
    states, xs = list(ins[:len(ins) - m]), ins[len(ins) - m:]
    in_axes = [a % x.dim() for a, x in zip(node.attrs.get("scan_input_axes") or [0] * m, xs)]
    in_dirs = node.attrs.get("scan_input_directions") or [0] * m
    length = xs[0].shape[in_axes[0]]
    body = node.subgraphs["body"]
    k = len(body.outputs) - len(states)
    parts: list[list] = [[] for _ in range(k)]
    for t in range(length):
        slices = [x.select(a, length - 1 - t if rev else t)
                  for x, a, rev in zip(xs, in_axes, in_dirs)]
        outs = run("body", states + slices)
        states = list(outs[:len(states)])
        for p, o in zip(parts, outs[len(states):]):
            p.append(o)
    out_axes = node.attrs.get("scan_output_axes") or [0] * k
    out_dirs = node.attrs.get("scan_output_directions") or [0] * k
    results = []
    for p, v, axis, rev in zip(parts, body.outputs[len(states):], out_axes, out_dirs):
        stacked = _stacked(torch, p[::-1] if rev else p, v)
        results.append(stacked.movedim(0, axis % stacked.dim()))
    return states + results
