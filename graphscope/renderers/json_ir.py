"""JSON output: the versioned IR document (readable back with graphscope.load)."""
from __future__ import annotations

from ..ir.graph import Graph
from ..ir.serialize import to_json


def render_json(graph: Graph, **_options) -> str:
    return to_json(graph)
