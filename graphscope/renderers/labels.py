"""The text on and behind a box: its label lines and its tooltip, for every renderer."""
from __future__ import annotations

from ..ir import dims as D
from ..ir.graph import Node, Value
from ..ir.grouping import Box


def fmt_count(n: int | None) -> str:
    """1234567 -> '1.23M'; None -> '?'."""
    if n is None:
        return "?"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(n)


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, scale in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def fmt_value(x, limit: int = 120) -> str:
    """An attribute value as short readable text."""
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        if getattr(x, "size", 0) <= 8:
            return f"tensor<{x.dtype}>{x.tolist()}"
        return f"tensor<{x.dtype}>[{'x'.join(map(str, x.shape))}]"
    if isinstance(x, float):
        s = f"{x:.6g}"
    elif isinstance(x, (list, tuple)):
        s = "[" + ", ".join(fmt_value(i, limit) for i in x) + "]"
    else:
        s = str(x)
    return s if len(s) <= limit else s[:limit - 3] + "..."


def type_str(v: Value) -> str:
    return f"{v.type.dtype or '?'}[{v.type.shape_str()}]"


def summary_line(node: Node) -> str:
    """One line of the facts that tell layers apart: kernel/stride, output channels, W shape."""
    a = node.attrs
    parts = []
    if "kernel_shape" in a:
        parts.append("x".join(map(str, a["kernel_shape"])))
    elif node.op in ("Conv", "ConvTranspose") and len(node.inputs) > 1 and node.inputs[1] \
            and node.inputs[1].type.shape:
        parts.append("x".join(map(str, node.inputs[1].type.shape[2:])))
    strides = a.get("strides")
    if strides and any(s != 1 for s in strides):
        parts.append("/" + "x".join(map(str, strides)))
    if a.get("group", 1) != 1:
        parts.append(f"g{a['group']}")
    out = node.outputs[0].type.shape if node.outputs else None
    if node.op in ("Conv", "ConvTranspose", "Gemm") and out and len(out) > 1:
        parts.append(f"{out[1]}")
    weights = node.weight_inputs()
    if weights and node.op not in ("Conv", "ConvTranspose"):
        w = weights[0]
        if w.data is not None and len(w.data.shape) > 0 and not w.meta.get("constant"):
            parts.append("W " + "x".join(map(str, w.data.shape)))
    return " ".join(parts)


def box_lines(box: Box) -> list[str]:
    """Label lines: op, name, summary for a node; namespace and totals for a group."""
    if box.kind in ("input", "output", "blob"):
        return [box.value.name, box.value.type.shape_str()]
    if box.kind == "group":
        name = box.title or box.namespace.rsplit("/", 1)[-1]
        return [f"{name}: {box.module_class}" if box.module_class else name,
                f"{len(box.members)} ops · {fmt_count(box.params())} params"]
    node = box.node
    lines = [node.op if node.op == node.source_op else f"{node.op} ({node.source_op})",
             display_name(node)]
    extra = summary_line(node)
    if extra:
        lines.append(extra)
    if node.meta.get("unknown"):
        lines.append("unknown to graphscope")
    return lines


def display_name(node: Node) -> str:
    """The short name of a node. Exporters name nodes '<module path>/<Op>' ('/layer1/conv1/Conv'):
    then the module ('conv1') says more than the repeated op type."""
    last = node.name.rstrip("/").rsplit("/", 1)[-1] or node.name
    base = last.split("_")[0]
    if node.namespace and base in (node.op, node.source_op):
        return node.namespace.rsplit("/", 1)[-1]
    return last


def node_tooltip(node: Node) -> str:
    """Everything about a node, as plain text lines (escaped by each renderer)."""
    lines = [f"{node.op}: {node.name}"]
    if node.source_op != node.op:
        lines.append(f"source op: {node.source_op}")
    if node.namespace:
        lines.append(f"namespace: {node.namespace}")
    if node.attrs:
        lines.append("attributes:")
        lines += [f"  {k} = {fmt_value(v)}" for k, v in sorted(node.attrs.items())]
    lines.append("inputs:")
    for v in node.inputs:
        if v is None:
            continue
        kind = " (weight)" if v.is_weight else ""
        lines.append(f"  {v.name}: {type_str(v)}{kind}")
    lines.append("outputs:")
    lines += [f"  {v.name}: {type_str(v)}" for v in node.outputs]
    for key, sub in sorted(node.subgraphs.items()):
        lines.append(f"subgraph {key}: {len(sub.nodes)} nodes")
    lines.append(f"params: {node.meta.get('params', 0):,}")
    macs = node.meta.get("macs")
    lines.append(f"MACs: {'?' if macs is None else format(macs, ',')}")
    lines.append(f"activation memory: {fmt_bytes(node.meta.get('activation_bytes'))}")
    if node.meta.get("shape_error"):
        lines.append(f"shape warning: {node.meta['shape_error']}")
    if node.meta.get("unknown"):
        lines.append("unknown to graphscope: its output shapes are not inferred "
                     "(a plugin can teach it: docs/caffe.md)")
    return "\n".join(lines)


def box_tooltip(box: Box, boundary_in: list[Value] = (), boundary_out: list[Value] = ()) -> str:
    if box.kind == "node":
        return node_tooltip(box.node)
    if box.kind in ("input", "output", "blob"):
        return f"{box.kind}: {box.value.name}\n{type_str(box.value)}"
    ops: dict[str, int] = {}
    for n in box.members:
        ops[n.op] = ops.get(n.op, 0) + 1
    lines = [f"group: {box.namespace}" + (f" ({box.module_class})" if box.module_class else ""),
             f"{len(box.members)} ops: " +
             ", ".join(f"{k} x{v}" for k, v in sorted(ops.items()))]
    if boundary_in:
        lines.append("inputs:")
        lines += [f"  {v.name}: {type_str(v)}" for v in boundary_in]
    if boundary_out:
        lines.append("outputs:")
        lines += [f"  {v.name}: {type_str(v)}" for v in boundary_out]
    lines.append(f"params: {box.params():,}")
    macs = box.macs()
    lines.append(f"MACs: {'?' if macs is None else format(macs, ',')}")
    act = sum(n.meta.get("activation_bytes") or 0 for n in box.members)
    lines.append(f"activation memory: {fmt_bytes(act)}")
    return "\n".join(lines)


def edge_label(v: Value) -> str:
    return v.type.shape_str()


def total_elements(v: Value) -> int | None:
    return D.numel(v.type.shape)
