"""Graphviz DOT source: one box per layer (or collapsed group), namespaces as clusters."""
from __future__ import annotations

from ..ir.graph import Graph
from ..ir.grouping import Cluster, View, boundaries, build_view
from .labels import box_lines, box_tooltip, edge_label
from .theme import style_for

RANKDIRS = ("TB", "BT", "LR", "RL")


def quote(text: str) -> str:
    """A DOT double-quoted string. Backslashes are doubled so that a user's name can never
    be read as a Graphviz escape (\\N, \\G, \\l...); newlines become centred line breaks."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_dot(graph: Graph, rankdir: str = "TB", depth: int | None = None,
               theme: str = "default", view: View | None = None, blobs: bool = False,
               **_options) -> str:
    from ..errors import UsageError
    if rankdir not in RANKDIRS:
        raise UsageError(f"--rankdir must be one of {', '.join(RANKDIRS)}, not '{rankdir}'")
    view = view or build_view(graph, depth, blobs)
    bounds = boundaries(view)
    ids = {b.id: f"b{i}" for i, b in enumerate(view.boxes)}
    edge_style = style_for("edge", theme)
    out = [f"digraph {quote(graph.name)} {{",
           f"  graph [rankdir={rankdir}, fontname=\"Helvetica\", fontsize=11, "
           f"newrank=true, nodesep=0.25, ranksep=0.35];",
           f"  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", "
           f"fontsize=10, margin=\"0.12,0.04\", height=0.3];",
           f"  edge [fontname=\"Helvetica\", fontsize=8, color=\"{edge_style.border}\", "
           f"fontcolor=\"{edge_style.font}\", arrowsize=0.6];"]

    def emit_box(box, indent: str) -> None:
        key = box.kind if box.kind != "node" else box.node.op
        st = style_for(key, theme)
        style = "filled" if st.shape in ("ellipse", "hexagon", "box3d", "octagon") else "rounded,filled"
        tip = box_tooltip(box, *bounds[box.id])
        out.append(f"{indent}{ids[box.id]} [id={quote(box.id)}, label={quote(chr(10).join(box_lines(box)))}, "
                   f"tooltip={quote(tip)}, shape={st.shape}, style=\"{style}\", "
                   f"fillcolor=\"{st.fill}\", color=\"{st.border}\", fontcolor=\"{st.font}\"];")

    def emit_cluster(c: Cluster, indent: str) -> None:
        for box in c.boxes:
            emit_box(box, indent)
        for child in c.children:
            st = style_for("cluster", theme)
            out.append(f"{indent}subgraph {quote('cluster_' + child.namespace)} {{")
            out.append(f"{indent}  id={quote('c:' + child.namespace)}; "
                       f"label={quote(child.label)}; tooltip={quote(child.namespace)}; "
                       f"style=\"rounded,filled\"; fillcolor=\"{st.fill}\"; "
                       f"color=\"{st.border}\"; fontcolor=\"{st.font}\";")
            emit_cluster(child, indent + "  ")
            out.append(f"{indent}}}")

    emit_cluster(view.root, "  ")
    for e in view.edges:
        label = "" if blobs else f"label={quote(edge_label(e.value))}, "
        out.append(f"  {ids[e.src]} -> {ids[e.dst]} [{label}tooltip={quote(e.value.name)}];")
    out.append("}")
    return "\n".join(out) + "\n"
