"""Model diff: which nodes of two models are the same node, and what changed between them.

``diff(a, b)`` loads both sides (any format graphscope reads, or live models), matches their
nodes (match.py), compares each match (compare.py) and returns a DiffResult (result.py): its
``to_dict()`` is the JSON document of ``graphscope diff --json``, ``text()`` the summary
printed on stdout (text.py) and ``render_html(path)`` the side-by-side report (report.py).
The CLI's options and command live in command.py.
"""
from __future__ import annotations

__all__ = ["diff", "DiffResult", "EXIT_DIFFERENT"]


def __getattr__(name):  # lazy: building the CLI's parser imports command.py, not numpy
    if name in __all__:
        from . import result
        return getattr(result, name)
    raise AttributeError(name)
