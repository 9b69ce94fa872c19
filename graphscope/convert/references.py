"""The source side of `convert --verify`: the model run by its own framework where one can
run it, every value it exposes named as the IR names it.

- Caffe: OpenCV's cv2.dnn reads the same prototxt and caffemodel (there is no Caffe build to
  run) and gives each layer's output; a layer answers for the IR value it ends in.
- A live torch.nn.Module: forward hooks give each submodule's output; a module answers for
  the last value computed in its namespace.
- A Keras file (converted through tf2onnx): Keras runs the model and gives each layer's
  output; a layer answers for the last value in its name scope, transposed to NCHW where
  tf2onnx moved that value to channels-first.
- A SavedModel or frozen GraphDef (converted through tf2onnx): TensorFlow runs the same
  frozen graph tf2onnx read; every tensor whose name tf2onnx kept is fetched (NCHW-adjusted
  as for Keras).
- Anything else (ONNX, TorchScript): onnxruntime over the IR.
"""
from __future__ import annotations

import numpy as np

from ..errors import GraphscopeError
from ..ir.graph import Graph


def reference_run(graph: Graph, feeds: dict[str, np.ndarray], source=None
                  ) -> tuple[str, dict[str, np.ndarray]]:
    """(what ran the source, {value name: array})."""
    if graph.metadata.get("format") == "caffe" and graph.metadata.get("weights"):
        try:
            import cv2  # noqa: F401
        except ImportError:
            pass
        else:
            return "OpenCV cv2.dnn", opencv_values(graph, feeds)
    from .from_tf import KERAS_SUFFIXES
    if str(graph.metadata.get("converted_from", "")).lower().endswith(KERAS_SUFFIXES):
        return "Keras", keras_values(graph, feeds)
    if "tf_source" in graph.metadata:
        return "TensorFlow", tensorflow_values(graph, feeds)
    from .from_torch import reference_module, torch_kind
    if torch_kind(source):
        return "the torch module", torch_module_values(graph, reference_module(source), feeds)
    from ..runtime.onnxruntime import OnnxRuntimeSession
    names = [v.name for n in graph.nodes for v in n.outputs]
    return "onnxruntime", OnnxRuntimeSession(graph, names).run(feeds)


def caffe_layer_values(graph: Graph) -> dict[str, str]:
    """Caffe layer -> the IR value it ends in. An InnerProduct may be Flatten + Gemm; a
    BatchNorm merged with its Scale answers for the Scale layer (OpenCV's BatchNorm output is
    the one before Scale, which the merged node never computes)."""
    out: dict[str, str] = {}
    for n in graph.nodes:
        if n.outputs and "caffe_layer" in n.meta:
            out[n.meta["caffe_layer"]] = n.outputs[0].name
            if "caffe_scale_layer" in n.attrs:
                out[n.attrs["caffe_scale_layer"]] = n.outputs[0].name
                out.pop(n.meta["caffe_layer"])
    return out


