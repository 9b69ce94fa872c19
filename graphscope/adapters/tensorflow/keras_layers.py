"""A Keras 3 model into the IR at layer level: one node per layer call, named by the layer,
with its config, weights (lazy) and the output shapes Keras reports (channels-last). Nested
models become namespaces; a layer called twice (shared) is two nodes reading one set of
weights. Canonical ops where the mapping is exact, 'keras.<Class>' otherwise.
"""
from __future__ import annotations

import numpy as np

from ...errors import UnsupportedError
from ...ir import Graph, TensorType, WeightData

ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax",
               "elu": "Elu", "selu": "Selu", "softplus": "Softplus", "softsign": "Softsign",
               "gelu": "Gelu", "swish": "Swish", "silu": "Swish", "hard_swish": "HardSwish",
               "hard_silu": "HardSwish", "hard_sigmoid": "HardSigmoid", "linear": "Identity",
               "exponential": "Exp", "log_softmax": "LogSoftmax", "mish": "Mish",
               "relu6": "Clip", "leaky_relu": "LeakyRelu"}
MERGE = {"Add": "Add", "Subtract": "Sub", "Multiply": "Mul", "Average": "Mean",
         "Maximum": "Max", "Minimum": "Min"}
PASS = {"Dropout": "Dropout", "SpatialDropout1D": "Dropout", "SpatialDropout2D": "Dropout",
        "SpatialDropout3D": "Dropout", "GaussianDropout": "Dropout", "AlphaDropout": "Dropout",
        "Flatten": "Flatten", "Reshape": "Reshape", "Permute": "Transpose",
        "Identity": "Identity", "Softmax": "Softmax", "Embedding": "Embedding"}


def is_functional(model) -> bool:
    return functional_of(model) is not None


def functional_of(model):
    """The functional graph of a model: itself, or a built Sequential's inner Functional."""
    inner = getattr(model, "_functional", None)
    if inner is not None and type(model).__name__ == "Sequential":
        model = inner
    if hasattr(model, "_nodes_by_depth") and hasattr(model, "_operations"):
        return model
    return None


def keras_type(kt, batch: bool = True) -> TensorType:
    shape = tuple(kt.shape)
    if batch and shape and shape[0] is None:
        shape = ("N",) + shape[1:]
    return TensorType(str(kt.dtype), shape)


