"""A .keras or .h5 Keras model into the IR from its config alone, without TensorFlow or Keras.

A saved functional model's config lists every layer call with the Keras tensors it reads,
and each of those records its shape: so layers, bare ``keras.ops`` calls, nested models and
shared layers are all there, and the weights' names and shapes come from the HDF5 index
(h5.py; values read on demand). The nodes are the same as KerasReader makes from a live
model (both go through keras_layers.GraphBuilder/translate).

``read`` returns None when the config is not enough (an RNN layer, a subclassed model, a
config we do not follow), and a graph marked ``incomplete`` when some output shape is not
known (an op we have no rule for at a model output): the caller then loads the file with
Keras, and keeps this graph if Keras cannot. Nothing from the file is ever executed here.
"""
from __future__ import annotations

from pathlib import Path

from ...errors import GraphscopeError
from ...ir import Graph, TensorType
from . import h5
from .keras_layers import ACTIVATIONS, MERGE, PASS, GraphBuilder, Weight, _join, var_names

MODELS = ("Functional", "Sequential", "Model")
KNOWN = {"Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D", "Dense",
         "BatchNormalization", "LayerNormalization", "MaxPooling1D", "MaxPooling2D",
         "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
         "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
         "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "Activation", "ReLU",
         "LeakyReLU", "ELU", "PReLU", "Concatenate", "Softmax", "Embedding",
         "SeparableConv2D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Normalization",
         "Rescaling", *MERGE, *PASS}
