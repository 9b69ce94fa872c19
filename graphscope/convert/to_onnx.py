"""IR -> onnx.ModelProto. The IR's canonical ops are ONNX ops, so this is mostly a copy; what
it adds is legalisation (attributes that later opsets moved to inputs) and a clear refusal,
by node name, of ops ONNX cannot express."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import GraphscopeError, UnsupportedError, require
from ..ir.graph import Graph, Node, TensorType
from ..ir.shapes import ONNX_DTYPES
from ..registry import import_optional, keyed_registry

# Framework ops with an exact ONNX decomposition: op -> fn(node, helper, opset) returning
# (nodes, initializers). Filled by lower_<framework>.py modules, imported lazily below.
LOWERINGS: dict = {}
lowering = keyed_registry(LOWERINGS)
LOWERING_MODULES = ("lower_caffe", "lower_torch", "lower_opset")

DEFAULT_OPSET = 17
NP_TO_ONNX = {name: code for code, name in ONNX_DTYPES.items() if name != "string"}
# (op, attribute, input index, first opset where it is an input)
ATTR_TO_INPUT = [("Squeeze", "axes", 1, 13), ("Unsqueeze", "axes", 1, 13),
                 ("Split", "split", 1, 13), ("Reshape", "shape", 1, 5), ("Pad", "pads", 1, 11),
                 ("ReduceSum", "axes", 1, 13)] + [
    (op, "axes", 1, 18) for op in ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                   "ReduceL1", "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare")]


# attributes adapters keep for tooltips and round trips, not part of the ONNX op
NON_ONNX_ATTR_PREFIXES = ("caffe_", "torch_", "tf_", "keras_")


def onnx_dtype(dtype: str | None) -> int | None:
    """ONNX's TensorProto data type for a numpy dtype name."""
    return NP_TO_ONNX.get(dtype or "float32")


def to_onnx(graph: Graph, opset: int | None = None, with_weights: bool = True,
            leave_out: set[str] = frozenset()):
    """Build an ONNX model from a graph. ``with_weights=False`` leaves initializers out (a
    structure-only model), ``leave_out`` the named ones (streamed by onnx_file.write_onnx).
    Raises UnsupportedError naming every node ONNX cannot express."""
    require("onnx", "onnx", "exporting to ONNX")
    from onnx import helper
    opset = opset or (graph.metadata.get("opset") if graph.metadata.get("format") == "onnx"
                      else None) or DEFAULT_OPSET
    bad = [f"{n.name} ({n.op})" for _, n in graph.walk() if not has_onnx_form(n.op)]
    if bad:
        more = f" and {len(bad) - 8} more" if len(bad) > 8 else ""
        raise UnsupportedError(f"no ONNX equivalent for {len(bad)} node(s): "
                               f"{', '.join(bad[:8])}{more}")
    body = _graph_proto(helper, graph, opset, with_weights, leave_out)
    domains = {n.op.rsplit(".", 1)[0] for _, n in graph.walk()
               if "." in n.op and n.op not in LOWERINGS}
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in sorted(domains)]
    model = helper.make_model(body, opset_imports=opsets, producer_name="graphscope")
    model.ir_version = min(model.ir_version, 10)
    return model


def _load_lowerings() -> None:
    for name in LOWERING_MODULES:
        import_optional(f"{__package__}.{name}")


def has_onnx_form(op: str) -> bool:
    """False for another framework's op ('caffe.X', 'torch.X', 'tf.X') that no lowering
    decomposes; every other op is ONNX's own or a custom-domain op ONNX can carry."""
    _load_lowerings()
    return op.split(".", 1)[0] not in ("caffe", "torch", "tf", "keras") or op in LOWERINGS


def missing_ops(graph: Graph, supported) -> dict[str, str]:
    """op -> the first node using it, for the ops ``supported(op)`` rejects (subgraphs too)."""
    out: dict[str, str] = {}
    for _, n in graph.walk():
        if not supported(n.op):
            out.setdefault(n.op, n.name)
    return out


