"""`graphscope convert --verify --report FILE`: one offline HTML page with the source graph and
the converted graph side by side, every layer coloured by its compared error, and the
layer-by-layer table. Clicking a row shows its layer in both graphs.

The graphs are graphscope's own SVG (renderers.image.render_svg, default theme), annotated
after rendering: the DOT renderer has no per-node style hook, so each node's <g> gets a state
class and a data-node attribute, and the page's CSS recolours the node by class (CSS rules
override Graphviz's fill/stroke presentation attributes).
"""
from __future__ import annotations

import html
import re

from ..errors import MissingDependencyError
from ..ir.graph import Graph
from ..ir.grouping import build_view
from .verify import LayerDiff, VerifyReport

MAX_SVG_NODES = 800  # above this, dot takes long and the picture is unreadable anyway

AGREE, DIVERGED, FIRST, NOT_COMPARED = "agree", "diverged", "first-divergence", "not-compared"
_RANK = {AGREE: 0, DIVERGED: 1, FIRST: 2}

CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fff}
header{padding:16px 24px 4px}h1{font-size:20px;margin:0 0 8px}
h2{font-size:15px;margin:0 0 4px}
.facts td{padding:1px 12px 1px 0;text-align:left}
.facts th{text-align:left;padding-right:12px;font-weight:600}
.verdict{font-weight:600;padding:6px 10px;border-radius:4px;display:inline-block}
.verdict.ok{background:#e3f3e4;color:#1b5e20}.verdict.fail{background:#fdecea;color:#8b1a1a}
.muted{color:#777}code{font-size:12px}
#graphs{position:sticky;top:0;z-index:1;background:#fff;display:grid;
grid-template-columns:1fr 1fr;gap:12px;padding:8px 24px;border-bottom:1px solid #ddd}
.scroll{height:52vh;overflow:auto;border:1px solid #ccc;border-radius:4px}
.skipped{padding:16px;color:#555}.legend span{margin-right:12px;font-size:12px}
.sw{display:inline-block;width:12px;height:12px;border:1px solid;vertical-align:-2px;
margin-right:4px;box-sizing:border-box}
.node.agree path,.node.agree polygon,.node.agree ellipse,.sw.agree{fill:#c8e6c9;stroke:#2e7d32;
background:#c8e6c9;border-color:#2e7d32}
.node.agree text{fill:#1b3d1f}
.node.diverged path,.node.diverged polygon,.node.diverged ellipse,.sw.diverged{fill:#f4a6a6;
stroke:#c62828;background:#f4a6a6;border-color:#c62828}
.node.diverged text{fill:#4a0d0d}
.node.first-divergence path,.node.first-divergence polygon,.node.first-divergence ellipse,
.sw.first-divergence{fill:#e53935;stroke:#5c0000;stroke-width:4px;background:#e53935;
border:3px solid #5c0000}
.node.first-divergence text{fill:#fff;font-weight:bold}
.node.not-compared path,.node.not-compared polygon,.node.not-compared ellipse,
.sw.not-compared{fill:#eeeeee;stroke:#9e9e9e;background:#eee;border-color:#9e9e9e}
.node.not-compared text{fill:#616161}
.node[data-node]{cursor:pointer}
.node.selected path,.node.selected polygon,.node.selected ellipse{stroke:#1565c0;
stroke-width:6px}
main{padding:8px 24px 40vh}table{border-collapse:collapse;font-size:12px}
td,th{padding:2px 10px;text-align:right}th{background:#f4f4f4}
td.name,td.op{text-align:left;font-family:ui-monospace,monospace}th.name{text-align:left}
tbody tr{cursor:pointer}tbody tr:hover{background:#f3f7fc}
tr.diverged{background:#fde2e2}tr.first-divergence{background:#f8b4b4;font-weight:bold}
tr.selected{outline:2px solid #1565c0}"""

# Rows and nodes share one selection: a row names the source node (data-node) and the target
# node that produced the same value (data-target); clicking a node selects its first row.
JS = """(function(){
const rows=[...document.querySelectorAll('#layers tbody tr')];
const panes={source:document.getElementById('source-pane'),
             target:document.getElementById('target-pane')};
function nodeIn(pane,name){
  if(!name)return null;
  for(const g of pane.querySelectorAll('g.node[data-node]'))if(g.dataset.node===name)return g;
  return null;}
function reveal(pane,el){
  const s=pane.querySelector('.scroll'),a=s.getBoundingClientRect(),b=el.getBoundingClientRect();
  s.scrollTop+=(b.top+b.height/2)-(a.top+a.height/2);
  s.scrollLeft+=(b.left+b.width/2)-(a.left+a.width/2);}
function select(row){
  for(const el of document.querySelectorAll('.selected'))el.classList.remove('selected');
  row.classList.add('selected');
  for(const [side,name] of [['source',row.dataset.node],['target',row.dataset.target]]){
    const g=nodeIn(panes[side],name);
    if(g){g.classList.add('selected');reveal(panes[side],g);}}}
for(const row of rows){
  row.addEventListener('click',()=>select(row));
  row.addEventListener('keydown',e=>{if(e.key==='Enter')select(row);});}
for(const side of ['source','target'])
  for(const g of panes[side].querySelectorAll('g.node[data-node]'))
    g.addEventListener('click',()=>{
      const key=side==='source'?'node':'target';
      const row=rows.find(r=>r.dataset[key]===g.dataset.node);
      if(row){select(row);row.scrollIntoView({block:'nearest'});}});
const first=document.getElementById('show-first');
if(first)first.addEventListener('click',e=>{e.preventDefault();
  const row=rows.find(r=>r.classList.contains('first-divergence'));if(row)select(row);});
window.graphscopeReport={select:n=>{const r=rows.find(r=>r.dataset.node===n);if(r)select(r);}};
})();"""

CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data:")


def _state(diffs: list[LayerDiff], first: LayerDiff | None) -> str:
    worst = AGREE
    for d in diffs:
        s = FIRST if d is first else AGREE if d.ok else DIVERGED
        worst = max(worst, s, key=_RANK.__getitem__)
    return worst


def node_states(graph: Graph, report: VerifyReport, by_value: bool = False) -> dict[str, str]:
    """State of every node of ``graph``: agree, diverged, first-divergence or not-compared.

    Source nodes are matched by LayerDiff.node; with ``by_value`` (the target graph, whose node
    names may differ) each LayerDiff.name is matched to the node that produces that value."""
    producer = {v.name: n.name for n in graph.nodes for v in n.outputs}
    diffs: dict[str, list[LayerDiff]] = {}
    for d in report.layers:
        name = producer.get(d.name) if by_value else d.node
        if name is not None:
            diffs.setdefault(name, []).append(d)
    first = report.first_divergence
    return {n.name: _state(diffs[n.name], first) if n.name in diffs else NOT_COMPARED
            for n in graph.nodes}


# render_svg keeps Graphviz's "<!-- bN -->" comment before each node's <g>; bN is the DOT
# name, i.e. the index of the box in build_view(graph). Matching on it rather than on the
# id attribute avoids reversing Graphviz's escaping of user names.
_NODE = re.compile(r'<!-- b(\d+) -->\s*<g id="([^"]*)" class="node">')
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def annotate_svg(svg: str, graph: Graph, states: dict[str, str], prefix: str) -> str:
    """Inline-ready SVG: no prolog, ids prefixed (two SVGs share one document), and each
    layer's node tagged with class="node <state>" and data-node="<node name>"."""
    boxes = build_view(graph).boxes
    svg = svg.replace('<g id="', f'<g id="{prefix}')

    def tag(m: re.Match) -> str:
        box = boxes[int(m.group(1))]
        if box.kind != "node":
            return f'<g id="{m.group(2)}" class="node io">'
        name = box.node.name
        return (f'<g id="{m.group(2)}" class="node {states.get(name, NOT_COMPARED)}" '
                f'data-node="{html.escape(name)}">')

    svg = _NODE.sub(tag, svg)
    return _COMMENT.sub("", svg[svg.index("<svg"):])


def _graph_pane(side: str, heading: str, graph: Graph, states: dict[str, str],
                svg: str | None, note: str) -> str:
    counts = {s: 0 for s in (AGREE, DIVERGED, FIRST, NOT_COMPARED)}
    for s in states.values():
        counts[s] += 1
    legend = "".join(f"<span><i class='sw {s}'></i>{s.replace('-', ' ')} {n}</span>"
                     for s, n in counts.items())
    body = svg if svg is not None else f"<p class='skipped'>{html.escape(note)}</p>"
    # a note beside a drawn graph goes below it, so that both panes' pictures line up
    extra = f"<div class='muted'>{html.escape(note)}</div>" if svg is not None and note else ""
    return (f"<section id='{side}-pane' class='pane' data-side='{side}'><h2>{heading}</h2>"
            f"<div class='legend'>{legend}</div><div class='scroll'>{body}</div>{extra}"
            f"</section>")


def _svg_or_reason(graph: Graph, max_nodes: int) -> tuple[str | None, str]:
    if len(graph.nodes) > max_nodes:
        return None, (f"not drawn: {len(graph.nodes)} nodes is more than {max_nodes}, and "
                      f"rendering would be slow; the table below lists every compared layer")
    from ..renderers.image import render_svg
    try:
        return render_svg(graph), ""
    except MissingDependencyError as exc:  # the table is still worth having without Graphviz
        return None, f"not drawn: {exc}"


def _fmt(x: float) -> str:
    return f"{x:.3e}"


def _describe(graph: Graph, fmt: str | None, path: str | None) -> str:
    e = html.escape
    fmt = fmt or graph.metadata.get("format") or "?"
    where = path or graph.metadata.get("file")
    s = f"<code>{e(graph.name)}</code> ({e(str(fmt))})"
    return s + (f" · <code>{e(str(where))}</code>" if where else "")


def report_html(source: Graph, target: Graph, report: VerifyReport, title: str | None = None,
                *, target_format: str | None = None, target_path: str | None = None,
                max_svg_nodes: int = MAX_SVG_NODES) -> str:
    """The conversion report as one self-contained HTML page (no network, everything inline).

    ``target`` is the converted model as a Graph: graphscope.load(onnx_model) for ONNX, or the
    source graph itself for PyTorch (the module is built node for node from it). Give
    ``target_format`` ('pytorch') and ``target_path`` where the target graph cannot tell them.
    """
    e = html.escape
    title = title or f"Conversion check: {source.name}"
    first = report.first_divergence
    # the verdict sentence is the last line of VerifyReport.table(), so the CLI's text and the
    # page's (with verify.HINTS' likely cause) can never disagree
    verdict = report.table().rstrip("\n").rsplit("\n", 1)[-1]
    show = " <a href='#' id='show-first'>show it in the graphs</a>" if first else ""

    facts = [("source", f"{_describe(source, None, None)}, run by {e(report.reference)}"),
             ("target", _describe(target, target_format, target_path)),
             ("tolerance", f"rtol {report.rtol:g}, atol {report.atol:g}"),
             ("compared", f"{len(report.layers)} values, {report.compared_outputs} of them "
                          f"model outputs")]
    if report.missing:
        facts.append(("not exposed by the target",
                      ", ".join(f"<code>{e(m)}</code>" for m in report.missing)))

    src_states = node_states(source, report)
    tgt_states = node_states(target, report, by_value=True)
    src_svg, src_note = _svg_or_reason(source, max_svg_nodes)
    if target is source:  # the same picture; render it once
        tgt_svg, tgt_note = src_svg, src_note
        if tgt_svg is not None:
            tgt_note = ("the converted module is built node for node from this graph; colours "
                        "are the values captured from it")
    else:
        tgt_svg, tgt_note = _svg_or_reason(target, max_svg_nodes)
    if src_svg is not None:
        src_svg = annotate_svg(src_svg, source, src_states, "s-")
    if tgt_svg is not None:
        tgt_svg = annotate_svg(tgt_svg, target, tgt_states, "t-")

    producer = {v.name: n.name for n in target.nodes for v in n.outputs}
    rows = []
    for d in report.layers:
        cls = FIRST if d is first else AGREE if d.ok else DIVERGED
        rows.append(f"<tr class='{cls}' tabindex='0' data-node='{e(d.node)}' "
                    f"data-target='{e(producer.get(d.name, ''))}' data-value='{e(d.name)}'>"
                    f"<td class='name' title='{e(d.name)}'>{e(d.node)}</td>"
                    f"<td class='op'>{e(d.op)}</td><td>{_fmt(d.max_abs)}</td>"
                    f"<td>{_fmt(d.max_rel)}</td><td>{'yes' if d.ok else 'NO'}</td></tr>")

    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">",
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>{e(title)}</h1><table class='facts'>",
        "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts),
        f"</table><p id='verdict' class='verdict {'fail' if first else 'ok'}'>{e(verdict)}"
        f"{show}</p></header>",
        "<div id='graphs'>",
        _graph_pane("source", f"source: {_describe(source, None, None)}", source, src_states,
                    src_svg, src_note),
        _graph_pane("target", f"converted: {_describe(target, target_format, target_path)}",
                    target, tgt_states, tgt_svg, tgt_note),
        "</div><main><h2>Layers, in the source's order</h2>",
        "<table id='layers'><thead><tr><th class='name'>layer</th><th class='name'>op</th>"
        "<th>max abs err</th>"
        "<th>max rel err</th><th>ok</th></tr></thead><tbody>",
        "".join(rows),
        f"</tbody></table></main><script>{JS}</script></body></html>\n",
    ]
    return "".join(parts)
