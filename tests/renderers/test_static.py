"""DOT, SVG, PNG, PDF, Mermaid and JSON renderings: content, tooltips, escaping, determinism."""
import re
import xml.etree.ElementTree as ET

import pytest
from onnx import helper

import graphscope
from graphscope.ir.grouping import build_view
from tests.conftest import needs_dot
from tests.zoo import onnx_models

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
EVIL = '<img src=x onerror=alert(1)> & "q" \\N'


@pytest.fixture(scope="module")
def resnet():
    return graphscope.load(onnx_models.small_resnet())


def evil_graph():
    b = onnx_models.Builder("evil")
    x = b.input("x", [1, 4])
    b.nodes.append(helper.make_node("Relu", [x], ["y"], name=EVIL, doc_string=EVIL))
    b.output("y", 2)
    return graphscope.load(b.model())


def test_dot_has_one_node_per_layer_and_shape_labels(resnet):
    dot = resnet.render("dot")
    node_lines = [l for l in dot.splitlines() if re.match(r"\s+b\d+ \[id=", l)]
    assert len(node_lines) == len(resnet.nodes) + len(resnet.inputs) + len(resnet.outputs)
    assert 'label="Nx16x32x32"' in dot  # stem conv output, on its edge
    assert dot.count("subgraph \"cluster_") >= 4


@pytest.mark.parametrize("rankdir", ["LR", "RL", "TB", "BT"])
def test_rankdir(resnet, rankdir):
    assert f"rankdir={rankdir}" in resnet.render("dot", rankdir=rankdir)


def test_depth_collapses_namespaces(resnet):
    full = build_view(resnet)
    assert len([b for b in full.boxes if b.kind == "node"]) == len(resnet.nodes)
    d0 = build_view(resnet, depth=0)
    groups = {b.namespace: b for b in d0.boxes if b.kind == "group"}
    assert set(groups) == {"stem", "layer1", "layer2", "layer3", "head"}
    assert sum(len(g.members) for g in groups.values()) == len(resnet.nodes)
    assert groups["layer3"].params() == sum(n.meta["params"] for n in resnet.nodes
                                            if n.namespace.startswith("layer3/"))
    d1 = build_view(resnet, depth=1)
    assert {b.namespace for b in d1.boxes if b.kind == "group"} >= {"layer3/0", "layer3/1"}
    # edges between collapsed groups follow the data: stem -> layer1 -> layer2 -> ...
    pairs = {(e.src, e.dst) for e in d0.edges}
    assert ("g:stem", "g:layer1") in pairs and ("g:layer3", "g:head") in pairs
    assert not any(e.src == e.dst for e in d0.edges)


@needs_dot
def test_svg_tooltips_in_title_and_xlink_title(resnet):
    svg = resnet.render("svg")
    root = ET.fromstring(svg)
    groups = {g.get("id"): g for g in root.iter(f"{SVG}g") if g.get("class") == "node"}
    conv = groups["n:/layer2/0/conv2/Conv"]
    title = conv.find(f"{SVG}title").text
    link = conv.find(f".//{SVG}a").get(f"{XLINK}title")
    for text in (title, link):
        assert "Conv: /layer2/0/conv2/Conv" in text
        assert "group = 4" in text and "kernel_shape = [3, 3]" in text
        assert "params: 2,336" in text  # 32*(32/4)*3*3 + 32
        assert "MACs: 147,456" in text  # 32*8*8 outputs x (32/4)*3*3, per sample
        assert "Nx32x8x8" in text


@needs_dot
def test_user_strings_are_escaped_in_svg_and_mermaid():
    g = evil_graph()
    svg = g.render("svg")
    assert "<img" not in svg
    root = ET.fromstring(svg)  # well-formed XML despite the name
    texts = [t.text for t in root.iter(f"{SVG}title") if t.text and "onerror" in t.text]
    assert texts and EVIL in texts[0]
    mmd = g.render("mermaid")
    assert "<img" not in mmd and "#lt;img" in mmd
    dot = g.render("dot")
    assert '\\"q\\"' in dot and "\\\\N" in dot


@needs_dot
@pytest.mark.parametrize("fmt,magic", [("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_png_and_pdf(resnet, tmp_path, fmt, magic):
    path = resnet.render(tmp_path / f"m.{fmt}")
    assert path.read_bytes().startswith(magic)


@needs_dot
@pytest.mark.parametrize("fmt", ["dot", "svg", "json", "mermaid", "png", "pdf"])
def test_output_is_deterministic(tmp_path, fmt):
    a = graphscope.load(onnx_models.small_resnet()).render(tmp_path / f"a.{fmt if fmt != 'mermaid' else 'mmd'}")
    b = graphscope.load(onnx_models.small_resnet()).render(tmp_path / f"b.{fmt if fmt != 'mermaid' else 'mmd'}")
    assert a.read_bytes() == b.read_bytes()


def test_mermaid_structure(resnet):
    mmd = resnet.render("mermaid", rankdir="LR")
    lines = mmd.splitlines()
    assert lines[0] == "flowchart LR"
    edges = [l for l in lines if "-->" in l]
    assert len(edges) == len(build_view(resnet).edges)
    assert sum(1 for l in lines if l.strip().startswith("subgraph ")) == \
        sum(1 for l in lines if l.strip() == "end")


def test_blobs_draw_tensors_as_nodes():
    g = graphscope.load(onnx_models.lenet())
    view = build_view(g, blobs=True)
    blobs = [b for b in view.boxes if b.kind == "blob"]
    assert len(blobs) == len(g.nodes) - 1  # every node output but the graph output
    assert "octagon" in g.render("dot", blobs=True)


def test_collapsed_module_shows_its_class():
    torch = pytest.importorskip("torch")
    from tests.zoo import torch_models
    g = graphscope.load(torch_models.ResNet18(), example_inputs=(torch.randn(1, 3, 32, 32),))
    groups = [b for b in build_view(g, depth=1).boxes if b.kind == "group"]
    labels = {b.namespace: b.module_class for b in groups}
    assert labels["layer1/0"] == "BasicBlock"
    assert '0: BasicBlock' in g.render("dot", depth=1)
