"""The dataset probe report: one offline HTML page with the graph viewer (selecting a layer
shows its dataset-level statistics), a table of every layer and, per layer, its histogram and
per-channel means and maxima."""
from __future__ import annotations

import html

import numpy as np

from .probe import DatasetProbe
from .stats import LayerStats, bin_bounds, bin_order

CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:20px}h2{font-size:16px;margin:24px 0 6px}section{border-top:1px solid #ddd}
table{border-collapse:collapse;font-size:12px}td,th{padding:2px 8px;text-align:right}
th{text-align:left}.err{color:#a00}.muted{color:#777}code{font-size:12px}
svg{vertical-align:middle;margin-right:12px}"""

SUMMARY = ("min", "max", "mean", "std", "zero_fraction", "dead_channels")


def viewer_stats(st: LayerStats) -> dict:
    """The flat statistics the graph viewer's side panel lists for a value."""
    d = st.to_dict(channels=False, histogram=False)
    flat = {k: v for k, v in d.items() if k != "percentiles"}
    flat.update(d.get("percentiles", {}))
    return flat


def histogram_svg(st: LayerStats, width: int = 320, height: int = 70) -> str:
    """The layer's histogram over its occupied bins, in value order (counts on a log scale;
    bin widths are not to scale: each occupied bin is one bar)."""
    order = [b for b in bin_order() if st.hist[b]]
    if not order:
        return ""
    counts = np.log1p(st.hist[order].astype(np.float64))
    w = width / len(order)
    lows, highs = bin_bounds()
    bars = "".join(f"<rect x='{i * w:.2f}' y='{height - h:.2f}' width='{max(w - 0.3, 0.3):.2f}' "
                   f"height='{h:.2f}' fill='#4878a8'><title>[{lows[b]:.4g}, {highs[b]:.4g}): "
                   f"{int(st.hist[b])}</title></rect>"
                   for i, (b, h) in enumerate(zip(order, counts / counts.max() * height)))
    return (f"<svg width='{width}' height='{height + 14}' role='img'><g>{bars}</g>"
            f"<text x='0' y='{height + 12}' font-size='10'>{lows[order[0]]:.3g}</text>"
            f"<text x='{width}' y='{height + 12}' font-size='10' text-anchor='end'>"
            f"{highs[order[-1]]:.3g}</text></svg>")


def channels_svg(st: LayerStats, width: int = 320, height: int = 70) -> str:
    """Per-channel maximum (light) and mean (dark); dead channels marked red at the base."""
    c = st.mean.shape[0]
    top = max(float(np.abs(st.max).max()), float(np.abs(st.mean).max()), 1e-12)
    w = width / c
    mid = height / 2
    parts = []
    for i in range(c):
        for value, colour in ((st.max[i], "#b8cce0"), (st.mean[i], "#28507a")):
            h = abs(value) / top * mid
            y = mid - h if value >= 0 else mid
            parts.append(f"<rect x='{i * w:.2f}' y='{y:.2f}' width='{max(w - 0.3, 0.3):.2f}' "
                         f"height='{h:.2f}' fill='{colour}'/>")
        if st.max[i] <= 0:
            parts.append(f"<rect x='{i * w:.2f}' y='{height - 3}' width='{max(w, 0.5):.2f}' "
                         f"height='3' fill='#c00'><title>channel {i}: dead</title></rect>")
    return f"<svg width='{width}' height='{height}' role='img'>{''.join(parts)}</svg>"


def render_dataset_report(result: DatasetProbe) -> str:
    from ..renderers.html import render_html
    e = html.escape
    g = result.graph
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>graphscope probe "
             f"--dataset: {e(g.name)}</title><style>{CSS}</style></head><body>",
             f"<h1>Activations of {e(g.name)} over {result.inputs} inputs</h1>",
             f"<p class='muted'>dataset <code>{e(result.dataset)}</code>, engine "
             f"{e(result.engine)}, batch {result.batch}</p>"]
    for err in result.errors:
        parts.append(f"<p class='err'>{e(err)}</p>")
    layers = [st for st in result.stats.layers.values() if st.count]  # holding values
    parts.append("<h2>Graph</h2><p class='muted'>click a layer: the side panel shows its "
                 "statistics over the dataset</p>")
    parts.append(render_html(g, embed=True, height="520px",
                             probes={st.name: viewer_stats(st) for st in layers}))
    parts.append("<h2>Layers</h2><table><tr><th>layer</th><th>op</th><th>shape</th>"
                 + "".join(f"<th>{k.replace('_', ' ')}</th>" for k in SUMMARY)
                 + "<th>p99.9</th><th>p99.99</th></tr>")
    docs = {}
    for st in layers:
        d = docs[st.name] = st.to_dict(channels=False, histogram=False)
        cells = "".join(f"<td>{d[k]:.4g}</td>" for k in SUMMARY)
        pct = d.get("percentiles", {})
        cells += "".join(f"<td>{pct[k]:.4g}</td>" if k in pct else "<td></td>"
                         for k in ("p99.9", "p99.99"))
        parts.append(f"<tr><th><a href='#{e(_anchor(st.name))}'>{e(st.node)}</a></th>"
                     f"<td>{e(st.op)}</td><td>{'x'.join(map(str, ('N', *st.shape)))}</td>"
                     f"{cells}</tr>")
    parts.append("</table>")
    for st in layers:
        d = docs[st.name]
        pct = ", ".join(f"{k} {v:.4g}" for k, v in d.get("percentiles", {}).items())
        parts.append(f"<section id='{e(_anchor(st.name))}'><h2>{e(st.node)} <span class='muted'>"
                     f"{e(st.op)} → {e(st.name)}</span></h2><p class='muted'>{d['count']:,} "
                     f"values; percentiles: {e(pct)}</p>{histogram_svg(st)}{channels_svg(st)}"
                     f"</section>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _anchor(name: str) -> str:
    return "l-" + "".join(c if c.isalnum() else "-" for c in name)
