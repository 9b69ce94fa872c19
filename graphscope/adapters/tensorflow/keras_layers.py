"""A Keras 3 model into the IR at layer level: one node per layer call, named by the layer,
with its config, weights (lazy) and the output shapes Keras reports (channels-last). Nested
models become namespaces; a layer called twice (shared) is two nodes reading one set of
weights. Canonical ops where the mapping is exact, 'keras.<Class>' otherwise.

``translate`` and ``GraphBuilder`` are shared with keras_config.py, which builds the same
graph from a file's config without TensorFlow: a layer's weights are ``Weight``s either way.
Bare ``keras.ops`` calls in a functional model (``x + 3.0``) are nodes too, their constant
operands small constant values.
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


OPERATIONS = {"Add": "Add", "Subtract": "Sub", "Multiply": "Mul", "Divide": "Div",
              "TrueDivide": "Div", "Power": "Pow", "Maximum": "Max", "Minimum": "Min",
              "Negative": "Neg", "Sqrt": "Sqrt", "Exp": "Exp", "Log": "Log", "Abs": "Abs",
              "Tanh": "Tanh", "Sigmoid": "Sigmoid", "Relu": "Relu", "Erf": "Erf",
              "Matmul": "MatMul", "Softmax": "Softmax", "Gelu": "Gelu", "Silu": "Swish",
              "HardSigmoid": "HardSigmoid", "HardSilu": "HardSwish", "Reciprocal": "Reciprocal",
              "Rsqrt": "tf.Rsqrt", "Square": "tf.Square", "Identity": "Identity",
              "Reshape": "Reshape", "Transpose": "Transpose", "Mean": "ReduceMean",
              "Sum": "ReduceSum", "Max": "ReduceMax", "Min": "ReduceMin",
              "ExpandDims": "Unsqueeze", "Squeeze": "Squeeze", "Concatenate": "Concat"}
# the variables a layer saves, in order (a .keras file keeps only their index)
VAR_NAMES = {"Dense": ["kernel", "bias"], "EinsumDense": ["kernel", "bias"],
             "SeparableConv1D": ["depthwise_kernel", "pointwise_kernel", "bias"],
             "SeparableConv2D": ["depthwise_kernel", "pointwise_kernel", "bias"],
             "PReLU": ["alpha"], "Embedding": ["embeddings"],
             "Normalization": ["mean", "variance", "count"]}
for _c in ("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D",
           "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"):
    VAR_NAMES[_c] = ["kernel", "bias"]


def var_names(cls: str, cfg: dict, n: int) -> list[str]:
    """The names of a layer's n saved variables (their index where we do not know)."""
    if cls in ("BatchNormalization", "LayerNormalization", "GroupNormalization"):
        names = (["gamma"] if cfg.get("scale", True) else []) + \
            (["beta"] if cfg.get("center", True) else [])
        if cls == "BatchNormalization":
            names += ["moving_mean", "moving_variance"]
    else:
        names = VAR_NAMES.get(cls, [])
    return names[:n] if len(names) >= n else [str(i) for i in range(n)]


class Weight:
    """A layer's variable as translate() sees it: a live Keras variable or a file's dataset.
    ``key`` identifies it (shared layers read one weight); ``load()`` reads its values."""

    def __init__(self, key, path: str, shape, dtype: str, load):
        self.key, self.path, self.shape, self.dtype, self.load = key, path, tuple(shape), \
            dtype, load

    @classmethod
    def of(cls, var) -> "Weight":
        return cls(id(var), var.path, var.shape, str(var.dtype),
                   lambda var=var: np.asarray(var.numpy()))


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


