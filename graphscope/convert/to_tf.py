"""IR -> TensorFlow: a tf.Module whose tf.function walks the graph's nodes in order and maps
each canonical (ONNX) op to TF ops with ONNX's exact semantics; saved as a SavedModel.

Layout: every value stays NCHW, as in ONNX, so that intermediate values compare by name with
onnxruntime. TF's CPU kernels for convolution and pooling take only channels-last input, so
those ops transpose to NHWC, compute, and transpose back.

Control flow and recurrence: If is tf.cond (or just the branch taken, for a constant
condition); Loop, Scan and the time steps of LSTM / GRU / RNN are tf.while_loop. Subgraphs
(branches, bodies) are walked like the main graph and read outer-scope values by name.

The module's ``__call__`` takes the graph inputs positionally and returns a dict
``{graph output name: tensor}``; the SavedModel's 'serving_default' signature has the same
outputs and one keyword input per graph input (its name sanitised, see ``input_names``).
"""
from __future__ import annotations

import contextvars
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import UnsupportedError, UsageError, require
from ..ir.graph import Graph, Node
from ..ir.ops import attr
from ..ir.shapes import explicit_pads, norm_axis
from ..registry import keyed_registry

OPS: dict[str, Callable] = {}
op = keyed_registry(OPS)

# the ai.onnx opset of the graph being built: a few ops changed meaning over opsets
_OPSET: contextvars.ContextVar[int | None] = contextvars.ContextVar("to_tf_opset", default=None)
# the values in scope where a node runs: control-flow ops hand them to their subgraphs
_SCOPE: contextvars.ContextVar[dict | None] = contextvars.ContextVar("to_tf_scope", default=None)


def supported(op_name: str) -> bool:
    return op_name in OPS


# -- building --------------------------------------------------------------------------------
def tf_runnable(graph: Graph) -> Graph:
    """The graph with framework ops (caffe.Pooling, torch.linear, ...) lowered to ONNX ops
    through the ONNX exporter, as `convert` does; Keras files go through tf2onnx. Raises
    UnsupportedError, naming each op and a node, for ops neither TF nor ONNX can express."""
    from .from_tf import runnable_graph
    from .to_onnx import has_onnx_form, lowered_for, missing_ops, refuse_missing
    graph = runnable_graph(graph)
    missing = missing_ops(graph, supported)
    unlowerable = {o: n for o, n in missing.items() if "." not in o or not has_onnx_form(o)}
    if unlowerable:  # said before any lowering work
        raise refuse_missing(unlowerable, "the TensorFlow converter")
    lowered = lowered_for(graph, supported)
    still = missing_ops(lowered, supported)
    if still:
        raise refuse_missing(still, "the TensorFlow converter")
    return lowered


def sanitize_input_name(name: str, taken: set[str]) -> str:
    """A signature key TF keeps as it is: letters, digits and '_', starting with a letter."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not s or not s[0].isalpha():
        s = "input_" + s
    base, i = s, 1
    while s.lower() in taken:
        s = f"{base}_{i}"
        i += 1
    taken.add(s.lower())
    return s


class _Plan:
    """Plain (untracked) data the module needs: the graph and the weight -> variable map."""

    def __init__(self, graph: Graph, index: dict[str, int], constants: dict[str, np.ndarray],
                 opset: int | None):
        self.graph = graph
        self.index = index
        self.constants = constants
        self.opset = opset


def build_tf_module(graph: Graph):
    """A tf.Module computing ``graph``: ``module(*inputs) -> {output name: tensor}`` (a
    tf.function with an input signature), ``module.run(*inputs, capture=[value names])`` ->
    {name: numpy array} (eager, for layer-by-layer checks), ``module.input_names``: the
    signature key of each graph input. Floating weights are tf.Variables, others constants.
    Raises UnsupportedError (naming op and node) before building anything it cannot run."""
    tf = require("tensorflow", "tf", "converting to TensorFlow")
    graph = tf_runnable(graph)
    taken: set[str] = set()
    names = [sanitize_input_name(v.name, taken) for v in graph.inputs]
    specs = []
    for v, n in zip(graph.inputs, names):
        try:
            dtype = tf_dtype(tf, v.type.dtype or "float32")
        except TypeError:
            raise UnsupportedError(f"input '{v.name}': element type {v.type.dtype} has no "
                                   f"TensorFlow form") from None
        specs.append(tf.TensorSpec(_spec_shape(v), dtype, name=n))

    class GraphModule(tf.Module):
        def __init__(self):
            super().__init__(name="graphscope")
            index, variables, constants = {}, [], {}
            for name, v in sorted(_all_weights(graph).items()):
                arr = np.asarray(v.data.read())  # not kept: the variable holds it
                if arr.dtype.kind == "f":
                    index[name] = len(variables)
                    variables.append(tf.Variable(arr, trainable=False,
                                                 name=f"w{len(variables)}"))
                else:  # shapes, indices, masks: constants, so their values stay static
                    constants[name] = arr
            self.weights = variables
            opset = graph.metadata.get("opset") if graph.metadata.get("format") == "onnx" \
                else None
            self._plan = _Plan(graph, index, constants, opset)

        @property
        def input_names(self) -> list[str]:
            """The serving signature's key for each graph input, in order."""
            return list(names)

        @property
        def output_names(self) -> list[str]:
            return [v.name for v in self._plan.graph.outputs]

        @tf.function(input_signature=specs, autograph=False)  # plain Python tracing
        def __call__(self, *args):
            env = _walk(tf, self._plan, self.weights, args, capture=None)[0]
            return {v.name: env[v.name] for v in self._plan.graph.outputs}

        def run(self, *inputs, capture: list[str] | None = None) -> dict[str, np.ndarray]:
            """Run eagerly; return the values named in ``capture`` (default: the outputs),
            in that order. Names the module lacks (e.g. values a framework op had before it
            was lowered to ONNX ops) are left out, as verification expects."""
            want = [v.name for v in self._plan.graph.outputs] if capture is None else capture
            args = [tf.convert_to_tensor(x, dtype=s.dtype) for x, s in zip(inputs, specs)]
            _, captured = _walk(tf, self._plan, self.weights, args, set(want))
            return {k: np.asarray(captured[k]) for k in want if k in captured}

    module = GraphModule()
    module.__call__.get_concrete_function()  # trace now: op errors surface before any save
    return module


def _spec_shape(v):
    shape = v.type.shape
    return None if shape is None else [d if isinstance(d, int) else None for d in shape]


def _all_weights(graph: Graph) -> dict:
    """The weights of the graph and of every subgraph (branch, loop body): ONNX names are
    unique across scopes, so one map serves all of them."""
    weights = dict(graph.weights)
    for _, node in graph.walk():
        for sub in node.subgraphs.values():
            weights.update(sub.weights)
    return weights


def _walk(tf, plan: _Plan, variables, args, capture: set[str] | None):
    """Evaluate the graph; returns (env, captured)."""
    token = _OPSET.set(plan.opset)
    try:
        env: dict[str, object] = {}
        for name, i in plan.index.items():
            env[name] = variables[i]
        for name, arr in plan.constants.items():
            env[name] = tf.constant(arr)
        for v, a in zip(plan.graph.inputs, args):
            env[v.name] = a
        captured = {}
        if capture:
            captured.update({k: env[k] for k in capture if k in env})
        _run_nodes(tf, plan.graph, env, capture, captured)
        return env, captured
    finally:
        _OPSET.reset(token)


def _run_nodes(tf, graph: Graph, env: dict, capture: set[str] | None = None,
               captured: dict | None = None) -> None:
    """Run ``graph``'s nodes in order, adding each output to ``env`` (and to ``captured``
    when its name is in ``capture``)."""
    token = _SCOPE.set(env)
    try:
        for node in graph.nodes:
            ins = [None if v is None else env[v.name] for v in node.inputs]
            try:
                outs = OPS[node.op](tf, node, ins)
            except UnsupportedError as exc:
                if exc.node is None:
                    exc.node = node.name
                raise
            except (ValueError, TypeError, NotImplementedError,
                    tf.errors.UnimplementedError) as exc:  # TF refused it
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
                raise UnsupportedError(f"{node.op}: TensorFlow cannot build it: {first}",
                                       node=node.name) from exc
            if not isinstance(outs, (list, tuple)):
                outs = [outs]
            for v, o in zip(node.outputs, outs):
                env[v.name] = o
                if capture and v.name in capture:
                    captured[v.name] = o
    finally:
        _SCOPE.reset(token)


def _call_graph(tf, graph: Graph, args) -> list:
    """Evaluate a subgraph (a branch or a loop body) on ``args``, its inputs in order; it
    reads outer-scope values by name from the scope of the node that calls it."""
    env = dict(_SCOPE.get())
    for v, a in zip(graph.inputs, args):
        env[v.name] = a
    _run_nodes(tf, graph, env)
    return [tf.convert_to_tensor(env[v.name]) for v in graph.outputs]  # variables are read


def save_saved_model(module, path) -> Path:
    """Write ``module`` as a SavedModel directory at ``path``, atomically: saved into a
    temporary directory beside it, then renamed into place. ``path`` must not exist or be an
    empty directory (UsageError otherwise: we never overwrite a model)."""
    tf = require("tensorflow", "tf", "saving a TensorFlow SavedModel")
    path = _check_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would stay on the model directory
        serving = module.__call__.get_concrete_function()
        tf.saved_model.save(module, tmp, signatures={"serving_default": serving})
        if path.exists():
            path.rmdir()
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _check_target(path) -> Path:
    path = Path(path)
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        raise UsageError(f"'{path}' already exists and is not an empty directory; remove it or "
                         f"choose another output path")
    return path


def to_tf(graph: Graph, output=None):
    """Build the module and, when ``output`` is given, save it there as a SavedModel."""
    if output is not None:
        _check_target(output)  # before the (possibly long) build
    module = build_tf_module(graph)
    if output is not None:
        save_saved_model(module, output)
    return module


# -- helpers ---------------------------------------------------------------------------------
def _a(node: Node, name: str, default=None):
    value = attr(node, name)
    return default if value is None else value


def _has(ins, i) -> bool:
    return len(ins) > i and ins[i] is not None


def _static(tf, node: Node, ins, i):
    """The value of input ``i`` as a numpy array when known while building (a weight, a
    constant, or something TF folds), else None."""
    if not _has(ins, i):
        return None
    v = node.inputs[i]
    if v is not None and v.data is not None:
        return np.asarray(v.data.array)
    return tf.get_static_value(ins[i])


def _static_ints(tf, node, ins, i, what: str) -> list[int]:
    value = _static(tf, node, ins, i)
    if value is None:
        raise UnsupportedError(f"{node.op} needs a constant {what} (input {i}) for TensorFlow")
    return [int(d) for d in np.asarray(value).reshape(-1)]


def _ints_or_input(tf, node, ins, name: str, i: int):
    """An attribute that later opsets moved to input ``i`` (axes, pads, split, ...)."""
    if node.attrs.get(name) is not None:
        return [int(d) for d in node.attrs[name]]
    if _has(ins, i):
        return _static_ints(tf, node, ins, i, name)
    return None


def _rank(node, x) -> int:
    r = x.shape.rank
    if r is None:
        raise UnsupportedError(f"{node.op} needs an input of known rank")
    return r


def _dims(tf, x) -> list:
    """Each dim as a python int where static, else a scalar int64 tensor."""
    dyn = None
    out = []
    for i, d in enumerate(x.shape.as_list()):
        if d is None:
            dyn = tf.shape(x, out_type=tf.int64) if dyn is None else dyn
            out.append(dyn[i])
        else:
            out.append(d)
    return out


def _spatial(node, x) -> list[int]:
    """Static spatial sizes of an NC... tensor: window ops need them to lay out padding."""
    sizes = x.shape.as_list()[2:]
    if any(d is None for d in sizes):
        raise UnsupportedError(f"{node.op} needs static spatial dims for TensorFlow "
                               f"(got {x.shape})")
    return sizes


