"""Renderers: functions from a Graph and options to text or bytes, looked up by format name.

``render(graph, "svg")`` returns the SVG text; ``render(graph, "out/model.svg")`` writes the file
(atomically, through fileio.write_atomic) and returns its path.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import UnsupportedError, UsageError
from ..fileio import write_atomic
from ..ir.graph import Graph

# format -> (module, function, file suffix, needs)
RENDERERS = {
    "dot": ("dot", "render_dot", ".dot", None),
    "svg": ("image", "render_svg", ".svg", "graphviz"),
    "png": ("image", "render_png", ".png", "graphviz"),
    "pdf": ("image", "render_pdf", ".pdf", "graphviz"),
    "mermaid": ("mermaid", "render_mermaid", ".mmd", None),
    "json": ("json_ir", "render_json", ".json", None),
    "html": ("html", "render_html", ".html", None),
}
SUFFIXES = {spec[2]: fmt for fmt, spec in RENDERERS.items()}
SUFFIXES.update({".gv": "dot", ".md": "mermaid", ".mermaid": "mermaid", ".htm": "html"})


def format_for_path(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(f"cannot tell the output format from '{path}' (suffix '{suffix}'); "
                         f"use --format {'|'.join(RENDERERS)}")
    return SUFFIXES[suffix]


def renderer(fmt: str):
    if fmt not in RENDERERS:
        raise UsageError(f"unknown output format '{fmt}' (known: {', '.join(RENDERERS)})")
    module, func, _, _ = RENDERERS[fmt]
    try:
        mod = importlib.import_module(f"{__name__}.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{module}":
            raise UnsupportedError(f"output format '{fmt}' is not yet available") from None
        raise
    return getattr(mod, func)


def render_to(graph: Graph, fmt: str, **options) -> str | bytes:
    return renderer(fmt)(graph, **options)


def render(graph: Graph, path_or_format: str | Path, format: str | None = None, **options):
    """Return the rendering for a format name, or write it to a path and return the Path."""
    target = str(path_or_format)
    if format is None and target in RENDERERS:
        return render_to(graph, target, **options)
    fmt = format or format_for_path(target)
    data = render_to(graph, fmt, **options)
    return write_atomic(target, data)
