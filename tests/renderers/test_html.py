"""The HTML viewer's file: self-contained, escaped, deterministic, linear in size; embedding."""
import html as htmllib
import json
import re

import onnx
import pytest

import graphscope
from graphscope.ir.grouping import build_view
from graphscope.renderers.html import auto_depth, graph_data, script_json
from tests.conftest import needs_dot, run_cli
from tests.zoo import html_models, onnx_models


@pytest.fixture(scope="module")
def resnet():
    return graphscope.load(onnx_models.small_resnet())


def page_data(text: str) -> dict:
    m = re.search(r'<script type="application/json" class="gs-data">(.*?)</script>', text, re.S)
    return json.loads(m.group(1))


def test_page_is_self_contained(resnet):
    text = resnet.render("html")
    assert text.startswith("<!DOCTYPE html>")
    # nothing is fetched: no external src/href, no stylesheet links, a CSP that allows none
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', text)
    assert "<link" not in text and "@import" not in text and "url(http" not in text
    assert "default-src 'none'" in text
    assert text.count("<script") == 2


def test_data_matches_the_view(resnet):
    data = page_data(resnet.render("html"))
    view = build_view(resnet, None)
    assert len(data["nodes"]) == len(resnet.nodes)
    assert len(data["boxes"]) == len(view.boxes) and len(data["edges"]) == len(view.edges)
    conv = data["nodes"][0]
    node = resnet.nodes[0]
    assert conv[:2] == [node.name, "Conv"] and conv[9:12] == [
        node.meta["params"], node.meta["macs"], node.meta["activation_bytes"]]
    assert data["namespaces"][conv[4]][0] == "stem/conv"
    out = data["values"][conv[8][0]]
    assert out[2] == node.outputs[0].type.shape_str() == "Nx16x32x32"
    w = data["values"][conv[7][1]]  # weight stats computed at export time
    arr = node.inputs[1].data.array
    assert w[3] == pytest.approx([arr.min(), arr.max(), arr.mean()], rel=1e-5)
    assert data["depth"] == auto_depth(resnet) == 1
    assert data["palette"]["layer"][0] == "#3b6ea8"  # the static renderers' theme


def test_no_weight_stats_without_weights(resnet):
    data = graph_data(resnet, weight_stats=False)
    assert all(v[3] in (0, 1) for v in data["values"])


def test_probe_statistics(resnet):
    result = graphscope.probe(resnet, layers="*conv1*")
    data = graph_data(resnet, probes=result)
    by_name = {v[0]: v[4] for v in data["values"]}
    assert result.layers and all(by_name[p.name] == p.stats for p in result.layers)
    assert sum(1 for v in data["values"] if v[4]) == len(result.layers)


def test_hostile_text_is_escaped():
    graph = graphscope.load(html_models.hostile())
    text = graph.render("html")
    assert "<img" not in text
    assert text.count("<script") == 2 and text.count("</script>") == 2
    assert htmllib.escape(graph.name) in text  # the <title>
    data = page_data(text)
    assert data["nodes"][0][0] == html_models.IMG
    assert data["nodes"][0][12] == html_models.SCRIPT + html_models.IMG
    assert script_json("\u2028</script>&") == '"\\u2028\\u003c/script\\u003e\\u0026"'


def test_deterministic_and_rankdir(resnet):
    assert resnet.render("html") == resnet.render("html")
    assert page_data(resnet.render("html", rankdir="LR"))["rankdir"] == "LR"
    with pytest.raises(graphscope.errors.UsageError):
        resnet.render("html", rankdir="XY")


def test_size_grows_linearly():
    sizes = {}
    for n in (500, 1000, 2000):
        graph = graphscope.load(onnx_models.chain(n))
        sizes[len(graph.nodes)] = len(graph.render("html").encode())
    (n1, s1), (n2, s2), (n3, s3) = sorted(sizes.items())
    per_node_a, per_node_b = (s2 - s1) / (n2 - n1), (s3 - s2) / (n3 - n2)
    assert per_node_b == pytest.approx(per_node_a, rel=0.05)
    assert 100 < per_node_a < 400  # bytes per node
    assert 0 < s1 - per_node_a * n1 < 100_000  # the viewer itself


def test_auto_depth():
    assert auto_depth(graphscope.load(onnx_models.lenet())) is None  # small and flat
    assert auto_depth(graphscope.load(onnx_models.chain(3000))) == 0


def test_cli_writes_page_and_fragment(tmp_path):
    onnx.save(onnx_models.small_resnet(), tmp_path / "r.onnx")
    r = run_cli("render", tmp_path / "r.onnx", "-o", tmp_path / "r.html", "--rankdir", "LR",
                "--depth", "0")
    assert r.returncode == 0, r.stderr
    data = page_data((tmp_path / "r.html").read_text())
    assert data["rankdir"] == "LR" and data["depth"] == 0
    r = run_cli("render", tmp_path / "r.onnx", "-o", tmp_path / "frag.html", "--embed")
    assert r.returncode == 0, r.stderr
    frag = (tmp_path / "frag.html").read_text()
    assert frag.startswith('<div class="gs-root') and "<html" not in frag and "<body" not in frag


def test_notebook_reprs(resnet):
    page = resnet._repr_html_()
    m = re.fullmatch(r'<iframe srcdoc="([^"]*)".*</iframe>', page, re.S)
    assert m and htmllib.unescape(m.group(1)) == resnet.render("html")


@needs_dot
def test_notebook_svg(resnet):
    svg = resnet._repr_svg_()
    assert svg.lstrip().startswith("<?xml") or "<svg" in svg[:400]
    assert "layer2/0" in svg  # collapsed to the same readable depth as the viewer


def test_sphinx_render_for_docs(tmp_path):
    from graphscope.sphinx import render_for_docs
    onnx.save(onnx_models.small_resnet(), tmp_path / "r.onnx")
    frag = render_for_docs(tmp_path / "r.onnx", height="400px", depth=0)
    assert frag.startswith('<div class="gs-root') and "height:400px" in frag
    mer = render_for_docs(tmp_path / "r.onnx", format="mermaid")
    assert mer.startswith('<pre class="mermaid">') and "--&gt;" in mer
    with pytest.raises(graphscope.errors.UsageError):
        render_for_docs(tmp_path / "r.onnx", format="pdf")


def test_sphinx_build(tmp_path):
    pytest.importorskip("sphinx")
    from sphinx.application import Sphinx
    src = tmp_path / "src"
    src.mkdir()
    onnx.save(onnx_models.small_resnet(), src / "r.onnx")
    (src / "conf.py").write_text('extensions = ["graphscope.sphinx"]\n')
    (src / "index.rst").write_text("Model\n=====\n\n.. graphscope:: r.onnx\n   :rankdir: LR\n"
                                   "   :height: 300px\n\n.. graphscope:: r.onnx\n"
                                   "   :format: mermaid\n")
    app = Sphinx(str(src), str(src), str(tmp_path / "out"), str(tmp_path / "doctree"), "html",
                 status=None, warning=None, freshenv=True)
    app.build()
    out = (tmp_path / "out" / "index.html").read_text()
    assert out.count('class="gs-root') == 1 and "height:300px" in out
    assert page_data(out)["rankdir"] == "LR"
    assert '<pre class="mermaid">' in out