def _nhwc(tf, x):
    r = x.shape.rank
    return tf.transpose(x, [0] + list(range(2, r)) + [1])


def _nchw(tf, x):
    r = x.shape.rank
    return tf.transpose(x, [0, r - 1] + list(range(1, r - 1)))


def _window_pads(node, x, kernel, strides, dil) -> list[int]:
    """ONNX pads [b1..bn, e1..en] after auto_pad."""
    auto = _a(node, "auto_pad", "NOTSET")
    sizes = _spatial(node, x) if auto in ("SAME_UPPER", "SAME_LOWER") else None
    return explicit_pads(auto, node.attrs.get("pads"), sizes, kernel, strides, dil)


def _pad_spatial_nhwc(tf, x, begin, end, value=0):
    if not any(begin) and not any(end):
        return x
    paddings = [[0, 0]] + [[b, e] for b, e in zip(begin, end)] + [[0, 0]]
    return tf.pad(x, paddings, constant_values=value)


# -- convolution -----------------------------------------------------------------------------
@op("Conv")
def _conv(tf, node, ins):
    x, w = ins[0], ins[1]
    n = _rank(node, x) - 2
    kernel = [int(k) for k in w.shape[2:]]
    strides = list(node.attrs.get("strides") or [1] * n)
    dil = list(node.attrs.get("dilations") or [1] * n)
    pads = _window_pads(node, x, kernel, strides, dil)
    group = int(_a(node, "group", 1))
    squeeze = n == 1  # 1-D as 2-D with a unit height
    if squeeze:
        x, w = tf.expand_dims(x, 2), tf.expand_dims(w, 2)
        strides, dil, pads = [1] + strides, [1] + dil, [0, pads[0], 0, pads[1]]
        n = 2
    xh = _pad_spatial_nhwc(tf, _nhwc(tf, x), pads[:n], pads[n:])
    wt = tf.transpose(w, list(range(2, n + 2)) + [1, 0])  # O I k.. -> k.. I O
    if n == 2:  # TF's Conv2D takes groups natively (input channels = groups x filter's)
        y = tf.nn.conv2d(xh, wt, [1] + strides + [1], "VALID", dilations=[1] + dil + [1])
    elif n == 3:
        parts = zip(tf.split(xh, group, axis=-1), tf.split(wt, group, axis=-1))
        y = tf.concat([tf.nn.conv3d(a, b, [1] + strides + [1], "VALID",
                                    dilations=[1] + dil + [1]) for a, b in parts], axis=-1)
    else:
        raise UnsupportedError(f"Conv with {n} spatial dims")
    if _has(ins, 2):
        y = y + ins[2]
    y = _nchw(tf, y)
    return tf.squeeze(y, 2) if squeeze else y


@op("ConvTranspose")
def _conv_transpose(tf, node, ins):
    x, w = ins[0], ins[1]
    n = _rank(node, x) - 2
    kernel = [int(k) for k in w.shape[2:]]
    strides = list(node.attrs.get("strides") or [1] * n)
    dil = list(node.attrs.get("dilations") or [1] * n)
    out_pad = list(node.attrs.get("output_padding") or [0] * n)
    group = int(_a(node, "group", 1))
    sizes = _spatial(node, x)
    full = [(i - 1) * s + (k - 1) * d + 1 for i, s, k, d in zip(sizes, strides, kernel, dil)]
    pads = _transpose_pads(node, sizes, full, strides, out_pad, n)
    squeeze = n == 1
    if squeeze:
        x, w = tf.expand_dims(x, 2), tf.expand_dims(w, 2)
        strides, dil, out_pad, full = [1] + strides, [1] + dil, [0] + out_pad, [1] + full
        pads = [0, pads[0], 0, pads[1]]
        n = 2
    xh = _nhwc(tf, x)
    wt = tf.transpose(w, list(range(2, n + 2)) + [1, 0])  # I O/g k.. -> k.. O/g I
    if any(d > 1 for d in dil):  # TF's CPU kernels refuse dilation: spread the taps instead
        wt, dil = _dilate_kernel(tf, wt, dil), [1] * n
    cout = int(w.shape[1])
    batch = _dims(tf, x)[0]
    shape = tf.stack([tf.cast(batch, tf.int32)] + [tf.constant(f, tf.int32) for f in full]
                     + [tf.constant(cout, tf.int32)])
    ys = [tf.nn.conv_transpose(a, b, shape, [1] + strides + [1], "VALID",
                               dilations=[1] + dil + [1])
          for a, b in zip(tf.split(xh, group, axis=-1), tf.split(wt, group, axis=-1))]
    y = ys[0] if group == 1 else tf.concat(ys, axis=-1)
    # output_padding adds rows no input reaches (zeros, then bias); pads crop the full output,
    # negative pads (an output_shape larger than the full output) add zero rows
    grow_b = [max(0, -p) for p in pads[:n]]
    grow_e = [max(0, -p) for p in pads[n:]]
    y = _pad_spatial_nhwc(tf, y, grow_b, [o + g for o, g in zip(out_pad, grow_e)])
    index = [slice(None)] + [slice(max(0, pads[i]), grow_b[i] + f + op_ + grow_e[i]
                                   - max(0, pads[n + i]))
                             for i, (f, op_) in enumerate(zip(full, out_pad))] + [slice(None)]
    y = y[tuple(index)]
    if _has(ins, 2):
        y = y + ins[2]
    y = _nchw(tf, y)
    return tf.squeeze(y, 2) if squeeze else y


def _dilate_kernel(tf, w, dil):
    """A kernel (k.., O, I) with d-1 zero taps between its taps along each spatial axis: a
    transposed convolution with it equals the dilated one, and TF runs it on CPU."""
    for axis, d in enumerate(dil):
        k = int(w.shape[axis])
        if d == 1 or k == 1:
            continue
        gap = list(w.shape)
        gap[axis] = d - 1
        zeros = tf.zeros(gap, w.dtype)
        pieces = []
        for i in range(k):
            pieces.append(tf.gather(w, [i], axis=axis))
            if i < k - 1:
                pieces.append(zeros)
        w = tf.concat(pieces, axis=axis)
    return w


def _transpose_pads(node, sizes, full, strides, out_pad, n) -> list[int]:
    """ConvTranspose pads: given, or from output_shape / auto_pad as the ONNX spec says."""
    auto = _a(node, "auto_pad", "NOTSET")
    target = node.attrs.get("output_shape")
    if target is None and auto in ("SAME_UPPER", "SAME_LOWER"):
        target = [i * s for i, s in zip(sizes, strides)]
    if target is None:
        return [int(p) for p in (node.attrs.get("pads") or [0] * (2 * n))]
    target = list(target)[-n:]
    begin, end = [], []
    for f, op_, t in zip(full, out_pad, target):
        total = f + op_ - t
        half = total // 2
        if auto == "SAME_UPPER":
            begin.append(half), end.append(total - half)
        else:
            begin.append(total - half), end.append(half)
    return begin + end


# -- dense -----------------------------------------------------------------------------------
@op("Gemm")
def _gemm(tf, node, ins):
    y = tf.matmul(ins[0], ins[1], transpose_a=bool(_a(node, "transA", 0)),
                  transpose_b=bool(_a(node, "transB", 0)))
    alpha = float(_a(node, "alpha", 1.0))
    if alpha != 1.0:
        y = y * alpha
    if _has(ins, 2):
        beta = float(_a(node, "beta", 1.0))
        y = y + (ins[2] * beta if beta != 1.0 else ins[2])
    return y


@op("MatMul")
def _matmul(tf, node, ins):
    a, b = ins[0], ins[1]
    # numpy semantics: a 1-D operand is promoted to a matrix, then the added dim removed
    va, vb = a.shape.rank == 1, b.shape.rank == 1
    if va:
        a = tf.expand_dims(a, 0)
    if vb:
        b = tf.expand_dims(b, -1)
    y = tf.linalg.matmul(a, b)
    if va:
        y = tf.squeeze(y, -2)
    if vb:
        y = tf.squeeze(y, -1)
    return y


@op("Einsum")
def _einsum(tf, node, ins):
    return tf.einsum(node.attrs["equation"], *ins)


# -- pooling ---------------------------------------------------------------------------------
def _pool_window(tf, xh, kind, kernel, strides, dil):
    """Pool an NHWC tensor with no padding; dilated windows pool at stride 1, then subsample
    (TF allows dilation only with unit strides, and no stride larger than the window)."""
    if all(d == 1 for d in dil) and all(s <= k for s, k in zip(strides, kernel)):
        return tf.nn.pool(xh, kernel, kind, strides=strides, padding="VALID")
    y = tf.nn.pool(xh, kernel, kind, strides=[1] * len(kernel), padding="VALID", dilations=dil)
    return y[(slice(None),) + tuple(slice(None, None, s) for s in strides)]