def refuse_missing(missing: dict[str, str], who: str) -> UnsupportedError:
    """One error naming every op ``who`` lacks, with a node that uses each."""
    ops = sorted(missing.items())
    what = ", ".join(f"{op} (e.g. node '{name}')" for op, name in ops)
    return UnsupportedError(f"{who} has no implementation for: {what}",
                            node=ops[0][1] if len(ops) == 1 else None)


def lowered_for(graph: Graph, supported) -> Graph:
    """The graph, with its framework ops (caffe.Pooling, torch.linear, ...) decomposed into
    ONNX ops by the exporter's lowerings when a backend lacks some op: the path `convert`
    takes. The graph itself when ``supported`` accepts every op."""
    if not missing_ops(graph, supported):
        return graph
    from .. import load
    return load(to_onnx(graph))


def _value_info(helper, name: str, t: TensorType):
    shape = None if t.shape is None else [d if d is not None else None for d in t.shape]
    return helper.make_tensor_value_info(name, onnx_dtype(t.dtype) or 1, shape)


def _graph_proto(helper, graph: Graph, opset: int, with_weights: bool,
                 leave_out: set[str] = frozenset()):
    from onnx import numpy_helper
    extra_inits: list = []
    nodes = []
    for n in graph.nodes:
        if n.op in LOWERINGS:
            lowered, inits_ = LOWERINGS[n.op](n, helper, opset)
            nodes += lowered
            extra_inits += inits_
        else:
            nodes.append(_node_proto(helper, n, opset, extra_inits, with_weights))
    inits = []
    if with_weights:
        for name, v in graph.weights.items():
            if (v.consumers or v in graph.outputs) and name not in leave_out:
                try:
                    arr = np.asarray(v.data.array)
                except GraphscopeError as exc:
                    raise UnsupportedError(f"weight '{name}' has no data; load the model "
                                           f"with its weights to export it") from exc
                inits.append(numpy_helper.from_array(arr, name))
    inits += extra_inits
    return helper.make_graph(nodes, graph.name, [_value_info(helper, v.name, v.type)
                                                 for v in graph.inputs],
                             [_value_info(helper, v.name, v.type) for v in graph.outputs],
                             inits)


def _node_proto(helper, node: Node, opset: int, extra_inits: list, with_weights: bool):
    from onnx import numpy_helper
    attrs = {k: v for k, v in node.attrs.items() if not k.startswith(NON_ONNX_ATTR_PREFIXES)}
    inputs = ["" if v is None else v.name for v in node.inputs]
    if node.op == "Dropout" and opset >= 12 and "ratio" in attrs:  # inference: ratio is moot
        attrs.pop("ratio")
    for op, key, index, since in ATTR_TO_INPUT:
        if node.op == op and opset < since and key not in attrs and len(inputs) > index \
                and node.inputs[index] is not None and node.inputs[index].data is not None:
            # the older opset wants an attribute where the graph has a constant input
            attrs[key] = [int(v) for v in np.asarray(node.inputs[index].data.array).reshape(-1)]
            inputs[index] = ""
            while inputs and inputs[-1] == "":
                inputs.pop()
        if node.op == op and key in attrs and opset >= since:
            name = f"{node.name}/{key}"
            extra_inits.append(numpy_helper.from_array(np.asarray(attrs.pop(key), np.int64), name))
            while len(inputs) < index:
                inputs.append("")
            inputs.insert(index, name)
    domain, op_type = (node.op.rsplit(".", 1) if "." in node.op else ("", node.op))
    proto = helper.make_node(op_type, inputs, [v.name for v in node.outputs], name=node.name,
                             domain=domain or None, **{k: _attr(v) for k, v in attrs.items()})
    for key, value in node.meta.get("metadata_props", {}).items():
        proto.metadata_props.add(key=key, value=value)
    for key, sub in sorted(node.subgraphs.items()):
        proto.attribute.append(helper.make_attribute(
            key, _graph_proto(helper, sub, opset, with_weights)))
    return proto


def _attr(value: Any):
    from onnx import numpy_helper
    if isinstance(value, np.ndarray):
        return numpy_helper.from_array(value)
    if isinstance(value, tuple):
        return list(value)
    return value
