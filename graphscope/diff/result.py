"""diff(): load, match, compare; DiffResult holds the outcome."""
from __future__ import annotations

from typing import Any

from ..ir.graph import Graph
from .compare import RTOL, compare
from .match import match

# `graphscope diff --exit-code`: 0 same, this when the models differ. Not 1 (an internal
# fault) nor 2 (bad input): a script must tell "they differ" from "the diff failed".
EXIT_DIFFERENT = 3


def _load(source, options: dict | None) -> Graph:
    if isinstance(source, Graph):
        return source
    from .. import load
    return load(source, **(options or {}))


def _side(g: Graph, source) -> dict[str, Any]:
    t = g.totals()
    path = source if isinstance(source, str) else getattr(source, "__fspath__", lambda: None)()
    return {"name": g.name, "format": g.metadata.get("format"),
            "path": None if path is None else str(path), "nodes": len(g.nodes),
            "params": t.get("params"), "macs": t.get("macs")}


class DiffResult:
    """Pairs with their changes, nodes only in A or B, and a summary (see README: JSON)."""

    def __init__(self, a: Graph, b: Graph, matches, pairs: list[dict], weights: bool,
                 source_a=None, source_b=None):
        self.a, self.b, self.matches, self.pairs, self.weights = a, b, matches, pairs, weights
        matched_a = {n.name for m in matches for n in m.a}
        matched_b = {n.name for m in matches for n in m.b}
        self.only_a = [n.name for n in a.nodes if n.name not in matched_a]
        self.only_b = [n.name for n in b.nodes if n.name not in matched_b]
        self.side_a, self.side_b = _side(a, source_a), _side(b, source_b)

    @property
    def summary(self) -> dict[str, int]:
        count = {"same": 0, "changed": 0, "shapes": 0}
        for p in self.pairs:
            count[p["status"]] += 1
        return {**count, "only_a": len(self.only_a), "only_b": len(self.only_b),
                "pairs": len(self.pairs), "groups": sum(len(p["a"]) != 1 or len(p["b"]) != 1
                                                        for p in self.pairs)}

    @property
    def identical(self) -> bool:
        s = self.summary
        return s["changed"] == s["shapes"] == s["only_a"] == s["only_b"] == 0

    def pair_of(self, name: str, side: str = "a") -> dict | None:
        """The pairs entry holding node ``name`` of side "a" or "b"."""
        for p in self.pairs:
            if name in p[side]:
                return p
        return None

    def weighted_match_ratio(self, side: str = "a") -> float:
        """The fraction of that side's nodes with weights that are matched."""
        from .match import weight_inputs
        g = self.a if side == "a" else self.b
        only = set(self.only_a if side == "a" else self.only_b)
        weighted = [n for n in g.nodes if weight_inputs(n)]
        if not weighted:
            return 1.0
        return sum(n.name not in only for n in weighted) / len(weighted)

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "a": self.side_a, "b": self.side_b, "weights": self.weights,
                "pairs": self.pairs, "only_a": self.only_a, "only_b": self.only_b,
                "summary": self.summary}

    def to_json(self) -> str:
        import json
        return json.dumps(self.to_dict(), indent=1, sort_keys=False, allow_nan=False,
                          default=str)

    def text(self, limit: int = 40) -> str:
        from .text import summary_text
        return summary_text(self, limit)

    def render_html(self, path=None, **options):
        """The side-by-side report; written to ``path`` when given, else returned."""
        from .report import render_report
        return render_report(self, path, **options)


def diff(a, b, weights: bool = False, rtol: float = RTOL, load_a: dict | None = None,
         load_b: dict | None = None, **load_options) -> DiffResult:
    """Diff two models: paths, live models or Graphs, in any two formats graphscope reads.
    ``load_options`` go to both loads, ``load_a``/``load_b`` to one side each (for example
    ``load_a={"example_inputs": (x,)}``). ``weights=True`` compares matched weight tensors
    (max absolute and relative difference; equal within ``rtol`` of the tensor's max)."""
    ga = _load(a, {**load_options, **(load_a or {})})
    gb = _load(b, {**load_options, **(load_b or {})})
    matches = match(ga, gb)
    pairs = [compare(m, weights=weights, rtol=rtol) for m in matches]
    return DiffResult(ga, gb, matches, pairs, weights, a, b)
