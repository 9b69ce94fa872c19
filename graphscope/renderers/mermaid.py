"""Mermaid flowchart source, for Markdown docs (GitHub, GitLab, MkDocs render it inline)."""
from __future__ import annotations

from ..ir.graph import Graph
from ..ir.grouping import Cluster, build_view
from .labels import box_lines, edge_label
from .theme import style_for

DIRECTIONS = {"TB": "TB", "BT": "BT", "LR": "LR", "RL": "RL"}


def mermaid_text(text: str) -> str:
    """Mermaid's entity codes, so that quotes and angle brackets in names stay text."""
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")
            .replace(">", "#gt;").replace("\n", "<br/>"))


def render_mermaid(graph: Graph, rankdir: str = "TB", depth: int | None = None,
                   theme: str = "default", blobs: bool = False, **_options) -> str:
    view = build_view(graph, depth, blobs)
    ids = {b.id: f"b{i}" for i, b in enumerate(view.boxes)}
    out = [f"flowchart {DIRECTIONS.get(rankdir, 'TB')}"]
    classes: dict[str, str] = {}

    def emit(c: Cluster, indent: str) -> None:
        for box in c.boxes:
            key = box.kind if box.kind != "node" else box.node.op
            st = style_for(key, theme)
            cls = "c_" + "".join(ch if ch.isalnum() else "_" for ch in
                                 (box.kind if box.kind != "node" else st.fill))
            classes[cls] = f"fill:{st.fill},stroke:{st.border},color:{st.font}"
            text = mermaid_text("\n".join(box_lines(box)))
            shape = ('(["', '"])') if box.kind in ("input", "output") else ('{{"', '"}}') \
                if box.kind == "blob" else (
                ('[["', '"]]') if box.kind == "group" else ('["', '"]'))
            out.append(f"{indent}{ids[box.id]}{shape[0]}{text}{shape[1]}:::{cls}")
        for i, child in enumerate(c.children):
            sid = "s_" + ids.get(f"g:{child.namespace}", f"{len(out)}_{i}")
            out.append(f'{indent}subgraph {sid}["{mermaid_text(child.label)}"]')
            emit(child, indent + "  ")
            out.append(f"{indent}end")

    emit(view.root, "  ")
    for e in view.edges:
        out.append(f'  {ids[e.src]} -->|"{mermaid_text(edge_label(e.value))}"| {ids[e.dst]}')
    for cls, css in sorted(classes.items()):
        out.append(f"  classDef {cls} {css}")
    return "\n".join(out) + "\n"
