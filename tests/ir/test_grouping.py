"""Crowded levels: more than MAX_SIBLINGS children are drawn as ranges of RANGE_SIZE that
expand like namespaces, in every renderer (ir.grouping.display_namespaces)."""
import pytest

import graphscope
from graphscope.ir.grouping import MAX_SIBLINGS, build_view, display_namespaces
from graphscope.renderers.html import auto_depth, graph_data
from tests.zoo import onnx_models


@pytest.fixture(scope="module")
def blocks():
    return graphscope.load(onnx_models.flat_blocks(20_000))


def test_twenty_thousand_blocks_open_as_two_hundred_ranges(blocks):
    shown = display_namespaces(blocks)
    assert len(shown) == len(blocks.nodes) == 40_000
    assert shown[id(blocks.node("/block0/MatMul"))] == "block[0-99]/block0"
    assert shown[id(blocks.node("/block12345/Relu"))] == "block[12300-12399]/block12345"
    view = build_view(blocks, depth=0)
    groups = [b for b in view.boxes if b.kind == "group"]
    assert len(groups) == 200 and len(view.boxes) <= MAX_SIBLINGS
    assert sorted(len(g.members) for g in groups) == [200] * 200  # 100 blocks of 2 nodes
    one = build_view(blocks, depth=1)  # a range expanded shows its blocks, and so on
    assert len([b for b in one.boxes if b.kind == "group"]) == 20_000


def test_a_level_under_the_limit_is_left_alone():
    g = graphscope.load(onnx_models.flat_blocks(MAX_SIBLINGS // 2 - 1))  # 2 children each
    assert display_namespaces(g) == {}
    assert {b.cluster for b in build_view(g, depth=None).boxes if b.kind == "node"} == \
        {n.namespace for n in g.nodes}


def test_ranges_of_bare_nodes_and_huge_levels():
    from graphscope.ir import Graph
    g = Graph("flat")
    x = g.add_input("x")
    for i in range(50_000):  # nodes without namespaces: ranges of ranges would be too deep,
        x = g.add_node("Relu", [x.name], [f"r{i}"], name=f"relu{i}").outputs[0]  # so wider
    g.add_output(x.name)
    shown = display_namespaces(g)
    assert shown[id(g.node("relu0"))] == "[0-999]"
    assert len(set(shown.values())) == 50  # 50,000 / 100 > 300, so ranges of 1,000


def test_html_first_view_and_dot_depth_use_the_ranges(blocks):
    assert auto_depth(blocks) == 0
    data = graph_data(blocks)
    spaces = {ns for ns, _ in data["namespaces"]}
    assert "block[100-199]" in spaces and "block[100-199]/block150" in spaces
    dot = graphscope.load(onnx_models.flat_blocks(1000)).render("dot", depth=0)
    assert dot.count('id="g:block[') == 10
