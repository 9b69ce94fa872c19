"""SVG, PNG and PDF through Graphviz's `dot`, from the DOT renderer's source."""
from __future__ import annotations

import html
import os
import re
import shutil
import subprocess

from ..errors import GraphscopeError, MissingDependencyError
from ..ir.graph import Graph
from ..ir.grouping import boundaries, build_view
from .dot import render_dot
from .labels import box_tooltip

INSTALL_HINT = ("Graphviz's 'dot' was not found on PATH; install it with "
                "'apt-get install graphviz' (Debian/Ubuntu) or 'brew install graphviz' (macOS). "
                "DOT, JSON and Mermaid output work without it.")


def dot_binary() -> str:
    exe = shutil.which("dot")
    if exe is None:
        raise MissingDependencyError(INSTALL_HINT)
    return exe


def run_dot(source: str, fmt: str) -> bytes:
    env = dict(os.environ, SOURCE_DATE_EPOCH="0")  # no timestamps in PDF output
    proc = subprocess.run([dot_binary(), f"-T{fmt}"], input=source.encode("utf-8"),
                          capture_output=True, env=env)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GraphscopeError(f"graphviz dot -T{fmt} failed: {err[-1] if err else 'no message'}")
    return proc.stdout


_NODE_TITLE = re.compile(r'(<g id="[^"]*" class="node">\s*<title>)b(\d+)(</title>)')


def render_svg(graph: Graph, depth: int | None = None, blobs: bool = False, **options) -> str:
    view = build_view(graph, depth, blobs)
    svg = run_dot(render_dot(graph, depth=depth, view=view, blobs=blobs, **options),
                  "svg").decode("utf-8")
    bounds = boundaries(view)
    # Graphviz puts the DOT node id in <title>; put the full tooltip there instead, so that
    # every SVG viewer shows it on hover (xlink:title already carries it for links).
    tips = [html.escape(box_tooltip(b, *bounds[b.id]), quote=False) for b in view.boxes]
    return _NODE_TITLE.sub(lambda m: m.group(1) + tips[int(m.group(2))] + m.group(3), svg)


def render_png(graph: Graph, **options) -> bytes:
    return run_dot(render_dot(graph, **options), "png")


_PDF_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:(\d{14})")


def render_pdf(graph: Graph, **options) -> bytes:
    pdf = run_dot(render_dot(graph, **options), "pdf")
    # cairo stamps the time of day; a fixed stamp of the same length keeps the xref offsets
    # valid and makes the output deterministic
    return _PDF_DATE.sub(lambda m: b"/" + m.group(1) + b" (D:19700101000000", pdf)
