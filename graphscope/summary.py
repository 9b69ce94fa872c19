"""`graphscope info`: the per-layer table and its JSON form."""
from __future__ import annotations

import json

from .ir.graph import Graph
from .ir.serialize import encode_value
from .ir.stats import totals
from .renderers.labels import fmt_bytes, fmt_count


def info_dict(graph: Graph) -> dict:
    model = {"format": graph.metadata.get("format"), "path": graph.metadata.get("path"),
             "name": graph.name,
             "inputs": [{"name": v.name, "shape": _shape(v), "dtype": v.type.dtype}
                        for v in graph.inputs],
             "outputs": [{"name": v.name, "shape": _shape(v), "dtype": v.type.dtype}
                         for v in graph.outputs]}
    for key in ("opset", "producer", "ir_version"):
        if graph.metadata.get(key) is not None:
            model[key] = graph.metadata[key]
    nodes = [{"name": n.name, "op": n.op, "source_op": n.source_op, "namespace": n.namespace,
              "inputs": [None if v is None else v.name for v in n.inputs],
              "outputs": [{"name": v.name, "shape": _shape(v), "dtype": v.type.dtype}
                          for v in n.outputs],
              "attrs": encode_value(dict(sorted(n.attrs.items()))),
              "params": n.meta.get("params", 0), "macs": n.meta.get("macs"),
              "activation_bytes": n.meta.get("activation_bytes")}
             for n in graph.nodes]
    t = totals(graph)
    return {"model": model, "nodes": nodes,
            "totals": {"nodes": len(graph.nodes), "params": t["params"], "macs": t["macs"],
                       "activation_bytes": t["activation_bytes"]},
            "warnings": list(graph.metadata.get("warnings", []))}


def _shape(v):
    return None if v.type.shape is None else list(v.type.shape)


def info_json(graph: Graph) -> str:
    return json.dumps(info_dict(graph), indent=1, sort_keys=False) + "\n"


def summary_table(graph: Graph, max_name: int = 48) -> str:
    """A fixed-width table of every layer, then the totals."""
    rows = [("name", "type", "output shape", "params", "MACs")]
    for n in graph.nodes:
        name = n.name if len(n.name) <= max_name else "…" + n.name[-(max_name - 1):]
        shape = ", ".join(v.type.shape_str() for v in n.outputs if not v.omitted)
        macs = n.meta.get("macs")
        rows.append((name, n.op, shape, f"{n.meta.get('params', 0):,}",
                     "?" if macs is None else f"{macs:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(c.ljust(widths[i]) if i < 3 else c.rjust(widths[i])
                               for i, c in enumerate(r)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    t = totals(graph)
    meta = graph.metadata
    lines.append("")
    lines.append(f"model: {meta.get('path') or graph.name} ({meta.get('format', '?')}"
                 + (f", opset {meta['opset']}" if meta.get("opset") else "") + ")")
    for v in graph.inputs:
        lines.append(f"input:  {v.name} {v.type.dtype or '?'}[{v.type.shape_str()}]")
    for v in graph.outputs:
        lines.append(f"output: {v.name} {v.type.dtype or '?'}[{v.type.shape_str()}]")
    macs = "?" if t["macs"] is None else f"{t['macs']:,} ({fmt_count(t['macs'])})"
    act = "?" if t["activation_bytes"] is None else fmt_bytes(t["activation_bytes"])
    lines.append(f"nodes: {len(graph.nodes):,}   params: {t['params']:,} "
                 f"({fmt_count(t['params'])})   MACs: {macs}   activations: {act}")
    if t["unknown_macs"]:  # the known part is a lower bound, never the total
        lines.append(f"note: MACs unknown for {t['unknown_macs']} node(s) with unknown shapes "
                     f"(the others: {t['macs_known']:,})")
    if not any(v.type.shape for v in graph.inputs) and graph.inputs:
        lines.append("note: no input shapes are known: pass --input-shape "
                     + " ".join(f"{v.name}=D1,D2,..." for v in graph.inputs))
    if any(isinstance(d, str) for v in graph.inputs for d in (v.type.shape or ())):
        lines.append("note: symbolic dims are counted as 1 in MACs and activation memory")
    return "\n".join(lines) + "\n"
