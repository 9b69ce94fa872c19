"""The probe report: one offline HTML page with every probed layer's maps and statistics, the
first convolution's filters and every weight tensor's histogram."""
from __future__ import annotations

import html

import numpy as np

from ..imaging import data_uri, feature_grid, histogram_svg, normalize, tile, upscale
from ..ir.graph import Graph
from .probes import ProbeResult

CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:20px}h2{font-size:16px;margin:28px 0 6px}section{border-top:1px solid #ddd}
table{border-collapse:collapse;font-size:12px}td,th{padding:2px 8px;text-align:right}
th{text-align:left}.maps img{image-rendering:pixelated;max-width:100%;border:1px solid #ccc}
.err{color:#a00}.muted{color:#777}code{font-size:12px}"""


def first_conv_filters(graph: Graph) -> np.ndarray | None:
    """RGB pictures of the first convolution's filters (3-channel input), tiled."""
    for n in graph.nodes:
        if n.op == "Conv" and len(n.inputs) > 1 and n.inputs[1] is not None \
                and n.inputs[1].data is not None:
            w = np.asarray(n.inputs[1].data.array, dtype=np.float64)
            if w.ndim != 4:
                return None
            if w.shape[1] == 3:
                imgs = normalize(w.transpose(0, 2, 3, 1), axis=(1, 2, 3))
                return (tile(imgs, fill=1.0) * 255).astype(np.uint8)
            return feature_grid(w[:, :1].transpose(1, 0, 2, 3))
    return None


def _stats_row(stats: dict) -> str:
    keys = ("min", "max", "mean", "std", "zero_fraction", "dead_channels")
    return "".join(f"<td>{stats[k]:.4g}</td>" if k in stats else "<td></td>" for k in keys)


def render_probe_report(result: ProbeResult) -> str:
    g = result.graph
    e = html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>graphscope probe: "
             f"{e(g.name)}</title><style>{CSS}</style></head><body>",
             f"<h1>Activations of {e(g.name)}</h1>",
             f"<p class='muted'>input <code>{e(str(result.input.get('name')))}</code> "
             f"{e(str(result.input.get('shape')))} from {e(str(result.input.get('source')))}</p>"]
    for err in result.errors:
        parts.append(f"<p class='err'>{e(err)}</p>")
    from ..renderers.html import render_html
    parts.append("<h2>Graph</h2><p class='muted'>click a layer: the side panel shows its "
                 "activation statistics and feature maps</p>")
    maps = {p.name: data_uri(upscale(feature_grid(p.array))) for p in result.layers
            if p.array.dtype.kind == "f" and p.array.size}
    stats = {p.name: dict(p.stats, **({"maps": maps[p.name]} if p.name in maps else {}))
             for p in result.layers}
    parts.append(render_html(g, embed=True, height="520px", probes=stats))
    if result.top_k:
        rows = "".join(f"<tr><td>{c}</td><td>{s:.4f}</td></tr>" for c, s in result.top_k)
        parts.append(f"<h2>Top classes</h2><table><tr><th>class</th><th>score</th></tr>{rows}"
                     f"</table>")
    parts.append("<h2>Layers</h2><table><tr><th>layer</th><th>op</th><th>shape</th><th>min</th>"
                 "<th>max</th><th>mean</th><th>std</th><th>zeros</th><th>dead ch.</th></tr>")
    for p in result.layers:
        parts.append(f"<tr><th><a href='#{e(_anchor(p.name))}'>{e(p.node)}</a></th><td>{e(p.op)}"
                     f"</td><td>{'x'.join(map(str, p.shape))}</td>{_stats_row(p.stats)}</tr>")
    parts.append("</table>")
    for p in result.layers:
        img = ""
        if p.name in maps:
            img = f"<div class='maps'><img alt='feature maps' src='{maps[p.name]}'></div>"
        parts.append(f"<section id='{e(_anchor(p.name))}'><h2>{e(p.node)} <span class='muted'>"
                     f"{e(p.op)} → {e(p.name)} {'x'.join(map(str, p.shape))}</span></h2>{img}"
                     f"</section>")
    filters = first_conv_filters(g)
    if filters is not None:
        parts.append(f"<section><h2>First convolution's filters</h2><div class='maps'>"
                     f"<img alt='filters' src='{data_uri(upscale(filters, 160))}'></div></section>")
    weights = [(name, v) for name, v in sorted(g.weights.items())
               if v.data is not None and v.data.dtype.startswith("float") and v.data.size > 1
               and not v.meta.get("constant")]
    if weights:
        parts.append("<section><h2>Weights</h2><table>")
        for name, v in weights:
            a = np.asarray(v.data.array)
            parts.append(f"<tr><th>{e(name)}</th><td>{'x'.join(map(str, a.shape))}</td>"
                         f"<td>{histogram_svg(a)}</td></tr>")
        parts.append("</table></section>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _anchor(name: str) -> str:
    return "l-" + "".join(c if c.isalnum() else "-" for c in name)
