"""The source side of `convert --verify`: the model run by its own framework where one can
run it, every value it exposes named as the IR names it.

- Caffe: OpenCV's cv2.dnn reads the same prototxt and caffemodel (there is no Caffe build to
  run) and gives each layer's output; a layer answers for the IR value it ends in.
- A live torch.nn.Module: forward hooks give each submodule's output; a module answers for
  the last value computed in its namespace.
- Anything else (ONNX, TorchScript, Keras through tf2onnx): onnxruntime over the IR.
"""
from __future__ import annotations

import numpy as np

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
    net = cv2.dnn.readNetFromCaffe(graph.metadata["path"], graph.metadata["weights"])
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.enableWinograd(False)  # Winograd convolutions trade accuracy for speed
    value_of = caffe_layer_values(graph)
    layers = [n for n in net.getLayerNames() if n in value_of]
    for v in graph.inputs:
        net.setInput(feeds[v.name], v.name)
    values = {value_of[layer]: out for layer, out in zip(layers, net.forward(layers))}
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

    def hook(name):
        def record(mod, args, out):
            if isinstance(out, torch.Tensor) and name in last_in:
                seen[last_in[name]] = out.detach().numpy()
        return record
    handles = [m.register_forward_hook(hook(path.replace(".", "/")))
               for path, m in module.named_modules() if path]
    try:
        with torch.no_grad():
            outs = module(*[torch.from_numpy(feeds[v.name]) for v in graph.inputs])
    finally:
        for h in handles:
            h.remove()
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    for v, o in zip(graph.outputs, outs):
        if isinstance(o, torch.Tensor):
            seen[v.name] = o.detach().numpy()
    # a hook value whose shape differs is a module whose output the IR reshaped after it
    shapes = {v.name: v.type.shape for n in graph.nodes for v in n.outputs}
    return {k: a for k, a in seen.items() if k in shapes and _fits(shapes[k], a.shape)}


def _fits(shape, actual) -> bool:
    """The IR's shape (with symbolic dims) admits ``actual``."""
    return shape is None or (len(shape) == len(actual) and all(
        not isinstance(d, int) or d == a for d, a in zip(shape, actual)))