NEEDS_KERAS = {"LSTM", "GRU", "SimpleRNN", "Bidirectional", "TimeDistributed", "RNN",
               "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "Lambda"}


class NotEnough(Exception):
    """The config alone cannot give this model's graph: load it with Keras."""


def read(path: Path, config: dict) -> Graph | None:
    try:
        return _ConfigReader(path, config).read()
    except (NotEnough, GraphscopeError, KeyError, IndexError, TypeError, ValueError,
            AttributeError, ZeroDivisionError, RecursionError):
        return None  # a config we do not follow: Keras will read it (or say what is wrong)


def _is_model(layer: dict) -> bool:
    return layer.get("class_name") in MODELS and "layers" in (layer.get("config") or {})


def _triples(spec) -> list:
    """input_layers / output_layers: one [name, node, index] or a list of them."""
    if spec and isinstance(spec[0], str):
        return [spec]
    return list(spec or [])


def _type(shape, dtype="float32") -> TensorType:
    if shape is None:
        return TensorType(dtype)
    dims = tuple(("N" if i == 0 else None) if d is None else d for i, d in enumerate(shape))
    return TensorType(dtype, dims)


class _ConfigReader(GraphBuilder):
    def __init__(self, path: Path, config: dict):
        cfg = config.get("config") or {}
        super().__init__(cfg.get("name") or path.stem)
        self.path, self.config = path, config
        self.index = h5.weight_index(path)
        self.keras_v3 = path.suffix.lower() == ".keras"
        self.recorded: dict[str, TensorType] = {}  # value name -> shape a consumer recorded

    def read(self) -> Graph:
        top = self.config
        if not _is_model(top):
            raise NotEnough("not a functional or Sequential model")
        outs = self.model(top, None, "")
        for o in outs:
            self.graph.add_output(o)
        for node in self.graph.nodes:
            for v in node.outputs:
                if v.name in self.recorded:
                    v.type = self.recorded[v.name]
        from ...ir.shapes import infer_shapes
        infer_shapes(self.graph)
        missing = [n.name for n in self.graph.nodes for v in n.outputs
                   if v.type.shape is None or None in v.type.shape]
        self.graph.metadata.update(producer="keras", level="layers", reader="config")
        if missing:  # Keras may know them; if it cannot read the file, this graph is drawn
            self.graph.metadata["incomplete"] = missing
        return self.graph

    # -- one model (top level or nested) ---------------------------------------------------------
    def model(self, m: dict, inputs: list[str] | None, namespace: str) -> list[str]:
        cfg = m["config"]
        if m.get("class_name") == "Sequential":
            return self.sequential(cfg, inputs, namespace)
        layers = cfg["layers"]
        by_name = {_name(layer): layer for layer in layers}
        values: dict[tuple, str] = {}
        for k, (lname, ni, ti) in enumerate(_triples(cfg.get("input_layers"))):
            if inputs is None:
                layer = by_name[lname]
                lc = layer.get("config") or {}
                shape = lc.get("batch_shape") or lc.get("batch_input_shape")
                self.graph.add_input(_join(namespace, lname),
                                     _type(shape, _dtype(lc.get("dtype"))))
                values[(lname, ni, ti)] = _join(namespace, lname)
            else:
                values[(lname, ni, ti)] = inputs[k]
        todo = [(layer, i, node) for layer in layers if layer["class_name"] != "InputLayer"
                for i, node in enumerate(layer.get("inbound_nodes") or [])]
        while todo:
            left = []
            for layer, i, call in todo:
                keys = [_history(t) for t in _tensors(call)]
                if all(k in values for k in keys):
                    self.call(layer, i, call, values, namespace)
                else:
                    left.append((layer, i, call))
            if len(left) == len(todo):
                raise NotEnough("layer calls whose inputs are never made")
            todo = left
        return [values[tuple(t)] for t in _triples(cfg.get("output_layers"))]

    def sequential(self, cfg: dict, inputs, namespace: str) -> list[str]:
        layers = list(cfg["layers"])
        shape = cfg.get("build_input_shape")
        if layers and layers[0]["class_name"] == "InputLayer":
            lc = layers.pop(0).get("config") or {}
            shape = lc.get("batch_shape") or lc.get("batch_input_shape") or shape
        if inputs is None:
            if shape is None:
                raise NotEnough("a Sequential model with no input shape")
            name = _join(namespace, "input")
            self.graph.add_input(name, _type(shape))
            inputs = [name]
        value = inputs[0]
        for layer in layers:
            if _is_model(layer):
                value = self.model(layer, [value], _join(namespace, _name(layer)))[0]
                continue
            rank = len(shape) if shape else len((layer.get("build_config") or {})
                                                .get("input_shape") or [None] * 4)
            node = self.layer_call(layer, [value], 1, namespace, rank)
            value, shape = node.outputs[0].name, None
        return [value]

    def call(self, layer: dict, i: int, call: dict, values: dict, namespace: str) -> None:
        args = call.get("args") or []
        tensors = list(_tensors(call))
        if _is_model(layer):
            outs = self.model(layer, [values[_history(t)] for t in tensors],
                              _join(namespace, _name(layer)))
            for k, v in enumerate(outs):
                values[(_name(layer), i, k)] = v
            return
        module = layer.get("module") or ""
        # a keras.ops call: its module says so (.keras); a legacy .h5 has no module, but only
        # layers have a 'trainable' entry in their config
        operation = module.startswith("keras.src.ops") or (
            not module and "trainable" not in (layer.get("config") or {}))
        if operation:
            srcs = [values[_history(a)] if _is_tensor(a) else a for a in _flat(args)
                    if _is_tensor(a) or (isinstance(a, (int, float)) and not isinstance(a, bool))]
        else:
            srcs = [values[_history(t)] for t in tensors]
        rank = len(tensors[0]["config"]["shape"]) if tensors else 0
        n_out = max([k for (name, ni, k) in self.consumed(_name(layer), i)] + [0]) + 1
        node = self.layer_call(layer, srcs, n_out, namespace, rank, operation)
        for k, v in enumerate(node.outputs):
            values[(_name(layer), i, k)] = v.name
        for t in tensors:  # what this call's inputs look like, as Keras recorded them
            c = t["config"]
            self.recorded[values[_history(t)]] = _type(c.get("shape"), _dtype(c.get("dtype")))

    def consumed(self, name: str, i: int):
        """(layer, node, tensor) triples of ``name``'s call ``i`` that something reads."""
        if not hasattr(self, "_consumed"):
            self._consumed = set()
            self._collect(self.config)
        return [t for t in self._consumed if t[0] == name and t[1] == i]

    def _collect(self, obj) -> None:
        if isinstance(obj, dict):
            if obj.get("class_name") == "__keras_tensor__":
                self._consumed.add(_history(obj))
            for k, v in obj.items():
                if k in ("output_layers",):
                    for t in _triples(v):
                        self._consumed.add(tuple(t))
                else:
                    self._collect(v)
        elif isinstance(obj, list):
            for v in obj:
                self._collect(v)

    def layer_call(self, layer: dict, srcs: list, n_out: int, namespace: str, rank: int,
                   operation: bool = False):
        cls, cfg = layer["class_name"].split(">")[-1], layer.get("config") or {}
        if cls in NEEDS_KERAS:
            raise NotEnough(f"layer class {cls}")
        if cls == "Activation" and cfg.get("activation") not in ACTIVATIONS:
            raise NotEnough(f"activation {cfg.get('activation')}")
        weights = {} if operation else self.layer_weights(namespace, _name(layer), cls, cfg)
        return self.add_layer(_name(layer), cls, cfg, weights, srcs, n_out, namespace, rank,
                              operation=operation, trainable=bool(cfg.get("trainable", True)))

    # -- weights from the HDF5 index ------------------------------------------------------------
    def layer_weights(self, namespace: str, name: str, cls: str, cfg: dict) -> dict:
        path = _join(namespace, name)
        rows = list(self.index.get(path, []))
        if cls not in KNOWN:  # a custom layer: its sublayers' weights are its inputs too
            rows += [r for p, rs in sorted(self.index.items()) if p.startswith(path + "/")
                     for r in rs]
        names = [r[0] for r in rows] if not self.keras_v3 else var_names(cls, cfg, len(rows))
        out = {}
        for vname, (_, shape, dtype, dataset) in zip(names, rows):
            out[vname] = Weight(dataset, f"{path}/{vname}", shape, dtype,
                                lambda ds=dataset, p=self.path: h5.read_dataset(p, ds))
        return out


def _name(layer: dict) -> str:
    return layer.get("name") or layer["config"]["name"]


def _is_tensor(a) -> bool:
    return isinstance(a, dict) and a.get("class_name") == "__keras_tensor__"


def _history(t) -> tuple:
    name, node, index = t["config"]["keras_history"]
    return (name, node, index)


def _flat(obj):
    if isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _flat(v)
    else:
        yield obj


def _tensors(call: dict):
    """The Keras tensors a call reads, in argument order (kwargs after args)."""
    for a in _flat(list(call.get("args") or []) + list((call.get("kwargs") or {}).values())):
        if _is_tensor(a):
            yield a


def _dtype(d) -> str:
    if isinstance(d, dict):  # a DTypePolicy
        d = (d.get("config") or {}).get("name")
    return d if isinstance(d, str) and not d.startswith("mixed") else "float32"
