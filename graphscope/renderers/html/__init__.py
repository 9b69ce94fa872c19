"""The single-file interactive HTML viewer: one page, every script, style and the graph inlined.

The page gets a compact JSON of the graph's View at full depth (boxes, edges), the namespace
tree and per-node facts; the viewer (viewer.js) collapses namespaces the same way
ir.grouping does, lays out only what is visible in a Web Worker (layout.js: a compound layered
layout, one frame per expanded namespace) and draws it.
"""
from __future__ import annotations

import html
import json
import re
from functools import lru_cache
from pathlib import Path

from ...errors import GraphError, UsageError
from ...ir.graph import Graph, Value
from ...ir.grouping import build_view, collapsed_namespace, display_namespaces
from ...ir.ops import category
from ..labels import box_lines, fmt_value
from ..theme import style_for

HERE = Path(__file__).resolve().parent
RANKDIRS = ("TB", "BT", "LR", "RL")
KINDS = ("input", "output", "group", "cluster", "edge", "custom")
AUTO_DEPTH_BOXES = 30  # start at the deepest namespace depth that draws at most this many boxes


@lru_cache(maxsize=None)
def asset(name: str) -> str:
    return (HERE / name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def viewer_js() -> str:
    """viewer.js with the layout (layout.js, also the Web Worker's source) inlined."""
    return asset("viewer.js").replace("/* @layout.js */", asset("layout.js"), 1)


def script_json(obj) -> str:
    """JSON that is safe inside <script>: no '<', '>' or '&' can close or open a tag."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def auto_depth(graph: Graph, limit: int = AUTO_DEPTH_BOXES) -> int | None:
    """The deepest namespace depth whose collapsed view has at most ``limit`` boxes (at least
    depth 0); None (everything expanded) when that already fits."""
    shown = display_namespaces(graph)
    spaces = [shown.get(id(n), n.namespace) for n in graph.nodes]
    max_parts = max((len(ns.split("/")) for ns in spaces if ns), default=0)
    extra = len(graph.inputs) + len(graph.outputs)
    best = 0
    for depth in range(max_parts + 1):
        keys: dict[str, int] = {}
        for n, ns in zip(graph.nodes, spaces):
            key = collapsed_namespace(ns, depth) or "\0" + n.name
            keys[key] = keys.get(key, 0) + 1
        if len(keys) + extra > limit:
            break
        best = depth
    return None if best >= max_parts else best


def _weight_stats(v: Value):
    """[min, max, mean] of a weight tensor, or None when the model came without weight data."""
    try:
        arr = v.data.array
    except GraphError:
        return None
    if getattr(arr, "size", 0) == 0 or getattr(arr.dtype, "kind", "") not in "fiub":
        return None
    return [float(arr.min()), float(arr.max()), float(arr.mean(dtype="float64"))]


def probe_stats(probes) -> dict[str, dict]:
    """Activation statistics by value name, from a runtime.probes.ProbeResult or a mapping."""
    if probes is None:
        return {}
    if hasattr(probes, "layers"):
        return {p.name: p.stats for p in probes.layers}
    return dict(probes)


def graph_data(graph: Graph, rankdir: str = "TB", depth: int | None = None,
               theme: str = "default", weight_stats: bool = True, probes=None) -> dict:
    """The document the viewer reads. Lists are positional to keep it small:
    nodes: [name, op, source_op|0, category, namespace index, label lines, [[attr, text]...],
            [input value indices], [output value indices], params, macs, activation bytes,
            doc string]
    values: [name, dtype, shape, weight [min, max, mean] | 1 (weight, no data) | 0,
             activation statistics from probes (``probes=`` or value.meta["probe"]) | 0]
    boxes: [kind, node or value index]; edges: [src box, dst box, value index]
    namespaces: [path, parent index] (index 0 is the top level '')."""
    view = build_view(graph, None)
    activations = probe_stats(probes)
    values: list[list] = []
    value_index: dict[int, int] = {}

    def vidx(v: Value) -> int:
        i = value_index.get(id(v))
        if i is None:
            i = value_index[id(v)] = len(values)
            stats = 0
            if v.is_weight:
                stats = (_weight_stats(v) if weight_stats else None) or 1
            probe = activations.get(v.name) or v.meta.get("probe")
            values.append([v.name, v.type.dtype or "?", v.type.shape_str(), stats,
                           probe if isinstance(probe, dict) else 0])
        return i

    ns_index: dict[str, int] = {"": 0}
    namespaces: list[list] = [["", -1]]

    def nsidx(ns: str) -> int:
        i = ns_index.get(ns)
        if i is None:
            parent = nsidx(ns.rsplit("/", 1)[0] if "/" in ns else "")
            i = ns_index[ns] = len(namespaces)
            namespaces.append([ns, parent])
        return i

    categories: list[str] = []
    cat_index: dict[str, int] = {}
    nodes, node_index, boxes = [], {}, []
    for box in view.boxes:
        if box.kind in ("input", "output"):
            boxes.append([box.kind, vidx(box.value)])
            continue
        n = box.node
        cat = category(n.op)
        if cat not in cat_index:
            cat_index[cat] = len(categories)
            categories.append(cat)
        node_index[id(n)] = len(nodes)
        boxes.append(["node", len(nodes)])
        nodes.append([n.name, n.op, 0 if n.source_op == n.op else n.source_op, cat_index[cat],
                      nsidx(box.cluster), box_lines(box)[1:],
                      [[k, fmt_value(v)] for k, v in sorted(n.attrs.items())],
                      [-1 if v is None else vidx(v) for v in n.inputs],
                      [vidx(v) for v in n.outputs],
                      n.meta.get("params"), n.meta.get("macs"), n.meta.get("activation_bytes"),
                      str(n.meta.get("doc") or "")])
    box_pos = {b.id: i for i, b in enumerate(view.boxes)}
    edges = [[box_pos[e.src], box_pos[e.dst], vidx(e.value)] for e in view.edges]
    palette = {key: list(_style(key, theme)) for key in categories + list(KINDS)}
    return {"version": 1, "name": graph.name, "rankdir": rankdir,
            "depth": auto_depth(graph) if depth is None else depth,
            "categories": categories, "palette": palette, "nodes": nodes, "values": values,
            "boxes": boxes, "edges": edges, "namespaces": namespaces}


def _style(key: str, theme: str):
    st = style_for(key, theme)
    return st.fill, st.border, st.font, st.shape


def render_html(graph: Graph, rankdir: str = "TB", depth: int | None = None,
                theme: str = "default", embed: bool = False, height: str = "600px",
                weight_stats: bool = True, probes=None, **_options) -> str:
    """A self-contained HTML page (or, with ``embed``, a <div> fragment to paste into a page).
    ``depth`` None picks a readable starting depth; the user expands from there. ``probes``
    (graphscope.probe(...)'s result) adds activation statistics to the side panel."""
    if rankdir not in RANKDIRS:
        raise UsageError(f"--rankdir must be one of {', '.join(RANKDIRS)}, not '{rankdir}'")
    data = script_json(graph_data(graph, rankdir, depth, theme, weight_stats, probes))
    fragment = fill(asset("fragment.html"), height=html.escape(height if embed else "100%"),
                    css=asset("viewer.css"), data=data, js=viewer_js())
    if embed:
        return fragment
    return fill(asset("page.html"), title=html.escape(graph.name), fragment=fragment)


def fill(template: str, **parts: str) -> str:
    """Substitute {{key}} in one pass, so that text from the model is never re-scanned."""
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], template)