def _pool(tf, node, ins, kind):
    indices = len(node.outputs) > 1
    x = ins[0]
    if indices and _rank(node, x) != 4:
        raise UnsupportedError("MaxPool's Indices output beyond 2-D pooling")
    if kind == "LP":  # (sum over the zero-padded window of |x|^p)^(1/p)
        p = float(_a(node, "p", 2))
        kernel = [int(k) for k in node.attrs["kernel_shape"]]
        lp = dict(node.attrs, count_include_pad=1)
        mean = _pool(tf, Node(node.name, "AveragePool", node.inputs, node.outputs, lp), 
                     [tf.pow(tf.abs(x), p)], "AVG")
        return tf.pow(mean * float(np.prod(kernel)), 1.0 / p)
    kernel = [int(k) for k in node.attrs["kernel_shape"]]
    n = len(kernel)
    strides = list(node.attrs.get("strides") or [1] * n)
    dil = list(node.attrs.get("dilations") or [1] * n)
    pads = _window_pads(node, x, kernel, strides, dil)
    sizes = _spatial(node, x)
    ceil = bool(_a(node, "ceil_mode", 0))
    extra = []  # ceil_mode: end padding for the last, partial window
    for i, (size, k, s, d) in enumerate(zip(sizes, kernel, strides, dil)):
        eff = (k - 1) * d + 1
        span = size + pads[i] + pads[n + i] - eff
        out = (-(-span // s) if ceil else span // s) + 1
        if ceil and (out - 1) * s >= size + pads[i]:  # no window may start in the end padding
            out -= 1
        extra.append(max(0, (out - 1) * s + eff - (size + pads[i] + pads[n + i])))
    end = [p + e for p, e in zip(pads[n:], extra)]
    xh = _nhwc(tf, x)
    if kind == "MAX":
        low = -np.inf if x.dtype.is_floating else x.dtype.min
        if indices:
            return _max_pool_indices(tf, node, x, xh, pads[:n], end, low, kernel, strides, dil)
        y = _pool_window(tf, _pad_spatial_nhwc(tf, xh, pads[:n], end, low), kind, kernel,
                         strides, dil)
        return _nchw(tf, y)
    if not any(pads) and not any(extra):
        return _nchw(tf, _pool_window(tf, xh, kind, kernel, strides, dil))
    # average over the cells that count: a 0/1 mask pooled the same way gives the divisor
    mask = np.ones([1] + sizes + [1], x.dtype.as_numpy_dtype)
    keep = 1 if _a(node, "count_include_pad", 0) else 0
    mask = np.pad(mask, [(0, 0)] + [(b, e) for b, e in zip(pads[:n], pads[n:])] + [(0, 0)],
                  constant_values=keep)
    mask = np.pad(mask, [(0, 0)] + [(0, e) for e in extra] + [(0, 0)])
    num = _pool_window(tf, _pad_spatial_nhwc(tf, xh, pads[:n], end), kind, kernel, strides, dil)
    den = _pool_window(tf, tf.constant(mask), kind, kernel, strides, dil)
    return _nchw(tf, num / den)


def _max_pool_indices(tf, node, x, xh, begin, end, low, kernel, strides, dil):
    """2-D max pooling with its Indices output: the flat position (row-major over N C H W,
    or with H and W swapped for storage_order 1) of each window's first maximum."""
    n, c, h, w = (tf.cast(d, tf.int64) for d in _dims(tf, x))
    flat = tf.reshape(tf.range(n * c * h * w), tf.stack([n, c, h, w]))
    if _a(node, "storage_order", 0):  # column-major within each image
        hh, ww = tf.meshgrid(tf.range(h), tf.range(w), indexing="ij")
        flat = (tf.range(n * c)[:, None, None] * w * h + ww * h + hh)
        flat = tf.reshape(flat, tf.stack([n, c, h, w]))
    args = dict(sizes=[1] + kernel + [1], strides=[1] + strides + [1], rates=[1] + dil + [1],
                padding="VALID")
    vals = tf.image.extract_patches(_pad_spatial_nhwc(tf, xh, begin, end, low), **args)
    where = tf.image.extract_patches(_pad_spatial_nhwc(tf, _nhwc(tf, flat), begin, end, -1),
                                     **args)
    shape = tf.concat([tf.shape(vals)[:3], [kernel[0] * kernel[1], -1]], 0)
    vals, where = tf.reshape(vals, shape), tf.reshape(where, shape)
    first = tf.argmax(vals, axis=3)[:, :, :, None]
    take = tf.experimental.numpy.take_along_axis
    y, i = tf.squeeze(take(vals, first, axis=3), 3), tf.squeeze(take(where, first, axis=3), 3)
    return [_nchw(tf, y), _nchw(tf, i)]


@op("MaxPool")
def _maxpool(tf, node, ins):
    return _pool(tf, node, ins, "MAX")


@op("AveragePool")
def _avgpool(tf, node, ins):
    return _pool(tf, node, ins, "AVG")


@op("LpPool")
def _lppool(tf, node, ins):
    return _pool(tf, node, ins, "LP")


@op("GlobalAveragePool")
def _gap(tf, node, ins):
    return tf.reduce_mean(ins[0], axis=list(range(2, _rank(node, ins[0]))), keepdims=True)


@op("GlobalMaxPool")
def _gmp(tf, node, ins):
    return tf.reduce_max(ins[0], axis=list(range(2, _rank(node, ins[0]))), keepdims=True)


# -- normalization ---------------------------------------------------------------------------
def _per_channel(tf, p, rank):
    """A [C] parameter shaped to broadcast over an N C ... tensor."""
    return tf.reshape(p, [-1] + [1] * (rank - 2))


@op("BatchNormalization")
def _bn(tf, node, ins):
    x, scale, bias, mean, var = ins[:5]
    r = _rank(node, x)
    if _a(node, "training_mode", 0):  # batch statistics; running stats updated by momentum
        axes = [0] + list(range(2, r))
        cur_mean, cur_var = tf.nn.moments(x, axes=axes)
        eps = float(_a(node, "epsilon", 1e-5))
        y = (x - _per_channel(tf, cur_mean, r)) * _per_channel(tf, tf.math.rsqrt(cur_var + eps), r)
        y = y * _per_channel(tf, scale, r) + _per_channel(tf, bias, r)
        m = float(_a(node, "momentum", 0.9))
        return [y, mean * m + cur_mean * (1 - m), var * m + cur_var * (1 - m)][:len(node.outputs)]
    k = scale * tf.math.rsqrt(var + float(_a(node, "epsilon", 1e-5)))
    return x * _per_channel(tf, k, r) + _per_channel(tf, bias - mean * k, r)


@op("InstanceNormalization")
def _instance_norm(tf, node, ins):
    x = ins[0]
    r = _rank(node, x)
    mean, var = tf.nn.moments(x, axes=list(range(2, r)), keepdims=True)
    y = (x - mean) * tf.math.rsqrt(var + float(_a(node, "epsilon", 1e-5)))
    return y * _per_channel(tf, ins[1], r) + _per_channel(tf, ins[2], r)


@op("LayerNormalization")
def _layer_norm(tf, node, ins):
    x = ins[0]
    r = _rank(node, x)
    axes = list(range(norm_axis(int(_a(node, "axis", -1)), r), r))
    mean, var = tf.nn.moments(x, axes=axes, keepdims=True)
    inv = tf.math.rsqrt(var + float(_a(node, "epsilon", 1e-5)))
    y = (x - mean) * inv * ins[1]
    if _has(ins, 2):
        y = y + ins[2]
    return [y, mean, inv][:max(1, len(node.outputs))]


@op("LRN")
def _lrn(tf, node, ins):
    # ONNX: x / (bias + alpha/size * sum of x^2 over channels [c - floor((size-1)/2),
    # c + ceil((size-1)/2)])^beta; summed as shifted slices of the zero-padded squares
    x = ins[0]
    size = int(node.attrs["size"])
    lo = (size - 1) // 2
    r = _rank(node, x)
    channels = _dims(tf, x)[1]
    sq = tf.pad(tf.square(x), [[0, 0], [lo, size - 1 - lo]] + [[0, 0]] * (r - 2))
    total = sum(sq[:, i:i + channels] for i in range(size))
    alpha, beta = float(_a(node, "alpha", 1e-4)), float(_a(node, "beta", 0.75))
    return x / tf.pow(float(_a(node, "bias", 1.0)) + alpha / size * total, beta)


# -- activations -----------------------------------------------------------------------------
def _unary(fn_name: str):
    def impl(tf, node, ins):
        fn = tf
        for part in fn_name.split("."):
            fn = getattr(fn, part)
        return fn(ins[0])
    return impl


for _op_name, _fn_name in {
        "Relu": "nn.relu", "Sigmoid": "math.sigmoid", "Tanh": "math.tanh", "Exp": "math.exp",
        "Log": "math.log", "Sqrt": "math.sqrt", "Neg": "math.negative", "Abs": "math.abs",
        "Reciprocal": "math.reciprocal", "Floor": "math.floor", "Ceil": "math.ceil",
        "Erf": "math.erf", "Sin": "math.sin", "Cos": "math.cos", "Sign": "math.sign",
        "Round": "math.round",  # half to even, as ONNX
        "Not": "math.logical_not", "Softplus": "math.softplus", "Softsign": "nn.softsign",
        "IsNaN": "math.is_nan", "Acos": "math.acos", "Acosh": "math.acosh",
        "Asin": "math.asin", "Asinh": "math.asinh", "Atan": "math.atan", "Atanh": "math.atanh",
        "Cosh": "math.cosh", "Sinh": "math.sinh", "Tan": "math.tan",
        "BitwiseNot": "bitwise.invert"}.items():
    OPS[_op_name] = _unary(_fn_name)


@op("IsInf")
def _is_inf(tf, node, ins):
    x = ins[0]
    pos = tf.logical_and(tf.math.is_inf(x), x > 0)
    neg = tf.logical_and(tf.math.is_inf(x), x < 0)
    if not _a(node, "detect_positive", 1):
        pos = tf.zeros_like(pos)
    if not _a(node, "detect_negative", 1):
        neg = tf.zeros_like(neg)
    return tf.logical_or(pos, neg)


@op("Trilu")
def _trilu(tf, node, ins):
    x = ins[0]
    k = 0 if not _has(ins, 1) else tf.cast(tf.reshape(ins[1], []), tf.int64)
    rows = tf.range(tf.shape(x, out_type=tf.int64)[-2])[:, None]
    cols = tf.range(tf.shape(x, out_type=tf.int64)[-1])[None, :]
    keep = cols - rows >= k if _a(node, "upper", 1) else cols - rows <= k
    return tf.where(keep, x, tf.zeros_like(x))


@op("Hardmax")
def _hardmax(tf, node, ins):
    x = ins[0]
    axis = _a(node, "axis", -1)
    depth = tf.shape(x)[axis]
    return tf.one_hot(tf.argmax(x, axis=axis), depth, axis=axis, dtype=x.dtype)


@op("Det")
def _det(tf, node, ins):
    return tf.linalg.det(ins[0])


@op("RMSNormalization")
def _rms_norm(tf, node, ins):
    x, scale = ins[0], ins[1]
    rank = _rank(node, x)
    axis = _a(node, "axis", -1)
    axes = list(range(axis % rank, rank))
    xf = tf.cast(x, tf.float32)
    rms = tf.sqrt(tf.reduce_mean(xf * xf, axis=axes, keepdims=True) + _a(node, "epsilon", 1e-5))
    return tf.cast(xf / rms, x.dtype) * scale


@op("NegativeLogLikelihoodLoss")
def _nll(tf, node, ins):
    return _nll_loss(tf, node, ins[0], ins[1], ins[2] if _has(ins, 2) else None)


def _nll_loss(tf, node, x, target, weight):
    target = tf.cast(target, tf.int64)
    ignore = node.attrs.get("ignore_index")
    keep = tf.ones_like(target, dtype=tf.bool) if ignore is None else \
        tf.not_equal(target, ignore)
    safe = tf.where(keep, target, tf.zeros_like(target))
    rank = _rank(node, x)
    moved = tf.transpose(x, [0] + list(range(2, rank)) + [1])  # classes last
    picked = tf.gather(moved, safe, batch_dims=rank - 1)
    w = tf.ones_like(picked) if weight is None else tf.gather(weight, safe)
    w = tf.where(keep, w, tf.zeros_like(w))
    loss = -picked * w
    reduction = _a(node, "reduction", "mean")
    if reduction == "none":
        return loss
    if reduction == "sum":
        return tf.reduce_sum(loss)
    return tf.reduce_sum(loss) / tf.reduce_sum(w)


@op("SoftmaxCrossEntropyLoss")
def _sce(tf, node, ins):
    log_prob = tf.nn.log_softmax(ins[0], axis=1)
    loss = _nll_loss(tf, node, log_prob, ins[1], ins[2] if _has(ins, 2) else None)
    return [loss, log_prob]


for _op_name, _fn_name in {"BitwiseAnd": "bitwise_and", "BitwiseOr": "bitwise_or",
                           "BitwiseXor": "bitwise_xor"}.items():
    OPS[_op_name] = (lambda name: lambda tf, node, ins: getattr(tf.bitwise, name)(ins[0], ins[1])
                     )(_fn_name)


@op("LeakyRelu")
def _leaky(tf, node, ins):
    x = ins[0]
    return tf.where(x >= 0, x, x * float(_a(node, "alpha", 0.01)))


@op("Elu")
def _elu(tf, node, ins):
    x = ins[0]
    return tf.where(x > 0, x, float(_a(node, "alpha", 1.0)) * tf.math.expm1(x))


@op("Selu")
def _selu(tf, node, ins):
    x = ins[0]
    alpha, gamma = float(_a(node, "alpha", 1.67326)), float(_a(node, "gamma", 1.0507))
    return gamma * tf.where(x > 0, x, alpha * tf.math.expm1(x))


@op("Celu")
def _celu(tf, node, ins):
    x = ins[0]
    alpha = float(_a(node, "alpha", 1.0))
    zero = tf.zeros([], x.dtype)
    return tf.maximum(x, zero) + tf.minimum(zero, alpha * tf.math.expm1(x / alpha))


@op("ThresholdedRelu")
def _thresholded_relu(tf, node, ins):
    x = ins[0]
    return tf.where(x > float(_a(node, "alpha", 1.0)), x, tf.zeros_like(x))


@op("PRelu")
def _prelu(tf, node, ins):
    x, slope = ins  # slope broadcasts numpy-style, as ONNX says
    return tf.where(x < 0, x * slope, x)


@op("Gelu")
def _gelu(tf, node, ins):
    x = ins[0]
    if node.attrs.get("approximate", "none") == "tanh":
        inner = np.sqrt(2.0 / np.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1.0 + tf.math.tanh(inner))
    return 0.5 * x * (1.0 + tf.math.erf(x / np.sqrt(2.0)))


@op("HardSigmoid")
def _hard_sigmoid(tf, node, ins):
    y = float(_a(node, "alpha", 0.2)) * ins[0] + float(_a(node, "beta", 0.5))
    return tf.clip_by_value(y, 0.0, 1.0)


@op("HardSwish")
def _hard_swish(tf, node, ins):
    x = ins[0]
    return x * tf.clip_by_value(x / 6.0 + 0.5, 0.0, 1.0)


@op("Mish")
def _mish(tf, node, ins):
    return ins[0] * tf.math.tanh(tf.math.softplus(ins[0]))


@op("Swish", "Silu")
def _silu(tf, node, ins):
    alpha = float(node.attrs.get("alpha", 1.0))
    return ins[0] * tf.math.sigmoid(alpha * ins[0])


@op("Clip")
def _clip(tf, node, ins):
    x = ins[0]
    lo = ins[1] if _has(ins, 1) else node.attrs.get("min")
    hi = ins[2] if _has(ins, 2) else node.attrs.get("max")
    if lo is not None:
        x = tf.maximum(x, tf.cast(lo, x.dtype))
    if hi is not None:
        x = tf.minimum(x, tf.cast(hi, x.dtype))
    return x


def _softmax_like(tf, node, x, fn):
    r = _rank(node, x)
    opset = _OPSET.get()
    if opset is not None and opset < 13:
        # before opset 13: flatten to 2-D at axis (default 1), normalise each row
        axis = norm_axis(int(node.attrs.get("axis", 1)), r)
        dims = _dims(tf, x)
        y = fn(tf.reshape(x, [-1, _prod(tf, dims[axis:])]), axis=-1)
        return tf.reshape(y, tf.shape(x))
    return fn(x, axis=norm_axis(int(_a(node, "axis", -1)), r))


@op("Softmax")
def _softmax(tf, node, ins):
    return _softmax_like(tf, node, ins[0], tf.nn.softmax)


@op("LogSoftmax")
def _log_softmax(tf, node, ins):
    return _softmax_like(tf, node, ins[0], tf.nn.log_softmax)


# -- elementwise -----------------------------------------------------------------------------
def _div(tf, a, b):
    if a.dtype.is_integer:  # ONNX integer division truncates toward zero
        return tf.truncatediv(a, b)
    return a / b


def _binary(fn: Callable):
    return lambda tf, node, ins: fn(tf, ins[0], ins[1])


for _op_name, _fn in {
        "Add": lambda tf, a, b: a + b, "Sub": lambda tf, a, b: a - b,
        "Mul": lambda tf, a, b: a * b, "Div": _div,
        "Pow": lambda tf, a, b: tf.pow(a, tf.cast(b, a.dtype)),
        "Equal": lambda tf, a, b: tf.equal(a, b), "Greater": lambda tf, a, b: tf.greater(a, b),
        "Less": lambda tf, a, b: tf.less(a, b),
        "GreaterOrEqual": lambda tf, a, b: tf.greater_equal(a, b),
        "LessOrEqual": lambda tf, a, b: tf.less_equal(a, b),
        "And": lambda tf, a, b: tf.logical_and(a, b), "Or": lambda tf, a, b: tf.logical_or(a, b),
        "Xor": lambda tf, a, b: tf.math.logical_xor(a, b)}.items():
    OPS[_op_name] = _binary(_fn)


@op("Mod")
def _mod(tf, node, ins):
    a, b = ins
    if a.dtype in (tf.float16, tf.bfloat16):  # no CPU kernels: compute in float32
        return tf.cast(_mod(tf, node, [tf.cast(a, tf.float32), tf.cast(b, tf.float32)]), a.dtype)
    if _a(node, "fmod", 0):
        return tf.truncatemod(a, b)  # C fmod: the dividend's sign
    return tf.math.floormod(a, b)  # Python %: the divisor's sign


@op("Max", "Min", "Sum", "Mean")
def _variadic(tf, node, ins):
    fn = {"Max": tf.maximum, "Min": tf.minimum}.get(node.op, lambda a, b: a + b)
    xs = [t for t in ins if t is not None]
    out = xs[0]
    for t in xs[1:]:
        out = fn(out, t)
    return out / len(xs) if node.op == "Mean" else out


@op("Where")
def _where(tf, node, ins):
    return tf.where(tf.cast(ins[0], tf.bool), ins[1], ins[2])


@op("Dropout")
def _dropout(tf, node, ins):
    x = ins[0]  # inference: identity; the optional mask output is all true
    return [x, tf.ones_like(x, dtype=tf.bool)][:max(1, len(node.outputs))]


@op("Identity")
def _identity(tf, node, ins):
    return tf.identity(ins[0])


# the float8 types TensorFlow holds and casts (through ml_dtypes); no other float8 / sub-byte
_FLOAT8 = {17: "float8_e4m3fn", 19: "float8_e5m2"}


def tf_dtype(tf, name: str):
    """A graphscope / ONNX element type name as a TF dtype (TypeError when TF has none)."""
    f8 = {"float8e4m3fn": "float8_e4m3fn", "float8e5m2": "float8_e5m2"}.get(name, name)
    if f8.startswith("float8_"):
        import ml_dtypes
        return tf.as_dtype(getattr(ml_dtypes, f8))
    return tf.as_dtype(name)


def onnx_tf_dtype(tf, onnx_type: int, what: str):
    """The TF dtype of an ONNX element type number, or an UnsupportedError naming it."""
    from ..ir.shapes import ONNX_DTYPES
    name = ONNX_DTYPES.get(int(onnx_type)) or _FLOAT8.get(int(onnx_type))
    try:
        if name is None or name == "string":
            raise TypeError
        return tf_dtype(tf, name)
    except TypeError:
        raise UnsupportedError(f"{what}: ONNX element type {name or onnx_type} has no "
                               f"TensorFlow form") from None


def cast_to(tf, x, to, saturate: bool = True):
    """tf.cast with ONNX's rules for float8: saturate clamps to the largest finite value (NaN
    stays), otherwise e4m3fn overflows to NaN and e5m2 to infinity; float8 values pass
    through float32 (TF casts them to and from float32 only)."""
    if x.dtype == to:
        return x
    if "float8" in to.name and x.dtype.is_floating:
        big = float(to.max)
        x = tf.cast(x, tf.float32)
        over = tf.abs(x) > big
        if saturate:
            x = tf.where(over, tf.sign(x) * big, x)
        elif "e5m2" in to.name:
            x = tf.where(over, x * np.inf, x)
        else:
            x = tf.where(over, tf.fill(tf.shape(x), np.float32(np.nan)), x)
        return tf.cast(x, to)
    if "float8" in x.dtype.name:
        x = tf.cast(x, tf.float32)
    if "float8" in to.name:
        return tf.cast(tf.cast(x, tf.float32), to)
    return tf.cast(x, to)


@op("Cast")
def _cast(tf, node, ins):
    to = onnx_tf_dtype(tf, node.attrs["to"], "Cast")
    return cast_to(tf, ins[0], to, bool(_a(node, "saturate", 1)))


@op("CastLike")
def _cast_like(tf, node, ins):
    return cast_to(tf, ins[0], ins[1].dtype, bool(_a(node, "saturate", 1)))


# -- shape and tensor manipulation -----------------------------------------------------------
def _prod(tf, dims):
    """Product of mixed python ints / scalar tensors."""
    out = 1
    for d in dims:
        out = out * d
    return out


def _shape_vector(tf, parts):
    if all(isinstance(p, (int, np.integer)) for p in parts):
        return [int(p) for p in parts]
    return tf.stack([tf.cast(p, tf.int64) for p in parts])


@op("Concat")
def _concat(tf, node, ins):
    return tf.concat([t for t in ins if t is not None], axis=int(node.attrs["axis"]))


@op("Split")
def _split(tf, node, ins):
    x = ins[0]
    r = _rank(node, x)
    axis = norm_axis(int(_a(node, "axis", 0)), r)
    if node.attrs.get("split") is None and _has(ins, 1) and _static(tf, node, ins, 1) is None:
        return tf.split(x, tf.cast(ins[1], tf.int64), axis=axis, num=len(node.outputs))
    sizes = _ints_or_input(tf, node, ins, "split", 1)
    if sizes is None:  # equal parts; with num_outputs (opset 18) the last may be smaller
        k = len(node.outputs)
        dim = x.shape[axis]
        if dim is None:
            return tf.split(x, k, axis=axis)
        chunk = -(-dim // k)
        sizes = [min(chunk, dim - i * chunk) for i in range(k)]
    return tf.split(x, sizes, axis=axis)


@op("Reshape")
def _reshape(tf, node, ins):
    x = ins[0]
    allow_zero = bool(_a(node, "allowzero", 0))
    shape = node.attrs.get("shape")
    if shape is None:
        shape = _static(tf, node, ins, 1)
    if shape is not None:
        shape = [int(d) for d in np.asarray(shape).reshape(-1)]
        if not allow_zero:  # 0 copies the input's dim
            dims = _dims(tf, x)
            shape = [dims[i] if d == 0 else d for i, d in enumerate(shape)]
        return tf.reshape(x, _shape_vector(tf, shape))
    shape = tf.cast(ins[1], tf.int64)
    if not allow_zero:
        n = shape.shape[0]
        if n is None:
            raise UnsupportedError("Reshape with a shape of unknown length")
        dims = tf.shape(x, out_type=tf.int64)[:n]  # 0 can only stand where x has a dim
        if n > _rank(node, x):
            dims = tf.concat([dims, tf.ones([n - _rank(node, x)], tf.int64)], axis=0)
        shape = tf.where(shape == 0, dims, shape)
    return tf.reshape(x, shape)


@op("Flatten")
def _flatten(tf, node, ins):
    x = ins[0]
    r = _rank(node, x)
    axis = int(_a(node, "axis", 1))
    axis = axis + r if axis < 0 else axis  # Flatten's axis may equal the rank
    dims = _dims(tf, x)
    return tf.reshape(x, _shape_vector(tf, [_prod(tf, dims[:axis]), _prod(tf, dims[axis:])]))


@op("Transpose")
def _transpose(tf, node, ins):
    perm = node.attrs.get("perm")
    if perm is None:
        perm = list(range(_rank(node, ins[0])))[::-1]
    return tf.transpose(ins[0], [int(p) for p in perm])


@op("Squeeze")
def _squeeze(tf, node, ins):
    x = ins[0]
    if _runtime_axes(tf, node, ins):  # keep the dims not listed
        r = _rank(node, x)
        listed = _listed(tf, ins[1], r, r)
        return tf.reshape(x, tf.boolean_mask(tf.shape(x, out_type=tf.int64), ~listed))
    axes = _ints_or_input(tf, node, ins, "axes", 1)
    if axes is None:
        return tf.squeeze(x)
    r = _rank(node, x)
    return tf.squeeze(x, [norm_axis(a, r) for a in axes])


@op("Unsqueeze")
def _unsqueeze(tf, node, ins):
    x = ins[0]
    if _runtime_axes(tf, node, ins):  # a 1 where listed, the input's dims in order elsewhere
        n = ins[1].shape.num_elements()
        if n is None:
            raise UnsupportedError("Unsqueeze with axes of unknown length")
        r = _rank(node, x) + n
        new = _listed(tf, ins[1], r, r)
        src = tf.cumsum(tf.cast(~new, tf.int64)) - 1
        dims = tf.concat([tf.shape(x, out_type=tf.int64), [1]], 0)
        return tf.reshape(x, tf.where(new, tf.ones([r], tf.int64), tf.gather(dims, src)))
    axes = _ints_or_input(tf, node, ins, "axes", 1)
    r = _rank(node, x) + len(axes)
    for a in sorted(norm_axis(a, r) for a in axes):
        x = tf.expand_dims(x, a)
    return x


def _runtime_axes(tf, node, ins) -> bool:
    """Axes given as input 1 whose values are only known when the graph runs."""
    return node.attrs.get("axes") is None and _has(ins, 1) and _static(tf, node, ins, 1) is None


def _listed(tf, axes, r: int, n):
    """A [n] bool tensor: which of the axes 0..n-1 the (possibly negative) ``axes`` name."""
    axes = tf.cast(tf.reshape(axes, [-1]), tf.int64)
    axes = tf.where(axes < 0, axes + r, axes)
    return tf.reduce_any(tf.equal(tf.range(n, dtype=tf.int64)[:, None], axes[None, :]), axis=1)


def _vector(tf, node, ins, name, i):
    """An int vector attribute or input: python ints when static, else an int64 tensor."""
    if node.attrs.get(name) is not None:
        return [int(d) for d in node.attrs[name]]
    if not _has(ins, i):
        return None
    value = _static(tf, node, ins, i)
    if value is not None:
        return [int(d) for d in np.asarray(value).reshape(-1)]
    return tf.cast(tf.reshape(ins[i], [-1]), tf.int64)


def _clamp(tf, i, d):
    """A slice bound within [-d-1, d], where Python and TF slicing agree."""
    if isinstance(d, int) and isinstance(i, int):
        return max(-d - 1, min(d, i))
    d = tf.cast(d, tf.int64)
    return tf.clip_by_value(tf.cast(i, tf.int64), -d - 1, d)


@op("Slice")
def _slice(tf, node, ins):
    # ONNX Slice clamps like Python slicing; TF's strided_slice does too once the bounds
    # are within [-dim-1, dim] (it mishandles huge values such as INT64_MAX)
    x = ins[0]
    r = _rank(node, x)
    starts = _vector(tf, node, ins, "starts", 1)
    ends = _vector(tf, node, ins, "ends", 2)
    k = len(starts) if isinstance(starts, list) else int(starts.shape[0])
    if any(_has(ins, i) and _static(tf, node, ins, i) is None for i in (3, 4)):
        return _slice_dynamic(tf, node, ins, x, r, starts, ends)
    axes = _ints_or_input(tf, node, ins, "axes", 3)
    axes = list(range(k)) if axes is None else [norm_axis(a, r) for a in axes]
    steps = _ints_or_input(tf, node, ins, "steps", 4) or [1] * k
    dims = _dims(tf, x)
    begin, end, stride = [0] * r, [0] * r, [1] * r
    mask = (1 << r) - 1  # axes not sliced take their whole range
    for j, (a, st) in enumerate(zip(axes, steps)):
        begin[a] = _clamp(tf, starts[j], dims[a])
        end[a], stride[a] = _clamp(tf, ends[j], dims[a]), st
        mask &= ~(1 << a)
    vectors = [begin, end, stride]
    if any(not isinstance(d, (int, np.integer)) for vec in vectors for d in vec):
        # strided_slice wants one dtype for all three: int64 tensors once any is dynamic
        vectors = [tf.stack([tf.cast(d, tf.int64) for d in vec]) for vec in vectors]
    return tf.strided_slice(x, *vectors, begin_mask=mask, end_mask=mask)


def _slice_dynamic(tf, node, ins, x, r, starts, ends):
    """Slice with axes or steps known only at run time: full begin/end/stride vectors are
    scattered from the listed axes (the others take their whole range)."""
    as64 = (lambda v: tf.cast(tf.reshape(v if not isinstance(v, list) else tf.constant(v),
                                         [-1]), tf.int64))
    starts, ends = as64(starts), as64(ends)
    k = tf.shape(starts, out_type=tf.int64)[0]
    axes = as64(ins[3]) if _has(ins, 3) else tf.range(k)
    axes = tf.where(axes < 0, axes + r, axes)
    steps = as64(ins[4]) if _has(ins, 4) else tf.ones([k], tf.int64)
    dims = tf.shape(x, out_type=tf.int64)
    d = tf.gather(dims, axes)
    at = axes[:, None]
    begin = tf.tensor_scatter_nd_update(tf.zeros([r], tf.int64), at,
                                        tf.clip_by_value(starts, -d - 1, d))
    end = tf.tensor_scatter_nd_update(dims, at, tf.clip_by_value(ends, -d - 1, d))
    stride = tf.tensor_scatter_nd_update(tf.ones([r], tf.int64), at, steps)
    return tf.strided_slice(x, begin, end, stride)


def _pad_dynamic(tf, node, x, r, pads, axes, mode, value):
    """Pad with pads known only at run time: negative pads crop, then pad by the rest."""
    pads = tf.cast(tf.reshape(pads, [2, -1]), tf.int64)
    if axes is not None:
        at = tf.cast(tf.reshape(axes, [-1, 1]), tf.int64)
        at = tf.where(at < 0, at + r, at)
        full = tf.zeros([r], tf.int64)
        pads = tf.stack([tf.tensor_scatter_nd_update(full, at, pads[0]),
                         tf.tensor_scatter_nd_update(full, at, pads[1])])
    dims = tf.shape(x, out_type=tf.int64)
    crop = tf.maximum(-pads, 0)
    x = tf.slice(x, crop[0], dims - crop[0] - crop[1])
    grow = tf.transpose(tf.maximum(pads, 0))  # [r, 2]
    if mode == "constant":
        return tf.pad(x, grow, constant_values=value)
    if mode == "reflect":
        return tf.pad(x, grow, mode="REFLECT")
    if mode in ("edge", "wrap"):
        for i in range(r):
            d = tf.shape(x, out_type=tf.int64)[i]
            idx = tf.range(-grow[i, 0], d + grow[i, 1])
            idx = tf.clip_by_value(idx, 0, d - 1) if mode == "edge" else tf.math.floormod(idx, d)
            x = tf.gather(x, idx, axis=i)
        return x
    raise UnsupportedError(f"Pad mode '{mode}'")


@op("Pad")
def _pad(tf, node, ins):
    x = ins[0]
    r = _rank(node, x)
    pads = node.attrs.get("pads")
    mode = _a(node, "mode", "constant")
    runtime_axes = _has(ins, 3) and _static(tf, node, ins, 3) is None
    axes = ins[3] if runtime_axes else _ints_or_input(tf, node, ins, "axes", 3)
    if runtime_axes or (pads is None and _static(tf, node, ins, 1) is None):
        value = tf.cast(tf.reshape(ins[2], []), x.dtype) if _has(ins, 2) else \
            tf.cast(float(_a(node, "value", 0.0)), x.dtype)
        return _pad_dynamic(tf, node, x, r, ins[1], axes, mode, value)
    pads = [int(p) for p in pads] if pads is not None else _static_ints(tf, node, ins, 1, "pads")
    if axes is not None:  # opset 18: pads for the listed axes only
        full = [0] * (2 * r)
        for j, a in enumerate(norm_axis(a, r) for a in axes):
            full[a], full[r + a] = pads[j], pads[len(axes) + j]
        pads = full
    if any(p < 0 for p in pads):  # negative pads crop
        index = tuple(slice(max(0, -pads[i]), pads[r + i] if pads[r + i] < 0 else None)
                      for i in range(r))
        x = x[index]
        pads = [max(0, p) for p in pads]
    if mode == "constant":
        if _has(ins, 2):
            value = tf.cast(tf.reshape(ins[2], []), x.dtype)
        else:
            value = tf.cast(float(_a(node, "value", 0.0)), x.dtype)
        return tf.pad(x, [[pads[i], pads[r + i]] for i in range(r)], constant_values=value)
    if mode == "reflect":
        return tf.pad(x, [[pads[i], pads[r + i]] for i in range(r)], mode="REFLECT")
    if mode in ("edge", "wrap"):  # gather with clamped / wrapped indices
        for i in range(r):
            if pads[i] or pads[r + i]:
                d = x.shape[i]
                if d is None:
                    raise UnsupportedError(f"Pad mode '{mode}' needs static dims")
                idx = np.arange(-pads[i], d + pads[r + i])
                idx = np.clip(idx, 0, d - 1) if mode == "edge" else idx % d
                x = tf.gather(x, idx, axis=i)
        return x
    raise UnsupportedError(f"Pad mode '{mode}'")


@op("Shape")
def _shape(tf, node, ins):
    shape = tf.shape(ins[0], out_type=tf.int64)
    start, end = node.attrs.get("start", 0), node.attrs.get("end")
    return shape[start:end] if (start or end is not None) else shape


@op("Size")
def _size(tf, node, ins):
    return tf.size(ins[0], out_type=tf.int64)


def _fix_indices(tf, idx, dim):
    """ONNX indices may be negative (counted from the end)."""
    idx = tf.cast(idx, tf.int64)
    return tf.where(idx < 0, idx + tf.cast(dim, tf.int64), idx)


@op("Gather")
def _gather(tf, node, ins):
    x, idx = ins
    axis = norm_axis(int(_a(node, "axis", 0)), _rank(node, x))
    return tf.gather(x, _fix_indices(tf, idx, _dims(tf, x)[axis]), axis=axis)


@op("GatherElements")
def _gather_elements(tf, node, ins):
    x, idx = ins
    axis = norm_axis(int(_a(node, "axis", 0)), _rank(node, x))
    idx = _fix_indices(tf, idx, _dims(tf, x)[axis])
    return tf.experimental.numpy.take_along_axis(x, idx, axis=axis)


@op("Embedding")
def _embedding(tf, node, ins):
    return tf.gather(ins[1], tf.cast(ins[0], tf.int64))


def _reduce(fn_name):
    def impl(tf, node, ins):
        x = ins[0]
        if node.attrs.get("axes") is None and _has(ins, 1) and _static(tf, node, ins, 1) is None:
            return _reduce_dynamic(tf, node, fn_name, x, ins[1])
        axes = _ints_or_input(tf, node, ins, "axes", 1)
        if not axes:
            if _a(node, "noop_with_empty_axes", 0):
                return tf.identity(x)
            axes = list(range(_rank(node, x)))
        keep = bool(_a(node, "keepdims", 1))
        fns = {"ReduceMean": tf.reduce_mean, "ReduceSum": tf.reduce_sum,
               "ReduceMax": tf.reduce_max, "ReduceMin": tf.reduce_min,
               "ReduceProd": tf.reduce_prod, "ReduceLogSumExp": tf.reduce_logsumexp}
        if x.dtype == tf.bool and fn_name in ("ReduceMax", "ReduceMin"):  # any / all
            fns = {"ReduceMax": tf.reduce_any, "ReduceMin": tf.reduce_all}
        if fn_name == "ReduceLogSum":
            return tf.math.log(tf.reduce_sum(x, axis=axes, keepdims=keep))
        if fn_name in fns:
            return fns[fn_name](x, axis=axes, keepdims=keep)
        if fn_name == "ReduceL1":
            return tf.reduce_sum(tf.abs(x), axis=axes, keepdims=keep)
        square_sum = tf.reduce_sum(tf.square(x), axis=axes, keepdims=keep)
        return tf.sqrt(square_sum) if fn_name == "ReduceL2" else square_sum
    return impl


def _reduce_dynamic(tf, node, fn_name, x, axes):
    """A reduction over axes only known when the graph runs: an empty list reduces every
    axis, or none with noop_with_empty_axes."""
    axes = tf.reshape(tf.cast(axes, tf.int32), [-1])
    keep = bool(_a(node, "keepdims", 1))
    every = tf.range(tf.rank(x))
    use = tf.cond(tf.size(axes) > 0, lambda: axes, lambda: every)
    fns = {"ReduceMean": tf.reduce_mean, "ReduceSum": tf.reduce_sum,
           "ReduceMax": tf.reduce_max, "ReduceMin": tf.reduce_min,
           "ReduceProd": tf.reduce_prod, "ReduceLogSumExp": tf.reduce_logsumexp,
           "ReduceL1": lambda t, axis, keepdims: tf.reduce_sum(tf.abs(t), axis, keepdims),
           "ReduceSumSquare": lambda t, axis, keepdims: tf.reduce_sum(t * t, axis, keepdims),
           "ReduceL2": lambda t, axis, keepdims: tf.sqrt(tf.reduce_sum(t * t, axis, keepdims)),
           "ReduceLogSum": lambda t, axis, keepdims: tf.math.log(tf.reduce_sum(t, axis, keepdims))}
    if x.dtype == tf.bool and fn_name in ("ReduceMax", "ReduceMin"):
        fns = {"ReduceMax": tf.reduce_any, "ReduceMin": tf.reduce_all}
    out = fns[fn_name](x, axis=use, keepdims=keep)
    if _a(node, "noop_with_empty_axes", 0):
        if not keep:
            raise UnsupportedError(f"{node.op}: runtime axes with noop_with_empty_axes and "
                                   f"keepdims=0 (the rank depends on the values)")
        return tf.cond(tf.size(axes) > 0, lambda: out, lambda: tf.identity(x))
    return out


for _op_name in ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                 "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare", "ReduceLogSum"):
    OPS[_op_name] = _reduce(_op_name)


@op("ArgMax", "ArgMin")
def _arg(tf, node, ins):
    x = ins[0]
    axis = norm_axis(int(_a(node, "axis", 0)), _rank(node, x))
    fn = tf.math.argmax if node.op == "ArgMax" else tf.math.argmin
    if _a(node, "select_last_index", 0):  # TF picks the first of ties: search reversed
        y = tf.cast(_dims(tf, x)[axis], tf.int64) - 1 - fn(tf.reverse(x, [axis]), axis=axis,
                                                             output_type=tf.int64)
    else:
        y = fn(x, axis=axis, output_type=tf.int64)
    return tf.expand_dims(y, axis) if _a(node, "keepdims", 1) else y


@op("TopK")
def _topk(tf, node, ins):
    x = ins[0]
    r = _rank(node, x)
    axis = norm_axis(int(_a(node, "axis", -1)), r)
    k = _static(tf, node, ins, 1)
    k = int(np.asarray(k).reshape(-1)[0]) if k is not None else \
        tf.cast(tf.reshape(ins[1], []), tf.int32)
    largest = bool(_a(node, "largest", 1))
    perm = list(range(r))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    xt = tf.transpose(x, perm) if axis != r - 1 else x
    values, indices = tf.math.top_k(xt if largest else -xt, k=k, sorted=True)
    values = values if largest else -values
    if axis != r - 1:
        values, indices = tf.transpose(values, perm), tf.transpose(indices, perm)
    return [values, tf.cast(indices, tf.int64)]


@op("Expand")
def _expand(tf, node, ins):
    x = ins[0]  # bidirectional broadcast of x against the shape
    shape = tf.cast(ins[1], tf.int64)
    return tf.broadcast_to(x, tf.broadcast_dynamic_shape(tf.shape(x, out_type=tf.int64), shape))


@op("Tile")
def _tile(tf, node, ins):
    return tf.tile(ins[0], tf.cast(ins[1], tf.int64))


@op("Constant")
def _constant(tf, node, ins):
    for key, dtype in (("value", None), ("value_float", np.float32),
                       ("value_floats", np.float32), ("value_int", np.int64),
                       ("value_ints", np.int64)):
        if key in node.attrs:
            return tf.constant(np.asarray(node.attrs[key], dtype=dtype))
    raise UnsupportedError(f"Constant with attributes {sorted(node.attrs)}")


@op("ConstantOfShape")
def _constant_of_shape(tf, node, ins):
    value = np.asarray(node.attrs.get("value", np.zeros(1, np.float32))).reshape(-1)
    return tf.fill(tf.cast(ins[0], tf.int64), tf.constant(value[0], dtype=value.dtype))


@op("Range")
def _range(tf, node, ins):
    start, limit, delta = (tf.reshape(t, []) for t in ins[:3])
    return tf.range(start, limit, delta, dtype=start.dtype)


@op("DepthToSpace")
def _depth_to_space(tf, node, ins):
    x = ins[0]
    bs = int(node.attrs["blocksize"])
    n, c, h, w = _dims(tf, x)
    if _a(node, "mode", "DCR") == "DCR":
        y = tf.reshape(x, _shape_vector(tf, [n, bs, bs, c // bs // bs, h, w]))
        y = tf.transpose(y, [0, 3, 4, 1, 5, 2])
    else:  # CRD
        y = tf.reshape(x, _shape_vector(tf, [n, c // bs // bs, bs, bs, h, w]))
        y = tf.transpose(y, [0, 1, 4, 2, 5, 3])
    return tf.reshape(y, _shape_vector(tf, [n, c // bs // bs, h * bs, w * bs]))


@op("SpaceToDepth")
def _space_to_depth(tf, node, ins):
    x = ins[0]
    bs = int(node.attrs["blocksize"])
    n, c, h, w = _dims(tf, x)
    y = tf.reshape(x, _shape_vector(tf, [n, c, h // bs, bs, w // bs, bs]))
    crd = _a(node, "mode", "DCR") == "CRD"  # channels stay outermost in CRD
    y = tf.transpose(y, [0, 1, 3, 5, 2, 4] if crd else [0, 3, 5, 1, 2, 4])
    return tf.reshape(y, _shape_vector(tf, [n, c * bs * bs, h // bs, w // bs]))


# -- resize ----------------------------------------------------------------------------------
@op("Resize", "Upsample")
def _resize(tf, node, ins):
    """Separable resampling as ONNX's reference computes it (float64): per resized axis, the
    source coordinate of each output cell, then nearest (a gather) or linear / cubic
    weights (with antialias: the kernel stretched by the downscale) over the input cells,
    taps past an edge reading the edge. Scales, sizes and roi may be runtime values."""
    x = ins[0]
    r = _rank(node, x)
    old = node.op == "Upsample" or len(ins) == 2  # Upsample / Resize-10: (X, scales)
    mode = _a(node, "mode", "nearest")
    sizes = roi = None
    if old:
        scales = node.attrs.get("scales")
        scales = _resize_vector(tf, ins[1] if scales is None else scales, tf.float64)
        ctm, nearest = "asymmetric", "simple"
        mode = "linear" if mode in ("linear", "bilinear") else mode
    else:
        ctm = node.attrs.get("coordinate_transformation_mode", "half_pixel")
        nearest = node.attrs.get("nearest_mode", "round_prefer_floor")
        scales = _resize_vector(tf, ins[2], tf.float64) if _has(ins, 2) else None
        sizes = _resize_vector(tf, ins[3], tf.int64) if _has(ins, 3) else None
        if ctm == "tf_crop_and_resize":
            roi = _resize_vector(tf, ins[1], tf.float64) if _has(ins, 1) else None
    if mode not in ("nearest", "linear", "cubic"):
        raise UnsupportedError(f"Resize mode '{mode}'")
    axes = [norm_axis(a, r) for a in node.attrs.get("axes", range(r))]
    n = len(axes)
    in_sizes = tf.shape(x, out_type=tf.int64)
    use_sizes = sizes is not None and (scales is None or _known_len(scales) == 0)
    if use_sizes:
        scale_of = [tf.cast(sizes[j], tf.float64) / tf.cast(in_sizes[a], tf.float64)
                    for j, a in enumerate(axes)]
        out_of = [sizes[j] for j in range(n)]
        policy = node.attrs.get("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":  # one scale for every resized axis
            pick = tf.reduce_min if policy == "not_larger" else tf.reduce_max
            one = pick(tf.stack(scale_of))
            scale_of = [one] * n
            out_of = [tf.cast(one * tf.cast(in_sizes[a], tf.float64) + 0.5, tf.int64)
                      for a in axes]
    else:
        if scales is None:
            raise UnsupportedError("Resize with neither scales nor sizes")
        scale_of = [scales[j] for j in range(n)]
        out_of = [tf.cast(tf.floor(scale_of[j] * tf.cast(in_sizes[a], tf.float64)), tf.int64)
                  for j, a in enumerate(axes)]
    dtype = x.dtype
    y = tf.cast(x, tf.float64)
    for j, a in enumerate(axes):
        axis_roi = None if roi is None else (roi[j], roi[n + j])
        y = _resize_axis(tf, node, y, a, r, mode, ctm, nearest, scale_of[j], out_of[j],
                         axis_roi)
    if dtype.is_integer:  # saturate, as the reference casts
        y = tf.clip_by_value(tf.round(y), dtype.min, dtype.max)
    return tf.cast(y, dtype)


def _resize_vector(tf, v, dtype):
    v = tf.constant(np.asarray(v)) if not hasattr(v, "dtype") or isinstance(v, np.ndarray) \
        else v
    return tf.cast(tf.reshape(v, [-1]), dtype)


def _known_len(v) -> int | None:
    return v.shape[0]


def _resize_axis(tf, node, x, axis, rank, mode, ctm, nearest, scale, out, roi):
    size_i = tf.shape(x, out_type=tf.int64)[axis]
    size = tf.cast(size_i, tf.float64)
    yv = tf.cast(tf.range(out), tf.float64)
    width = scale * size  # the output width before flooring, as the reference uses it
    out_f = tf.cast(out, tf.float64)
    outside = None
    if ctm == "half_pixel":
        xo = (yv + 0.5) / scale - 0.5
    elif ctm == "pytorch_half_pixel":
        xo = tf.where(width == 1, tf.fill(tf.shape(yv), tf.constant(-0.5, tf.float64)),
                      (yv + 0.5) / scale - 0.5)
    elif ctm == "align_corners":
        xo = tf.where(width == 1, tf.zeros_like(yv),
                      yv * (size - 1) / tf.where(width == 1, tf.ones_like(width), width - 1))
    elif ctm == "asymmetric":
        xo = yv / scale
    elif ctm == "half_pixel_symmetric":
        offset = size / 2 * (1 - out_f / width)
        xo = offset + (yv + 0.5) / scale - 0.5
    elif ctm == "tf_crop_and_resize":
        if roi is None:
            raise UnsupportedError("Resize tf_crop_and_resize without roi")
        lo, hi = roi
        span = (hi - lo) * (size - 1)
        xo = tf.where(width == 1, tf.fill(tf.shape(yv), span / 2),
                      yv * span / tf.where(width == 1, tf.ones_like(width), width - 1))
        xo = xo + lo * (size - 1)
        outside = (xo < 0) | (xo > size - 1)
    else:
        raise UnsupportedError(f"Resize coordinate_transformation_mode '{ctm}'")
    if mode == "nearest":
        rounding = {"simple":  # onnxruntime's rule before opset 11
                    lambda v: tf.where(scale < 1, tf.math.ceil(v), tf.floor(v)),
                    "round_prefer_floor": lambda v: tf.math.ceil(v - 0.5),
                    "round_prefer_ceil": lambda v: tf.floor(v + 0.5),
                    "floor": tf.floor, "ceil": tf.math.ceil}.get(nearest)
        if rounding is None:
            raise UnsupportedError(f"Resize nearest_mode '{nearest}'")
        whole = tf.equal(xo, tf.floor(xo))  # an exact source cell is taken as it is
        idx = tf.cast(tf.where(whole, xo, rounding(xo)), tf.int64)
        y = tf.gather(x, tf.clip_by_value(idx, 0, size_i - 1), axis=axis)
    else:
        y = _interpolate(tf, node, x, axis, rank, mode, scale, size_i, xo)
    if outside is not None:
        shape = [1] * rank
        shape[axis] = -1
        extra = float(_a(node, "extrapolation_value", 0.0))
        y = tf.where(tf.reshape(outside, shape), tf.constant(extra, y.dtype), y)
    return y


def _interpolate(tf, node, x, axis, rank, mode, scale, size_i, xo):
    """Linear / cubic resampling along ``axis`` as a dense [out, in] weight matrix over the
    candidate cells around each source coordinate; with antialias the kernel is stretched
    by 1 / scale when downscaling, and each row is normalised."""
    antialias = bool(_a(node, "antialias", 0))
    s = tf.minimum(scale, 1.0) if antialias else tf.constant(1.0, tf.float64)
    radius = 1.0 if mode == "linear" else 2.0
    reach = tf.cast(tf.math.ceil(radius / s), tf.int64) + 2
    cand = tf.range(-reach, size_i + reach)  # cells, before clamping to the edges
    d = tf.abs(tf.cast(cand, tf.float64)[None, :] - xo[:, None]) * s
    if mode == "linear":
        w = tf.maximum(1 - d, 0.0)
    else:
        a = float(_a(node, "cubic_coeff_a", -0.75))
        near = ((a + 2) * d - (a + 3)) * d * d + 1
        far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
        w = tf.where(d <= 1, near, tf.where(d < 2, far, tf.zeros_like(d)))
    inside = (cand >= 0) & (cand < size_i)
    if _a(node, "exclude_outside", 0):
        w = tf.where(inside[None, :], w, tf.zeros_like(w))
    total = tf.reduce_sum(w, axis=1, keepdims=True)
    if antialias or _a(node, "exclude_outside", 0):
        w = w / tf.where(total == 0, tf.ones_like(total), total)
    # taps past an edge read the edge cell: fold their weights onto it
    clamped = tf.clip_by_value(cand, 0, size_i - 1)
    w = tf.transpose(tf.math.unsorted_segment_sum(tf.transpose(w), clamped, size_i))  # [out, in]
    moved = tf.experimental.numpy.moveaxis(x, axis, -1)
    y = tf.tensordot(moved, w, axes=[[-1], [1]])
    return tf.experimental.numpy.moveaxis(y, -1, axis)


# -- attention -------------------------------------------------------------------------------
@op("Attention")
def _attention(tf, node, ins):
    """softmax(Q K^T * scale + bias) V over [B, heads, S, D], as ONNX's opset-23/24 reference:
    3-D inputs split into q_num_heads / kv_num_heads heads, a past key/value cache
    concatenated in front, causal and sliding-window masks aligned bottom-right, softcap,
    grouped K/V heads repeated, fully masked rows giving zeros; outputs Y, present key,
    present value and the chosen QK product."""
    q, k, v = ins[:3]
    three_d = q.shape.rank == 3
    if three_d:
        q = _heads_first(tf, q, int(node.attrs["q_num_heads"]))
        k = _heads_first(tf, k, int(node.attrs["kv_num_heads"]))
        v = _heads_first(tf, v, int(node.attrs["kv_num_heads"]))
    dtype = q.dtype
    scale = node.attrs.get("scale")
    if scale is None:
        scale = 1.0 / np.sqrt(float(q.shape[3]))
    root = tf.cast(np.sqrt(np.float64(scale)), dtype)
    past = _has(ins, 4)
    if past:
        k = tf.concat([ins[4], k], 2)
        v = tf.concat([ins[5], v], 2)
    present_k, present_v = k, v
    q_len, kv_len = tf.shape(q, out_type=tf.int64)[2], tf.shape(k, out_type=tf.int64)[2]
    neg_inf = tf.constant(-np.inf, dtype)
    zero = tf.zeros([], dtype)
    bias = tf.zeros(tf.stack([q_len, kv_len]), dtype)
    if _has(ins, 3):
        mask = ins[3]
        short = kv_len - tf.shape(mask, out_type=tf.int64)[-1]  # pad the mask to kv_len
        pads = tf.concat([tf.zeros([mask.shape.rank - 1, 2], tf.int64),
                          tf.reshape(tf.stack([tf.zeros([], tf.int64), short]), [1, 2])], 0)
        if mask.dtype == tf.bool:
            mask = tf.where(tf.pad(mask, pads, constant_values=False), zero, neg_inf)
        else:
            mask = tf.pad(mask, pads, constant_values=-np.inf)
        bias = bias + mask
    nonpad = _has(ins, 6)
    if nonpad and not past:
        offset = tf.reshape(tf.cast(ins[6], tf.int64), [-1, 1, 1, 1]) - q_len
    else:
        offset = tf.shape(ins[4], out_type=tf.int64)[2] if past else tf.zeros([], tf.int64)
    causal = bool(_a(node, "is_causal", 0))
    left, right = int(_a(node, "left_window_size", -1)), int(_a(node, "right_window_size", -1))
    if causal or left >= 0 or right >= 0:
        diff = tf.range(q_len)[:, None] + offset - tf.range(kv_len)[None, :]
        allowed = tf.ones_like(diff, tf.bool)
        if causal:
            allowed &= diff >= 0
        if left >= 0:
            allowed &= diff <= left
        if right >= 0:
            allowed &= -diff <= right
        bias = bias + tf.where(allowed, zero, neg_inf)
    if nonpad:
        keep = tf.range(kv_len)[None, :] < tf.reshape(tf.cast(ins[6], tf.int64), [-1, 1])
        bias = bias + tf.reshape(tf.where(keep, zero, neg_inf), tf.stack([-1, 1, 1, kv_len]))
    hq, hkv = q.shape[1], k.shape[1]
    if hq is None or hkv is None:
        raise UnsupportedError("Attention needs static head counts")
    if hq != hkv:  # grouped-query attention: each key/value head serves hq / hkv heads
        k, v = tf.repeat(k, hq // hkv, axis=1), tf.repeat(v, hq // hkv, axis=1)
    scores = tf.matmul(q * root, k * root, transpose_b=True)
    softcap = float(_a(node, "softcap", 0.0))
    if softcap > 0:
        scores = tf.math.tanh(scores / softcap) * softcap
    mode = int(_a(node, "qk_matmul_output_mode", 0))
    qk_out = scores
    biased = scores + bias
    if mode == 2:
        qk_out = biased
    precision = node.attrs.get("softmax_precision")
    if precision is not None:
        from ..ir.shapes import ONNX_DTYPES
        biased = tf.cast(biased, tf.as_dtype(ONNX_DTYPES[int(precision)]))
    top = tf.reduce_max(biased, -1, keepdims=True)
    top = tf.where(tf.math.is_inf(top) & (top < 0), tf.zeros_like(top), top)
    e = tf.exp(biased - top)
    total = tf.reduce_sum(e, -1, keepdims=True)
    probs = e / tf.where(total == 0, tf.ones_like(total), total)
    row_max = tf.reduce_max(bias, -1, keepdims=True)
    probs = tf.where(tf.math.is_inf(row_max) & (row_max < 0), tf.zeros_like(probs), probs)
    if mode == 3:
        qk_out = probs
    y = tf.matmul(tf.cast(probs, dtype), v)
    if three_d:
        y = tf.transpose(y, [0, 2, 1, 3])
        y = tf.reshape(y, tf.concat([tf.shape(y)[:2], [-1]], 0))
    return [y, present_k, present_v, tf.cast(qk_out, dtype)][:len(node.outputs)]


def _heads_first(tf, t, heads):
    """[batch, seq, heads * size] -> [batch, heads, seq, size]."""
    shape = tf.concat([tf.shape(t)[:2], [heads, -1]], 0)
    return tf.transpose(tf.reshape(t, shape), [0, 2, 1, 3])


# -- control flow ----------------------------------------------------------------------------
def _scalar_bool(tf, t):
    return tf.reshape(tf.cast(t, tf.bool), [])


@op("If")
def _if(tf, node, ins):
    then_g, else_g = node.subgraphs["then_branch"], node.subgraphs["else_branch"]
    known = _static(tf, node, ins, 0)
    if known is not None:  # a constant condition: build only the branch taken
        return _call_graph(tf, then_g if bool(np.asarray(known).reshape(-1)[0]) else else_g, [])
    return tf.cond(_scalar_bool(tf, ins[0]), lambda: _call_graph(tf, then_g, []),
                   lambda: _call_graph(tf, else_g, []))


@op("Loop")
def _loop(tf, node, ins):
    """Loop(M, cond, v...): body(i, cond, v...) -> (cond, v..., scan outputs...); runs while
    i < M (when M is given) and cond. The body's cond is obeyed even with no cond input, as
    onnxruntime does (the spec's text says it is ignored then). Scan outputs are stacked
    along axis 0."""
    body = node.subgraphs["body"]
    limit = tf.cast(tf.reshape(ins[0], []), tf.int64) if _has(ins, 0) else None
    n = len(ins) - 2

    def step(i, state):
        outs = _call_graph(tf, body, [i, *state])
        return [_scalar_bool(tf, outs[0]), *outs[1:1 + n]], outs[1 + n:]

    go = _scalar_bool(tf, ins[1]) if _has(ins, 1) else tf.constant(True)
    final, scans = _while(tf, step, [go, *ins[2:]], limit, keep_going=lambda state: state[0])
    return final[1:] + scans


@op("Scan")
def _scan(tf, node, ins):
    """Scan(states..., scan inputs...): body(states..., one slice of each scan input) ->
    (states..., one slice of each scan output), over the scan axis (reversed where
    scan_input_directions / scan_output_directions say 1)."""
    if (_OPSET.get() or 9) < 9:
        return _scan_batched(tf, node, ins)
    body = node.subgraphs["body"]
    m = int(node.attrs["num_scan_inputs"])
    n = len(ins) - m
    xs = []
    for j, x in enumerate(ins[n:]):
        x = _to_front(tf, x, norm_axis(int(_nth(node, "scan_input_axes", j)), _rank(node, x)))
        xs.append(tf.reverse(x, [0]) if _nth(node, "scan_input_directions", j) else x)

    def step(i, state):
        outs = _call_graph(tf, body, [*state, *(tf.gather(x, i) for x in xs)])
        return outs[:n], outs[n:]

    final, scans = _while(tf, step, ins[:n], tf.cast(_dims(tf, xs[0])[0], tf.int64))
    ys = []
    for j, y in enumerate(scans):
        y = tf.reverse(y, [0]) if _nth(node, "scan_output_directions", j) else y
        ys.append(_from_front(tf, y, norm_axis(int(_nth(node, "scan_output_axes", j)),
                                           _rank(node, y))))
    return final + ys


def _scan_batched(tf, node, ins):
    """Scan-8: (sequence_lens, states..., scan inputs...) with a leading batch axis (scan
    inputs scan along axis 1): the body runs over each batch element's full sequence."""
    if _has(ins, 0):
        raise UnsupportedError("Scan-8 with sequence_lens")
    body = node.subgraphs["body"]
    m = int(node.attrs["num_scan_inputs"])
    n = len(ins) - 1 - m
    states, seqs = ins[1:1 + n], ins[1 + n:]
    batch = seqs[0].shape[0]
    if batch is None:
        raise UnsupportedError("Scan-8 needs a static batch size")
    directions = node.attrs.get("directions") or [0] * m
    results = []
    for b in range(batch):
        xs = [tf.reverse(x[b], [0]) if d else x[b] for x, d in zip(seqs, directions)]

        def step(i, state, xs=xs):
            outs = _call_graph(tf, body, [*state, *(tf.gather(x, i) for x in xs)])
            return outs[:n], outs[n:]
        final, scans = _while(tf, step, [t[b] for t in states],
                              tf.cast(_dims(tf, xs[0])[0], tf.int64))
        results.append(final + scans)
    return [tf.stack([r[j] for r in results]) for j in range(len(results[0]))]


def _nth(node, name: str, j: int, default: int = 0):
    values = node.attrs.get(name)
    return default if values is None else values[j]


def _to_front(tf, x, axis: int):
    if axis == 0:
        return x
    r = x.shape.rank
    return tf.transpose(x, [axis] + [a for a in range(r) if a != axis])


def _from_front(tf, x, axis: int):
    if axis == 0:
        return x
    r = x.shape.rank
    perm = list(range(1, r))
    perm.insert(axis, 0)
    return tf.transpose(x, perm)


def _while(tf, step, state, limit=None, keep_going=None):
    """Iterate ``step(i, state) -> (new state, per-iteration values)`` from i = 0 while
    i < ``limit`` (when given) and ``keep_going(state)`` (when given). Returns (final state,
    the per-iteration values stacked along a new axis 0)."""
    state = [tf.convert_to_tensor(s) for s in state]
    n = len(state)
    i0 = tf.constant(0, tf.int64)
    shapes, per_iter = _loop_signature(tf, step, i0, state)
    # a count known while building keeps the stacked values' first dim static
    count = None if keep_going is not None or limit is None else tf.get_static_value(limit)
    arrays = [tf.TensorArray(s.dtype, size=0 if count is None else int(count),
                             dynamic_size=count is None, element_shape=s.shape)
              for s in per_iter]

    def cond(i, *vs):
        ok = tf.constant(True) if limit is None else i < limit
        return ok if keep_going is None else tf.logical_and(ok, keep_going(list(vs[:n])))

    def body(i, *vs):
        new, values = step(i, list(vs[:n]))
        new = [tf.convert_to_tensor(t) for t in new]
        written = [a.write(tf.cast(i, tf.int32), v) for a, v in zip(vs[n:], values)]
        return [i + 1, *new, *written]

    invariants = [i0.shape, *shapes] + [tf.TensorShape(None)] * len(arrays)
    out = tf.while_loop(cond, body, [i0, *state, *arrays], shape_invariants=invariants)
    return list(out[1:1 + n]), [a.stack() for a in out[1 + n:]]


def _loop_signature(tf, step, i0, state):
    """(the shape each carried value keeps across iterations, a TensorSpec per per-iteration
    value), from tracing one step on the initial shapes: tf.while_loop wants carried shapes
    fixed, so a dim that the step changes is relaxed to unknown."""
    specs = [tf.TensorSpec(s.shape, s.dtype) for s in state]
    traced = tf.function(lambda i, *s: step(i, list(s)), autograph=False)
    new, values = traced.get_concrete_function(tf.TensorSpec([], tf.int64),
                                               *specs).structured_outputs
    shapes = [_common_shape(tf, s.shape, t.shape) for s, t in zip(state, new)]
    return shapes, [tf.TensorSpec(v.shape, v.dtype) for v in values]


def _common_shape(tf, a, b):
    if a.rank is None or b.rank is None or a.rank != b.rank:
        return tf.TensorShape(None)
    return tf.TensorShape([x if x == y else None for x, y in zip(a.as_list(), b.as_list())])


# -- recurrent -------------------------------------------------------------------------------
_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
_DEFAULT_ACTIVATIONS = {"LSTM": ("Sigmoid", "Tanh", "Tanh"), "GRU": ("Sigmoid", "Tanh"),
                        "RNN": ("Tanh",)}
# activation -> (default alpha or None when it takes none, the same for beta)
_ACTIVATION_PARAMS = {"affine": (1.0, 0.0), "leakyrelu": (0.01, None),
                      "thresholdedrelu": (1.0, None), "scaledtanh": (1.0, 1.0),
                      "hardsigmoid": (0.2, 0.5), "elu": (1.0, None)}


def _activation(tf, name: str, alpha, beta):
    fns = {
        "sigmoid": tf.math.sigmoid, "tanh": tf.math.tanh, "relu": tf.nn.relu,
        "softsign": tf.nn.softsign, "softplus": tf.math.softplus,
        "affine": lambda x: alpha * x + beta,
        "leakyrelu": lambda x: tf.where(x >= 0, x, alpha * x),
        "thresholdedrelu": lambda x: tf.where(x > alpha, x, tf.zeros_like(x)),
        "scaledtanh": lambda x: alpha * tf.math.tanh(beta * x),
        "hardsigmoid": lambda x: tf.clip_by_value(alpha * x + beta, 0.0, 1.0),
        "elu": lambda x: tf.where(x >= 0, x, alpha * tf.math.expm1(x))}
    if name not in fns:
        raise UnsupportedError(f"recurrent activation '{name}'")
    return fns[name]


def _rnn_activations(tf, node, n_dirs: int) -> list[list]:
    """The activation functions of each direction. activation_alpha / activation_beta are
    consumed in order by the activations that take them (as onnxruntime reads them); one
    direction's list serves both of a bidirectional op."""
    per_dir = len(_DEFAULT_ACTIVATIONS[node.op])
    names = list(node.attrs.get("activations") or _DEFAULT_ACTIVATIONS[node.op])
    if n_dirs == 2 and len(names) == per_dir:
        names = names * 2
    alphas = iter(node.attrs.get("activation_alpha") or [])
    betas = iter(node.attrs.get("activation_beta") or [])
    fns = []
    for name in (str(n).lower() for n in names):
        alpha, beta = _ACTIVATION_PARAMS.get(name, (None, None))
        alpha = None if alpha is None else float(next(alphas, alpha))
        beta = None if beta is None else float(next(betas, beta))
        fns.append(_activation(tf, name, alpha, beta))
    return [fns[d * per_dir:(d + 1) * per_dir] for d in range(n_dirs)]


@op("LSTM", "GRU", "RNN")
def _recurrent(tf, node, ins):
    """ONNX's LSTM (gates i o f c), GRU (z r h) and RNN over [seq, batch, input] (layout 0)
    or [batch, seq, input] (layout 1). Past a sequence's length (sequence_lens) outputs are
    zero and the state is held, so Y_h / Y_c are the last valid step's (zero for an empty
    sequence); the reverse direction runs over each sequence's valid steps reversed."""
    layout = int(_a(node, "layout", 0))
    x = tf.transpose(ins[0], [1, 0, 2]) if layout else ins[0]  # time-major from here on
    direction = _a(node, "direction", "forward")
    n_dirs = 2 if direction == "bidirectional" else 1
    hidden = int(_a(node, "hidden_size", 0)) or int(ins[2].shape[-1])
    lens = tf.cast(ins[4], tf.int32) if _has(ins, 4) else None
    acts = _rnn_activations(tf, node, n_dirs)
    ys, finals = [], []
    for d in range(n_dirs):
        reverse = direction == "reverse" or d == 1
        initial = [_initial_state(tf, node, ins, i, d, layout, x, hidden)
                   for i in ((5, 6) if node.op == "LSTM" else (5,))]
        y, final = _run_direction(tf, node, ins, d, acts[d], x, lens, initial, reverse, hidden)
        ys.append(y)
        finals.append(final)
    y = tf.stack(ys, axis=1)  # [seq, dirs, batch, hidden]
    states = [tf.stack([f[j] for f in finals], axis=0) for j in range(len(finals[0]))]
    if layout:
        y = tf.transpose(y, [2, 0, 1, 3])
        states = [tf.transpose(s, [1, 0, 2]) for s in states]
    return [y, *states][:max(1, len(node.outputs))]


def _initial_state(tf, node, ins, i, d, layout, x, hidden):
    if _has(ins, i):
        return ins[i][:, d] if layout else ins[i][d]
    return tf.zeros(_shape_vector(tf, [_dims(tf, x)[1], hidden]), x.dtype)


def _run_direction(tf, node, ins, d, acts, x, lens, initial, reverse, hidden):
    """(Y [seq, batch, hidden], [Y_h (, Y_c)]) of one direction."""
    gates = _GATES[node.op]
    w, r = ins[1][d], ins[2][d]
    bias = ins[3][d] if _has(ins, 3) else tf.zeros([2 * gates * hidden], x.dtype)
    wb, rb = bias[:gates * hidden], bias[gates * hidden:]
    if reverse:
        x = _reverse_time(tf, x, lens)
    # the input projection of every step at once; the recurrence adds h's projection
    xw = tf.einsum("tbi,gi->tbg", x, w) + wb
    if node.op == "GRU":  # its h gate takes the recurrent bias apart from the input one
        cell = _gru_cell(tf, node, r, rb, acts, hidden)
    elif node.op == "LSTM":
        p = ins[7][d] if _has(ins, 7) else None
        cell = _lstm_cell(tf, node, r, p, acts)
        xw = xw + rb
    else:
        cell = _rnn_cell(tf, node, r, acts)
        xw = xw + rb
    mask = None if lens is None else tf.sequence_mask(lens, _dims(tf, x)[0])  # [batch, seq]

    def step(i, state):
        new = cell(tf.gather(xw, i), state)
        if mask is not None:  # past its length a sequence keeps its state, outputs zero
            valid = tf.gather(mask, i, axis=1)[:, None]
            new = [tf.where(valid, a, b) for a, b in zip(new, state)]
            return new, [tf.where(valid, new[0], tf.zeros_like(new[0]))]
        return new, [new[0]]

    final, (y,) = _while(tf, step, initial, tf.cast(_dims(tf, x)[0], tf.int64))
    if lens is not None:  # an empty sequence ends in zero states, as in onnxruntime
        final = [tf.where((lens > 0)[:, None], s, tf.zeros_like(s)) for s in final]
    return (_reverse_time(tf, y, lens) if reverse else y), final


def _reverse_time(tf, x, lens):
    """Reverse along time (axis 0); with sequence lengths, only each sequence's valid steps."""
    if lens is None:
        return tf.reverse(x, [0])
    return tf.reverse_sequence(x, lens, seq_axis=0, batch_axis=1)


def _clipper(tf, node):
    clip = node.attrs.get("clip")
    if clip is None:
        return lambda t: t
    return lambda t: tf.clip_by_value(t, -float(clip), float(clip))


def _lstm_cell(tf, node, r, p, acts):
    f, g, h = acts
    clip = _clipper(tf, node)
    couple = bool(_a(node, "input_forget", 0))
    pi, po, pf = (None, None, None) if p is None else tf.split(p, 3)

    def cell(xw, state):
        h_prev, c_prev = state
        i, o, fg, c = tf.split(xw + tf.matmul(h_prev, r, transpose_b=True), 4, axis=-1)
        if p is not None:
            i, fg = i + pi * c_prev, fg + pf * c_prev
        i = f(clip(i))
        fg = 1 - i if couple else f(clip(fg))  # input_forget couples the two gates
        c_new = fg * c_prev + i * g(clip(c))
        if p is not None:
            o = o + po * c_new
        return [f(clip(o)) * h(c_new), c_new]
    return cell


def _gru_cell(tf, node, r, rb, acts, hidden):
    f, g = acts
    clip = _clipper(tf, node)
    linear_before_reset = bool(_a(node, "linear_before_reset", 0))
    r_zr, rh = r[:2 * hidden], r[2 * hidden:]
    rb_zr, rbh = rb[:2 * hidden], rb[2 * hidden:]

    def cell(xw, state):
        (h_prev,) = state
        xzr, xh = xw[:, :2 * hidden], xw[:, 2 * hidden:]
        zr = f(clip(xzr + tf.matmul(h_prev, r_zr, transpose_b=True) + rb_zr))
        z, reset = zr[:, :hidden], zr[:, hidden:]
        if linear_before_reset:  # the reset gate scales h's projection, bias included
            hh = xh + reset * (tf.matmul(h_prev, rh, transpose_b=True) + rbh)
        else:
            hh = xh + tf.matmul(reset * h_prev, rh, transpose_b=True) + rbh
        return [(1 - z) * g(clip(hh)) + z * h_prev]
    return cell


def _rnn_cell(tf, node, r, acts):
    (f,) = acts
    clip = _clipper(tf, node)

    def cell(xw, state):
        (h_prev,) = state
        return [f(clip(xw + tf.matmul(h_prev, r, transpose_b=True)))]
    return cell


from . import to_tf_ops  # noqa: E402,F401  (registers more handlers in OPS)
