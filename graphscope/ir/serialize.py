"""Versioned JSON for the IR. Weights keep their shape and dtype, not their data."""
from __future__ import annotations

import json
from typing import Any

from ..errors import ParseError
from .graph import Graph, TensorType, WeightData

FORMAT = "graphscope.ir"
VERSION = 1


def encode_value(x: Any) -> Any:
    """Attribute values to JSON: numpy arrays become tagged tensors, tuples lists."""
    if hasattr(x, "dtype") and hasattr(x, "shape") and hasattr(x, "tolist"):
        return {"__tensor__": {"dtype": str(x.dtype), "shape": list(x.shape), "data": x.tolist()}}
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    if isinstance(x, (list, tuple)):
        return [encode_value(i) for i in x]
    if isinstance(x, dict):
        return {str(k): encode_value(v) for k, v in x.items()}
    if isinstance(x, float) and x != x:
        return "nan"
    return x


def decode_value(x: Any) -> Any:
    if isinstance(x, dict):
        if "__tensor__" in x:
            import numpy as np
            t = x["__tensor__"]
            return np.asarray(t["data"], dtype=t["dtype"]).reshape(t["shape"])
        return {k: decode_value(v) for k, v in x.items()}
    if isinstance(x, list):
        return [decode_value(i) for i in x]
    return x


def graph_to_dict(graph: Graph) -> dict:
    values = []
    for v in graph.values.values():
        entry = {"name": v.name, "dtype": v.type.dtype,
                 "shape": None if v.type.shape is None else list(v.type.shape)}
        if v.data is not None:
            entry["weight"] = True
        values.append(entry)
    nodes = []
    for n in graph.nodes:
        entry = {"name": n.name, "op": n.op, "source_op": n.source_op, "namespace": n.namespace,
                 "inputs": [None if v is None else v.name for v in n.inputs],
                 "outputs": [v.name for v in n.outputs],
                 "attrs": encode_value(n.attrs),
                 "meta": encode_value({k: v for k, v in n.meta.items() if not k.startswith("_")})}
        if n.subgraphs:
            entry["subgraphs"] = {k: graph_to_dict(g) for k, g in n.subgraphs.items()}
        nodes.append(entry)
    return {"name": graph.name, "metadata": encode_value(graph.metadata),
            "inputs": [v.name for v in graph.inputs], "outputs": [v.name for v in graph.outputs],
            "values": values, "nodes": nodes}


def to_json(graph: Graph, indent: int | None = 1) -> str:
    doc = {"format": FORMAT, "version": VERSION, "graph": graph_to_dict(graph)}
    return json.dumps(doc, indent=indent, sort_keys=True, allow_nan=False) + "\n"


def graph_from_dict(d: dict, parent: Graph | None = None) -> Graph:
    g = Graph(d.get("name", "graph"), decode_value(d.get("metadata", {})), parent=parent)
    for v in d["values"]:
        shape = None if v["shape"] is None else tuple(v["shape"])
        if v.get("weight"):
            g.add_weight(v["name"], WeightData(shape or (), v["dtype"] or "float32"))
        else:
            g.value(v["name"]).type = TensorType(v["dtype"], shape)
    for name in d["inputs"]:
        g.inputs.append(g.value(name))
    for n in d["nodes"]:
        node = g.add_node(n["op"], n["inputs"], n["outputs"], decode_value(n["attrs"]), name=n["name"],
                          namespace=n.get("namespace", ""), source_op=n.get("source_op"),
                          meta=decode_value(n.get("meta", {})))
        for key, sub in n.get("subgraphs", {}).items():
            node.subgraphs[key] = graph_from_dict(sub, parent=g)
    for name in d["outputs"]:
        g.outputs.append(g.value(name))
    return g


def from_json(text: str, file: str | None = None) -> Graph:
    from ..fileio import parse_json
    doc = parse_json(text, file, "the graph file")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ParseError(f"not a graphscope IR document (expected \"format\": \"{FORMAT}\")",
                         file=file)
    if doc.get("version") != VERSION:
        raise ParseError(f"IR version {doc.get('version')} is not supported (this graphscope "
                         f"reads version {VERSION})", file=file)
    try:
        return graph_from_dict(doc["graph"])
    except (KeyError, TypeError) as exc:
        raise ParseError(f"malformed IR document: missing or bad field {exc}", file=file) from None
