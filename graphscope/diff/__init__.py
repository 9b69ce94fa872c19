"""Model diff: which nodes of two models are the same node, and what changed between them.

``diff(a, b)`` loads both sides (any format graphscope reads, or live models), matches their
nodes (match.py), compares each match (compare.py) and returns a DiffResult: its
``to_dict()`` is the JSON document of ``graphscope diff --json``, ``text()`` the summary
printed on stdout (text.py) and ``render_html(path)`` the side-by-side report (report.py).
"""
from __future__ import annotations

from .result import DiffResult, diff

__all__ = ["diff", "DiffResult"]
