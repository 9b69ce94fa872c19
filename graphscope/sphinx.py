"""Sphinx extension: ``.. graphscope:: path/to/model`` draws a model at build time.

In conf.py: ``extensions = ["graphscope.sphinx"]``. Options: ``:format:`` html (the
interactive viewer, default), svg (static, with tooltips) or mermaid; ``:rankdir:``,
``:depth:``, ``:height:`` (html only, e.g. 500px). The path is relative to the document.
"""
from __future__ import annotations

import html
from pathlib import Path

from .errors import UsageError

FORMATS = ("html", "svg", "mermaid")


def render_for_docs(model: str | Path, format: str = "html", rankdir: str = "TB",
                    depth: int | None = None, height: str = "600px", **load_options) -> str:
    """The raw HTML the directive puts in the page."""
    from . import load
    if format not in FORMATS:
        raise UsageError(f"graphscope directive: format must be one of {', '.join(FORMATS)}, "
                         f"not '{format}'")
    graph = load(str(model), **load_options)
    if format == "html":
        return graph.render("html", rankdir=rankdir, depth=depth, embed=True, height=height)
    if format == "svg":
        svg = graph.render("svg", rankdir=rankdir, depth=depth)
        start = svg.find("<svg")  # drop the XML prolog and doctype: inline SVG in HTML
        return f'<div class="graphscope-svg" style="overflow:auto">{svg[start:]}</div>'
    text = graph.render("mermaid", rankdir=rankdir, depth=depth)
    return f'<pre class="mermaid">{html.escape(text)}</pre>'


def setup(app):
    from docutils import nodes
    from docutils.parsers.rst import Directive, directives

    def fmt(arg):
        return directives.choice(arg, FORMATS)

    def rankdir(arg):
        value = (arg or "").strip().upper()
        if value not in ("TB", "BT", "LR", "RL"):
            raise ValueError(f"'{arg}' unknown; choose from TB, BT, LR or RL")
        return value

    class GraphscopeDirective(Directive):
        required_arguments = 1
        has_content = False
        option_spec = {"format": fmt, "rankdir": rankdir, "depth": directives.nonnegative_int,
                       "height": directives.unchanged}

        def run(self):
            env = self.state.document.settings.env
            rel, path = env.relfn2path(self.arguments[0], env.docname)
            env.note_dependency(rel)
            try:
                raw = render_for_docs(path, format=self.options.get("format", "html"),
                                      rankdir=self.options.get("rankdir", "TB"),
                                      depth=self.options.get("depth"),
                                      height=self.options.get("height", "600px"))
            except Exception as exc:  # a broken model is a build warning, not a crash
                return [self.state.document.reporter.warning(
                    f"graphscope: {path}: {exc}", line=self.lineno)]
            return [nodes.raw("", raw, format="html")]

    app.add_directive("graphscope", GraphscopeDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