class KerasReader:
    def __init__(self, model):
        self.model = model
        self.graph = Graph(model.name, metadata={"producer": "keras"})
        self.values: dict[tuple, str] = {}     # (id(op), node_index, tensor_index) -> value
        self.weights: dict[tuple, str] = {}    # (id(variable), view) -> weight value name
        self.calls: dict[int, int] = {}        # id(layer) -> times seen

    def read(self) -> Graph:
        m = self.model
        if not is_functional(m):
            raise UnsupportedError(
                f"'{type(m).__name__}' is a subclassed Keras model with no layer graph; "
                "use level='ops' (--level ops) to trace it")
        m = functional_of(m)
        ins = []
        for t in m.inputs:
            name = t._keras_history.operation.name
            self.graph.add_input(name, keras_type(t))
            ins.append(name)
        outs = self.expand(m, ins, "")
        for o in outs:
            self.graph.add_output(o)
        return self.graph

    @staticmethod
    def key(t) -> tuple:
        h = t._keras_history
        return (id(h.operation), h.node_index, h.tensor_index)

    def expand(self, model, inputs: list[str], namespace: str) -> list[str]:
        """Add the layer calls of a functional ``model`` whose inputs are the values
        ``inputs``; returns the values of its outputs."""
        for t, v in zip(model.inputs, inputs):
            self.values[self.key(t)] = v
        for depth in sorted(model._nodes_by_depth, reverse=True):
            for kn in model._nodes_by_depth[depth]:
                layer = kn.operation
                if type(layer).__name__ == "InputLayer":
                    continue
                srcs = [self.values[self.key(t)] for t in kn.input_tensors]
                outs = list(kn.output_tensors)
                if is_functional(layer):
                    inner = self.expand(functional_of(layer), srcs,
                                        _join(namespace, layer.name))
                    for t, v in zip(outs, inner):
                        self.values[self.key(t)] = v
                    continue
                self.layer_node(layer, kn, srcs, outs, namespace)
        return [self.values[self.key(t)] for t in model.outputs]

    def layer_node(self, layer, kn, srcs, outs, namespace) -> None:
        n = self.calls.get(id(layer), 0)
        self.calls[id(layer)] = n + 1
        name = _join(namespace, layer.name) + (f"_{n}" if n else "")
        out_names = [name if i == 0 else f"{name}:{i}" for i in range(len(outs))]
        for t, v in zip(outs, out_names):
            self.values[self.key(t)] = v
        op, attrs, weights = self.translate(layer, kn)
        inputs = list(srcs)
        for w in weights:
            inputs.append(None if w is None else self.weight(*w))
        cls = type(layer).__name__
        node = self.graph.add_node(op, inputs, out_names, attrs, name=name, namespace=namespace,
                                   source_op=cls)
        for v, t in zip(node.outputs, outs):
            v.type = keras_type(t)
        node.meta["config"] = _plain_config(layer)
        node.meta["trainable"] = bool(getattr(layer, "trainable", True))

    def weight(self, var, view: str = "", shape=None, fn=None) -> str:
        key = (id(var), view)
        if key in self.weights:
            return self.weights[key]
        name = var.path + (f"/{view}" if view else "")
        shape = tuple(var.shape) if shape is None else shape

        def load(var=var, fn=fn):
            a = np.asarray(var.numpy())
            return a if fn is None else np.ascontiguousarray(fn(a))
        v = self.graph.add_weight(name, WeightData(shape, str(var.dtype), loader=load))
        v.meta["counted"] = True  # Keras's count_params counts every weight (BN moving stats,
        self.weights[key] = name  # Normalization's int count) and so do we at layer level
        return name

    # -- layer -> (op, attrs, weights) ---------------------------------------------------------
    def translate(self, layer, kn):
        cls = type(layer).__name__
        cfg = layer.get_config() if hasattr(layer, "get_config") else {}
        w = {v.name: v for v in layer.weights}
        rank = len(kn.input_tensors[0].shape) if kn.input_tensors else 0
        last = cfg.get("data_format", "channels_last") != "channels_first"
        fmt = {3: "NWC", 4: "NHWC", 5: "NDHWC"}.get(rank, "NHWC") if last else \
            {3: "NCW", 4: "NCHW", 5: "NCDHW"}.get(rank, "NCHW")
        act = cfg.get("activation")
        attrs: dict = {}
        if act and act != "linear":
            attrs["activation"] = act if isinstance(act, str) else str(act)
        if cls in ("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2D", "DepthwiseConv1D"):
            k = w.get("kernel")
            nd = len(k.shape) - 2
            attrs.update(kernel_shape=list(k.shape[:nd]), strides=list(cfg["strides"]),
                         dilations=list(cfg["dilation_rate"]), data_format=fmt,
                         auto_pad="SAME_UPPER" if cfg["padding"] == "same" else "VALID")
            perm = (nd, nd + 1, *range(nd))
            if cls.startswith("Depthwise"):
                cin, mult = k.shape[-2], k.shape[-1]
                shape = (cin * mult, 1) + tuple(k.shape[:nd])
                attrs["group"] = cin
                kw = (k, "oihw", shape, lambda a, p=perm, s=shape: a.transpose(p).reshape(s))
            else:
                attrs["group"] = cfg.get("groups", 1)
                perm = (nd + 1, nd, *range(nd))
                shape = tuple(k.shape[i] for i in perm)
                kw = (k, "oihw", shape, lambda a, p=perm: a.transpose(p))
            return "Conv", attrs, [kw, _opt(w.get("bias"))]
        if cls == "Dense":
            k, b = w["kernel"], w.get("bias")
            if rank == 2:
                return "Gemm", attrs, [(k,), _opt(b)]
            return "keras.Dense", attrs, [(k,), _opt(b)]
        if cls == "BatchNormalization":
            attrs.update(epsilon=cfg.get("epsilon"), momentum=cfg.get("momentum"),
                         axis=cfg.get("axis"), data_format=fmt)
            return "BatchNormalization", attrs, [_opt(w.get("gamma")), _opt(w.get("beta")),
                                                  (w["moving_mean"],), (w["moving_variance"],)]
        if cls == "LayerNormalization":
            attrs.update(epsilon=cfg.get("epsilon"), axis=cfg.get("axis"))
            return "LayerNormalization", attrs, [_opt(w.get("gamma")), _opt(w.get("beta"))]
        if cls in ("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
                   "AveragePooling2D", "AveragePooling3D"):
            attrs.update(kernel_shape=list(cfg["pool_size"]),
                         strides=list(cfg.get("strides") or cfg["pool_size"]), data_format=fmt,
                         auto_pad="SAME_UPPER" if cfg["padding"] == "same" else "VALID")
            return ("MaxPool" if cls.startswith("Max") else "AveragePool"), attrs, []
        if cls.startswith(("GlobalAveragePooling", "GlobalMaxPooling")):
            attrs.update(data_format=fmt, keepdims=int(bool(cfg.get("keepdims"))))
            return ("GlobalMaxPool" if "Max" in cls else "GlobalAveragePool"), attrs, []
        if cls == "Activation":
            a = cfg.get("activation")
            op = ACTIVATIONS.get(a, f"keras.activation.{a}")
            return op, ({"min": 0.0, "max": 6.0} if a == "relu6" else {}), []
        if cls == "ReLU":
            if cfg.get("max_value") is not None:
                return "Clip", {"min": float(cfg.get("threshold") or 0.0),
                                "max": float(cfg["max_value"])}, []
            if cfg.get("negative_slope"):
                return "LeakyRelu", {"alpha": float(cfg["negative_slope"])}, []
            return "Relu", {}, []
        if cls == "LeakyReLU":
            return "LeakyRelu", {"alpha": float(cfg.get("negative_slope", 0.3))}, []
        if cls == "ELU":
            return "Elu", {"alpha": float(cfg.get("alpha", 1.0))}, []
        if cls == "PReLU":
            return "PRelu", {}, [(w["alpha"],)]
        if cls in MERGE:
            op = MERGE[cls]
            if op == "Add" and len(kn.input_tensors) > 2:
                op = "Sum"
            return op, {}, []
        if cls == "Concatenate":
            return "Concat", {"axis": cfg.get("axis", -1)}, []
        if cls == "Reshape":
            return "Reshape", {"shape": [0] + list(cfg["target_shape"])}, []
        if cls == "Permute":
            return "Transpose", {"perm": [0] + list(cfg["dims"])}, []
        if cls == "Softmax":
            return "Softmax", {"axis": cfg.get("axis", -1)}, []
        if cls == "Embedding":
            return "Embedding", {}, [(w["embeddings"],)]
        if cls in ("LSTM", "GRU", "SimpleRNN"):
            return self.recurrent(layer, cls, cfg, attrs)
        if cls == "SeparableConv2D":
            attrs.update(strides=list(cfg["strides"]), data_format=fmt,
                         auto_pad="SAME_UPPER" if cfg["padding"] == "same" else "VALID")
            return "keras.SeparableConv2D", attrs, [(w["depthwise_kernel"],),
                                                   (w["pointwise_kernel"],), _opt(w.get("bias"))]
        if cls in PASS:
            return PASS[cls], {}, []
        # unmapped: every weight of the layer (nested sublayers included) is an input
        return f"keras.{cls}", attrs, [(v,) for v in layer.weights]

    def recurrent(self, layer, cls, cfg, attrs):
        """ONNX layout: W [1, gates*H, in], R [1, gates*H, H] (Keras: [in, gates*H])."""
        cell = getattr(layer, "cell", layer)
        units = cfg["units"]
        k, r, b = cell.kernel, cell.recurrent_kernel, getattr(cell, "bias", None)
        attrs.update(hidden_size=units, return_sequences=int(bool(cfg.get("return_sequences"))))
        op = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}[cls]
        t = lambda a: a.T[None]  # noqa: E731
        ws = [(k, "onnx", (1, k.shape[1], k.shape[0]), t),
              (r, "onnx", (1, r.shape[1], r.shape[0]), t)]
        if b is not None:
            ws.append((b, "onnx", (1, int(np.prod(b.shape))), lambda a: a.reshape(1, -1)))
        return op, attrs, ws


def _opt(var):
    return None if var is None else (var,)


def _join(ns: str, name: str) -> str:
    return f"{ns}/{name}" if ns else name


def _plain_config(layer) -> dict:
    """The layer's config with only JSON-friendly scalars and lists (for tooltips/JSON)."""
    try:
        cfg = layer.get_config()
    except Exception:  # a custom layer whose get_config fails: still draw it
        return {}
    out = {}
    for k, v in cfg.items():
        if isinstance(v, (str, int, float, bool)) or v is None:
            out[k] = v
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (str, int, float, bool))
                                                  for x in v):
            out[k] = list(v)
    return out
