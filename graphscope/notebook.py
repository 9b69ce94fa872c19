"""Jupyter display: a Graph shows itself as the interactive viewer (in an iframe, so that its
script and style cannot touch the notebook's) or, where HTML is not shown, as static SVG."""
from __future__ import annotations

import html

from .errors import MissingDependencyError
from .ir.graph import Graph

HEIGHT = "600px"


def repr_html(graph: Graph, height: str = HEIGHT, **options) -> str:
    """An <iframe srcdoc> holding the whole viewer page; works offline, needs no extension."""
    from .renderers.html import render_html
    page = render_html(graph, **options)
    return (f'<iframe srcdoc="{html.escape(page, quote=True)}" '
            f'style="width:100%;height:{html.escape(height)};border:1px solid #ddd" '
            f'sandbox="allow-scripts allow-downloads" loading="lazy" '
            f'title="{html.escape(graph.name)}"></iframe>')


def repr_svg(graph: Graph, **options) -> str | None:
    """Static SVG with tooltips at a readable depth; None (Jupyter then skips it) without dot."""
    from .renderers.html import auto_depth
    from .renderers.image import render_svg
    options.setdefault("depth", auto_depth(graph))
    try:
        return render_svg(graph, **options)
    except MissingDependencyError:
        return None