class GraphBuilder:
    """Adds Keras layer calls to a Graph: names (a shared layer's second call is 'name_1'),
    weights (each variable once, under its Keras path), canonical ops via translate()."""

    def __init__(self, name: str):
        self.graph = Graph(name, metadata={"producer": "keras"})
        self.weights: dict[tuple, str] = {}    # (weight key, view) -> weight value name
        self.calls: dict[str, int] = {}        # layer path -> times seen
        self.consts = 0

    def add_layer(self, name, cls, cfg, weights: dict, srcs: list, n_out: int, namespace: str,
                  rank: int, operation: bool = False, config: dict | None = None,
                  trainable: bool = True):
        """``srcs``: value names, or numbers (a keras.ops call's constant operands).
        Returns the node."""
        base = _join(namespace, name)
        n = self.calls.get(base, 0)
        self.calls[base] = n + 1
        node_name = base + (f"_{n}" if n else "")
        out_names = [node_name if i == 0 else f"{node_name}:{i}" for i in range(n_out)]
        inputs = [s if isinstance(s, str) else self.constant(node_name, s) for s in srcs]
        if operation:
            op = OPERATIONS.get(cls, f"keras.ops.{cls}")
            attrs, specs = _operation_attrs(cls, cfg), []
        else:
            op, attrs, specs = translate(cls, cfg, weights, rank, len(srcs))
        for spec in specs:
            inputs.append(None if spec is None else self.weight(*spec))
        node = self.graph.add_node(op, inputs, out_names, attrs, name=node_name,
                                   namespace=namespace, source_op=cls)
        node.meta["config"] = config if config is not None else plain_config(cfg)
        node.meta["trainable"] = trainable
        return node

    def constant(self, owner: str, value) -> str:
        arr = np.asarray(value, dtype=np.float32 if isinstance(value, float) else None)
        self.consts += 1
        name = f"{owner}/const{self.consts}"
        v = self.graph.add_weight(name, WeightData(arr.shape, str(arr.dtype),
                                                   loader=lambda a=arr: a))
        v.meta["constant"] = True  # an operand written in the code, not a parameter
        return name

    def weight(self, w: Weight, view: str = "", shape=None, fn=None) -> str:
        key = (w.key, view)
        if key in self.weights:
            return self.weights[key]
        name = w.path + (f"/{view}" if view else "")
        shape = w.shape if shape is None else shape

        def load(w=w, fn=fn):
            a = np.asarray(w.load())
            return a if fn is None else np.ascontiguousarray(fn(a))
        v = self.graph.add_weight(name, WeightData(shape, w.dtype, loader=load))
        v.meta["counted"] = True  # Keras's count_params counts every weight (BN moving stats,
        self.weights[key] = name  # Normalization's int count) and so do we at layer level
        return name


class KerasReader(GraphBuilder):
    """A live functional keras.Model (or Sequential) into the IR, shapes from Keras."""

    def __init__(self, model):
        super().__init__(model.name)
        self.model = model
        self.values: dict[tuple, str] = {}     # (id(op), node_index, tensor_index) -> value

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
                outs = list(kn.output_tensors)
                if is_functional(layer):
                    srcs = [self.values[self.key(t)] for t in kn.input_tensors]
                    inner = self.expand(functional_of(layer), srcs,
                                        _join(namespace, layer.name))
                    for t, v in zip(outs, inner):
                        self.values[self.key(t)] = v
                    continue
                self.layer_node(layer, kn, outs, namespace)
        return [self.values[self.key(t)] for t in model.outputs]

    def call_operands(self, kn) -> list:
        """The call's tensor operands (as values) and, for keras.ops calls, its number
        operands, in argument order."""
        args = getattr(getattr(kn, "arguments", None), "args", None)
        if args is None:
            return [self.values[self.key(t)] for t in kn.input_tensors]
        out = []
        for a in _flat(args):
            if hasattr(a, "_keras_history"):
                out.append(self.values[self.key(a)])
            elif isinstance(a, (int, float)) and not isinstance(a, bool):
                out.append(a)
        return out

    def layer_node(self, layer, kn, outs, namespace) -> None:
        cls = type(layer).__name__
        operation = not hasattr(layer, "weights")  # a keras.ops call: an Operation, no Layer
        srcs = self.call_operands(kn) if operation else \
            [self.values[self.key(t)] for t in kn.input_tensors]
        try:
            cfg = layer.get_config()
        except Exception:  # a custom layer whose get_config fails: still draw it
            cfg = {}
        weights = {} if operation else {v.name: Weight.of(v) for v in layer.weights}
        rank = len(kn.input_tensors[0].shape) if kn.input_tensors else 0
        node = self.add_layer(layer.name, cls, cfg, weights, srcs, len(outs), namespace, rank,
                              operation=operation,
                              trainable=bool(getattr(layer, "trainable", True)))
        for t, v in zip(outs, node.outputs):
            self.values[self.key(t)] = v.name
            v.type = keras_type(t)


