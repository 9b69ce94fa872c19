"""The diff's HTML report: both graphs side by side in the viewer, coloured by status
(changed, shapes only, only in A, only in B), selection and pan/zoom kept in step between the
panes, and a table of changes whose rows select both nodes. One file, works offline."""
from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path

from ..renderers.html import fill, render_html, script_json
from .text import _change_line

HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def _own(name: str) -> str:
    return (HERE / name).read_text(encoding="utf-8")


def report_data(result) -> dict:
    """What report.js reads: each node's status and partners, and the table's rows."""
    status = {"a": {}, "b": {}}
    partner = {"a": {}, "b": {}}
    rows = []
    for p in result.pairs:
        for n in p["a"]:
            status["a"][n] = p["status"]
            partner["a"][n] = p["b"]
        for n in p["b"]:
            status["b"][n] = p["status"]
            partner["b"][n] = p["a"]
        if p["status"] != "same":
            rows.append([p["status"], p["a"], p["b"], _change_line(p)])
    for n in result.only_a:
        status["a"][n] = "only_a"
        rows.append(["only_a", [n], [], "only in A"])
    for n in result.only_b:
        status["b"][n] = "only_b"
        rows.append(["only_b", [], [n], "only in B"])
    return {"status": status, "partner": partner, "rows": rows, "summary": result.summary,
            "a": result.side_a, "b": result.side_b}


def _title(side: dict) -> str:
    return f"{side.get('path') or side.get('name')} ({side.get('format')}, {side['nodes']} nodes)"


def render_report(result, path=None, rankdir: str = "TB", depth: int | None = None) -> str:
    """The report's HTML; written (atomically) to ``path`` when given."""
    panes = [render_html(g, rankdir=rankdir, depth=depth, embed=True, height="100%")
             for g in (result.a, result.b)]
    s = result.summary
    summary = (f"{s['pairs']} matched ({s['groups']} groups): {s['same']} same, "
               f"{s['changed']} changed, {s['shapes']} shapes only, {s['only_a']} only in A, "
               f"{s['only_b']} only in B")
    page = fill(_own("report.html"), title=html.escape(f"{result.a.name} vs {result.b.name}"),
                css=_own("report.css"), title_a=html.escape("A: " + _title(result.side_a)),
                title_b=html.escape("B: " + _title(result.side_b)),
                summary=html.escape(summary), pane_a=panes[0], pane_b=panes[1],
                data=script_json(report_data(result)), js=_own("report.js"))
    if path is not None:
        from ..fileio import write_atomic
        write_atomic(path, page)
    return page