def opencv_values(graph: Graph, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every layer's output from cv2.dnn, keyed by IR value name."""
    import cv2
    value_of = caffe_layer_values(graph)
    try:
        net = cv2.dnn.readNetFromCaffe(graph.metadata["path"], graph.metadata["weights"])
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.enableWinograd(False)  # Winograd convolutions trade accuracy for speed
        layers = [n for n in net.getLayerNames() if n in value_of]
        for v in graph.inputs:
            net.setInput(feeds[v.name], v.name)
        outs = net.forward(layers)
    except cv2.error as exc:  # OpenCV's message is many lines of C++ context
        lines = [ln.strip() for ln in str(exc).splitlines() if "error:" in ln]
        raise GraphscopeError(f"OpenCV cannot run the net to verify against: "
                              f"{(lines or [str(exc)])[0][:300]}",
                              file=graph.metadata["path"]) from None
    values = {value_of[layer]: out for layer, out in zip(layers, outs)}
    for n in graph.nodes:
        if n.op == "caffe.Pooling" and n.attrs.get("pool", "MAX") == "MAX" \
                and n.outputs[0].name in values:
            _restore_empty_windows(n, values[n.outputs[0].name])
    return values


def _restore_empty_windows(node, out: np.ndarray) -> None:
    """Caffe's MAX pooling leaves -FLT_MAX in a window that lies wholly past the input (ceil
    rounding can make one); OpenCV writes 0 there. Put Caffe's answer back, in place."""
    h, w = node.inputs[0].type.shape[2:4]
    (sh, sw), (ph, pw) = node.attrs["strides"], list(node.attrs["pads"])[:2]
    lowest = -np.finfo(np.float32).max
    out[:, :, [i for i in range(out.shape[2]) if i * sh - ph >= h], :] = lowest
    out[:, :, :, [j for j in range(out.shape[3]) if j * sw - pw >= w]] = lowest


def torch_module_values(graph: Graph, module, feeds: dict[str, np.ndarray]
                        ) -> dict[str, np.ndarray]:
    """The module's outputs and each submodule's (by forward hooks), keyed by IR value."""
    import torch
    last_in: dict[str, str] = {}  # namespace -> the last value computed inside it
    for n in graph.nodes:
        parts = n.namespace.split("/") if n.namespace else []
        for i in range(1, len(parts) + 1):
            for v in n.outputs:
                last_in["/".join(parts[:i])] = v.name
    seen: dict[str, np.ndarray] = {}

    from .from_torch import call_args

    def hook(name):
        def record(mod, args, out):
            if isinstance(out, torch.Tensor) and name in last_in:
                # a copy: the model may change the tensor in place later (x += residual)
                seen[last_in[name]] = out.detach().clone().numpy()
        return record
    handles = [m.register_forward_hook(hook(path.replace(".", "/")))
               for path, m in module.named_modules() if path]
    try:
        with torch.no_grad():
            outs = module(*call_args(graph, {k: torch.from_numpy(a) for k, a in feeds.items()}))
    finally:
        for h in handles:
            h.remove()
    for v, o in zip(graph.outputs, _leaves(outs)):
        seen[v.name] = o.detach().clone().numpy()
    return _as_ir_values(graph, seen.items())


def _leaves(out):
    """The tensors of a module's output in the order torch.export flattens it: tuples,
    lists, dicts and dict-like outputs (a transformers ModelOutput holds only the fields that
    are set)."""
    import torch
    if isinstance(out, torch.Tensor):
        yield out
    elif isinstance(out, (list, tuple)):
        for o in out:
            yield from _leaves(o)
    elif isinstance(out, dict):
        for o in out.values():
            yield from _leaves(o)


def _as_ir_values(graph: Graph, pairs, channels_last: bool = False) -> dict:
    """(IR value name, array) pairs as a dict, laid out as the IR holds them: from a
    channels-last source a 4-d value is transposed where the graph holds it NCHW. Only values
    whose shape fits are kept, the first that fits for a name: one of another shape is not the
    value its name suggests (a module whose output the IR reshaped after it)."""
    shapes = {v.name: v.type.shape for n in graph.nodes for v in n.outputs}
    first = _channels_first(graph) if channels_last else set()
    out = {}
    for name, a in pairs:
        if name in out:
            continue
        a = np.asarray(a)
        if name in first and a.ndim == 4:
            a = a.transpose(0, 3, 1, 2)
        if name in shapes and _fits(shapes[name], a.shape):
            out[name] = a
    return out


def _fits(shape, actual) -> bool:
    """The IR's shape (with symbolic dims) admits ``actual``."""
    return shape is None or (len(shape) == len(actual) and all(
        not isinstance(d, int) or d == a for d, a in zip(shape, actual)))


def keras_values(graph: Graph, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each Keras layer's output (a functional or Sequential model; a subclassed one gives
    its outputs only), keyed by the value of tf2onnx's graph that layer ends in."""
    import re
    import warnings
    from pathlib import Path

    from ..adapters.tensorflow.tf_runtime import load_keras_file
    model = load_keras_file(Path(graph.metadata["converted_from"]),
                            trust=graph.metadata.get("trusted", False))
    args = [feeds[v.name] for v in graph.inputs]
    arg = args[0] if len(args) == 1 else args
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    with warnings.catch_warnings():  # Keras warns when a dict-input model gets a list
        warnings.simplefilter("ignore")
        outputs = dict(zip((v.name for v in graph.outputs), _as_list(model(arg, training=False))))
        try:
            import keras
            probe = keras.Model(model.inputs, [layer.output for layer in layers])
            outs = _as_list(probe(arg, training=False))
        except (AttributeError, ValueError):  # subclassed: layers have no symbolic outputs
            layers, outs = [], []
    last_in: dict[str, str] = {}  # scope component -> the last value computed under it
    for n in graph.nodes:
        for part in (n.namespace or "").split("/"):
            last_in[re.sub(r"_\d+$", "", part)] = n.outputs[0].name
    pairs = [(last_in[layer.name], out) for layer, out in zip(layers, outs)
             if layer.name in last_in]
    return {**_as_ir_values(graph, pairs, channels_last=True),
            **{k: np.asarray(a) for k, a in outputs.items()}}  # the model's own outputs win


def tensorflow_values(graph: Graph, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The frozen TF graph run by TensorFlow, every tensor the ONNX graph names fetched."""
    import tensorflow as tf

    from .from_tf import frozen_source
    gd, renames = frozen_source(graph.metadata["tf_source"])
    tf_name = {ours: theirs for theirs, ours in renames.items()}
    wrapped = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(gd, name=""), [])
    g = wrapped.graph

    def tensor(name):
        try:
            return g.get_tensor_by_name(tf_name.get(name, name))
        except (KeyError, ValueError):
            return None
    inputs = [tensor(v.name) for v in graph.inputs]
    fetch = {v.name: t for n in graph.nodes for v in n.outputs
             if (t := tensor(v.name)) is not None and t.op.type != "Placeholder"}
    run = wrapped.prune(inputs, list(fetch.values()))
    outs = run(*[tf.constant(feeds[v.name]) for v in graph.inputs])
    return _as_ir_values(graph, ((name, out.numpy()) for name, out in zip(fetch, outs)),
                         channels_last=True)


def _as_list(out) -> list:
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _channels_first(graph: Graph) -> set[str]:
    """Values tf2onnx holds as NCHW: Keras inputs are NHWC; a Transpose (0, 3, 1, 2) turns a
    value channels-first, (0, 2, 3, 1) back; other 4-d ops keep their input's layout."""
    first: set[str] = set()
    nhwc = {v.name for v in graph.inputs}
    for n in graph.nodes:
        ins = [v.name for v in n.inputs if v is not None and not v.is_weight]
        was_first = any(i in first for i in ins[:1])
        was_last = any(i in nhwc for i in ins[:1])
        perm = tuple(n.attrs.get("perm", ())) if n.op == "Transpose" else None
        for v in n.outputs:
            if v.type.shape is None or len(v.type.shape) != 4:
                continue
            if (perm == (0, 3, 1, 2) and was_last) or (perm is None and was_first):
                first.add(v.name)
            elif (perm == (0, 2, 3, 1) and was_first) or (perm is None and was_last):
                nhwc.add(v.name)
    return first