# -- layer -> (op, attrs, weights) ---------------------------------------------------------------
def translate(cls: str, cfg: dict, w: dict, rank: int, n_inputs: int):
    """A Keras layer as (canonical op, attrs, weight specs): each spec is None (a missing
    optional input) or (Weight, view, shape, fn) for a lazily transposed view."""
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
        if op == "Add" and n_inputs > 2:
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
        return recurrent(w, cls, cfg, attrs)
    if cls == "SeparableConv2D":
        attrs.update(strides=list(cfg["strides"]), data_format=fmt,
                     auto_pad="SAME_UPPER" if cfg["padding"] == "same" else "VALID")
        return "keras.SeparableConv2D", attrs, [(w["depthwise_kernel"],),
                                               (w["pointwise_kernel"],), _opt(w.get("bias"))]
    if cls in PASS:
        return PASS[cls], {}, []
    if cls in ("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"):
        return "Pad", {"pads": _zero_pads(cfg, rank, last)}, []
    if cls == "Normalization":  # (x - mean) / sqrt(variance): shape-preserving
        return "keras.Normalization", {"axis": cfg.get("axis")}, \
            [(v,) for v in w.values()]
    # unmapped: every weight of the layer (nested sublayers included) is an input
    return f"keras.{cls}", attrs, [(v,) for v in w.values()]


def recurrent(w, cls, cfg, attrs):
    """ONNX layout: W [1, gates*H, in], R [1, gates*H, H] (Keras: [in, gates*H])."""
    units = cfg["units"]
    k, r, b = w["kernel"], w["recurrent_kernel"], w.get("bias")
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


def plain_config(cfg: dict) -> dict:
    """A layer's config with only JSON-friendly scalars and lists (for tooltips/JSON)."""
    out = {}
    for k, v in (cfg or {}).items():
        if isinstance(v, (str, int, float, bool)) or v is None:
            out[k] = v
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (str, int, float, bool))
                                                  for x in v):
            out[k] = list(v)
    return out


def _flat(args):
    for a in args:
        if isinstance(a, (list, tuple)):
            yield from _flat(a)
        else:
            yield a


def _operation_attrs(cls: str, cfg: dict) -> dict:
    """The attributes a keras.ops call's config gives its canonical op."""
    if cls == "Softmax":
        axis = cfg.get("axis", -1)
        return {"axis": axis if isinstance(axis, int) else -1}
    axis = cfg.get("axis")
    axes = None if axis is None else list(axis) if isinstance(axis, (list, tuple)) else [axis]
    if cls == "Reshape" and cfg.get("newshape") is not None:
        return {"shape": list(cfg["newshape"]) if isinstance(cfg["newshape"], (list, tuple))
                else [cfg["newshape"]]}
    if cls == "Transpose" and cfg.get("axes") is not None:
        return {"perm": list(cfg["axes"])}
    if cls in ("Mean", "Sum", "Max", "Min"):
        return {"keepdims": int(bool(cfg.get("keepdims")))} | ({} if axes is None
                                                              else {"axes": axes})
    if cls in ("ExpandDims", "Squeeze") and axes is not None:
        return {"axes": axes}
    if cls == "Concatenate":
        return {"axis": axis if isinstance(axis, int) else 0}
    return {k: v for k, v in plain_config(cfg).items() if k != "name"}


def _zero_pads(cfg: dict, rank: int, last: bool) -> list[int]:
    """ZeroPadding's ((top, bottom), (left, right)) as ONNX pads over all rank dims."""
    pad = cfg.get("padding", 1)
    n = rank - 2
    if isinstance(pad, int):
        pairs = [(pad, pad)] * n
    else:
        pairs = [(p, p) if isinstance(p, int) else tuple(p) for p in pad]
    pairs = [(0, 0)] + pairs + [(0, 0)] if last else [(0, 0), (0, 0)] + pairs
    return [b for b, _ in pairs] + [e for _, e in pairs]
