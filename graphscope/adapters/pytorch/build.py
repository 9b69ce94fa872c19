"""Build the IR from a captured torch graph: one helper shared by the export and jit readers.

Both readers hand over, per ATen op: its base name, its arguments by schema name (tensors as
IR Values), its output types and its module path. Python numbers and int lists that an op
takes as inputs become small constant weights (not parameters).
"""
from __future__ import annotations

from typing import Any

from ...ir import Graph, TensorType, Value, WeightData
from .aten_map import translate


def torch_dtype(dt) -> str:
    """torch.float32 -> 'float32'."""
    return str(dt).replace("torch.", "")


def dim(d):
    """An int, or a symbol's name for a dynamic dim (SymInt 's0')."""
    if isinstance(d, int):
        return d
    node = getattr(d, "node", None)  # a SymInt: int only when it is known constant
    value = node.maybe_as_int() if node is not None and hasattr(node, "maybe_as_int") else None
    return value if value is not None else str(d)


def tensor_type(t) -> TensorType:
    """The TensorType of a (fake) tensor, a SymInt/int/float, or anything else (unknown)."""
    shape = getattr(t, "shape", None)
    if shape is not None and hasattr(t, "dtype"):
        return TensorType(torch_dtype(t.dtype), tuple(dim(d) for d in shape))
    if isinstance(t, bool):
        return TensorType("bool", ())
    if isinstance(t, int) or type(t).__name__ == "SymInt":
        return TensorType("int64", ())
    if isinstance(t, float) or type(t).__name__ == "SymFloat":
        return TensorType("float32", ())
    return TensorType()


def tensor_weight(tensor) -> WeightData:
    """A weight whose numpy array is made only when asked for (bfloat16 read as float32)."""
    t = tensor.detach()

    def load():
        return (t.float() if str(t.dtype) == "torch.bfloat16" else t).cpu().numpy()
    return WeightData(tuple(t.shape), torch_dtype(t.dtype), loader=load)


class Builder:
    def __init__(self, name: str):
        self.graph = Graph(name)
        self.modules: dict[str, str] = {}   # namespace -> module class name
        self._nconst = 0
        self.unmapped: dict[str, int] = {}

    def weight(self, name: str, tensor, parameter: bool) -> Value:
        v = self.graph.add_weight(name, tensor_weight(tensor))
        if not parameter:
            v.meta["buffer"] = True
        return v

    def const(self, value) -> Value:
        import numpy as np
        arr = np.asarray(value)
        if arr.dtype == np.float64 and arr.size == 0:
            arr = arr.astype(np.int64)  # an empty shape or axes list ([] of a scalar)
        elif arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        self._nconst += 1
        v = self.graph.add_weight(f"const_{self._nconst}", WeightData.from_array(arr))
        v.meta["constant"] = True
        return v

    def module(self, path: str, cls: str) -> None:
        if path and path not in self.modules:
            self.modules[path] = cls

    def op(self, name: str, aten_name: str, args: dict[str, Any], outputs: list[Value],
           namespace: str, source_op: str) -> None:
        rank = outputs[0].type.rank if outputs else None  # None: not recorded (TorchScript)
        # translators that need the traced output type read it as "_out"
        mapped = translate(aten_name, dict(args, _out=outputs[0].type if outputs else None,
                                           _outs=[v.type for v in outputs]), rank)
        if mapped is not None and mapped[0] == "Reshape" and outputs[0].type.shape is None:
            mapped = None  # no traced shape to give Reshape: keep the torch op
        if mapped is None:
            self.unmapped[aten_name] = self.unmapped.get(aten_name, 0) + 1
            inputs, attrs = [], {}
            for k, v in args.items():
                if isinstance(v, Value):
                    inputs.append(v)
                elif isinstance(v, (list, tuple)) and v and all(isinstance(x, Value) for x in v):
                    inputs.extend(v)
                elif _plain(v):
                    attrs[k] = list(v) if isinstance(v, tuple) else v
                elif v is not None:
                    attrs[k] = str(v)
            op = f"torch.{aten_name}"
        else:
            op, inputs, attrs = mapped
            if op == "Reshape":
                shape = outputs[0].type.shape or ()
                inputs = inputs + [[d if isinstance(d, int) else -1 for d in shape]]
            inputs = [self._input(x) for x in inputs]
            while inputs and inputs[-1] is None:
                inputs.pop()
        self.graph.add_node(op, inputs, outputs, attrs, name=name, namespace=namespace,
                            source_op=source_op)

    def _input(self, x):
        if x is None or isinstance(x, Value):
            return x
        if isinstance(x, (list, tuple)) and any(isinstance(e, Value) for e in x):
            return None  # a list of tensors where one was expected: leave the slot empty
        return self.const(x)

    def finish(self, metadata: dict) -> Graph:
        g = self.graph
        g.metadata.update(metadata)
        g.metadata["modules"] = dict(sorted(self.modules.items()))
        if self.unmapped:
            g.metadata["unmapped_ops"] = dict(sorted(self.unmapped.items()))
        return g


def _plain(v) -> bool:
    if isinstance(v, (bool, int, float, str)):
        return True
    return isinstance(v, (list, tuple)) and all(isinstance(x, (bool, int, float, str)) for x in v)
