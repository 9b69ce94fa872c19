"""Matching and comparison on ONNX and Caffe models built in code (tests/zoo/diff_models.py)."""
from __future__ import annotations

import json

import pytest

import graphscope
from graphscope.diff.match import data_inputs
from tests.zoo import diff_models as dm
from tests.zoo import onnx_models

SHAPE_KEYS = {"inputs", "outputs", "macs", "activation_bytes"}


@pytest.fixture(scope="module")
def resnet():
    return onnx_models.small_resnet()


def _shapes_by_name(g):
    return {n.name: ([v.type.shape for v in data_inputs(n)], [v.type.shape for v in n.outputs])
            for n in g.nodes}


def test_renamed_copy_matches_every_node_with_no_change(resnet):
    b = dm.renamed(resnet)
    r = graphscope.diff(resnet, b)
    n = len(resnet.graph.node)
    assert r.summary == {"same": n, "changed": 0, "shapes": 0, "only_a": 0, "only_b": 0,
                         "pairs": n, "groups": 0}
    # node i of A is node i of B: renamed() keeps the order and names B's nodes r_node<i>
    names_a = [x.name for x in resnet.graph.node]
    assert all(p["b"] == [f"r_node{names_a.index(p['a'][0])}"] for p in r.pairs)
    assert r.identical


def test_one_kernel_changed_is_the_only_change_and_downstream_shapes_are_marked(resnet):
    b = dm.kernel_changed(resnet, "/stem/conv/Conv", 5, 0)
    r = graphscope.diff(resnet, b)
    changed = [p for p in r.pairs if p["status"] == "changed"]
    assert [p["a"] for p in changed] == [["/stem/conv/Conv"]]
    c = changed[0]["changes"]
    assert c["attrs"]["kernel_shape"] == [[7, 7], [5, 5]]
    assert c["weight_shapes"][1][0] == [16, 3, 5, 5]
    assert c["outputs"] == [[["N", 16, 32, 32]], [["N", 16, 30, 30]]]
    # the shape-only pairs are exactly the nodes whose shapes differ, found independently
    sa, sb = _shapes_by_name(r.a), _shapes_by_name(r.b)
    expect = {name for name in sa if sa[name] != sb[name]} - {"/stem/conv/Conv"}
    shapes = {p["a"][0] for p in r.pairs if p["status"] == "shapes"}
    assert shapes == expect and len(expect) == 12
    for p in r.pairs:
        if p["status"] == "shapes":
            assert set(p["changes"]) <= SHAPE_KEYS
    assert r.summary["same"] == len(resnet.graph.node) - 13
    assert not r.only_a and not r.only_b


def test_kernel_change_found_when_every_name_differs_too(resnet):
    b = dm.renamed(dm.kernel_changed(resnet, "/stem/conv/Conv", 5, 0))
    r = graphscope.diff(resnet, b)
    assert [(p["a"], p["b"]) for p in r.pairs if p["status"] == "changed"] == \
        [(["/stem/conv/Conv"], ["r_node0"])]
    assert r.summary["shapes"] == 12 and not r.only_a and not r.only_b


@pytest.mark.parametrize("rename", [False, True])
def test_inserted_block_is_exactly_what_is_only_in_b(resnet, rename):
    after = "/layer1/0/relu_1/Relu"
    b = dm.block_inserted(resnet, after, 16)
    at = [x.name for x in b.graph.node].index(dm.BLOCK[0])
    expect = [f"r_node{at}", f"r_node{at + 1}"] if rename else list(dm.BLOCK)
    r = graphscope.diff(resnet, dm.renamed(b) if rename else b)
    assert r.only_b == expect
    assert r.only_a == []
    assert r.summary["pairs"] == len(resnet.graph.node)
    assert r.summary["changed"] == r.summary["shapes"] == 0


def test_json_document_has_the_documented_schema(resnet):
    r = graphscope.diff(resnet, dm.block_inserted(resnet, "/stem/pool/MaxPool", 16),
                        weights=True)
    doc = json.loads(r.to_json())
    assert set(doc) >= {"a", "b", "pairs", "only_a", "only_b", "summary"}
    assert set(doc["summary"]) >= {"same", "changed", "only_a", "only_b"}
    assert doc["a"]["format"] == "onnx" and doc["b"]["nodes"] == len(resnet.graph.node) + 2
    p = doc["pairs"][0]
    assert set(p) >= {"a", "b", "changes", "weights", "status", "match"}
    assert p["weights"]["/stem/conv/Conv.weight"]["equal"] is True
    assert p["weights"]["/stem/conv/Conv.weight"]["max_abs"] == 0.0


def test_weights_perturbed_layer_is_the_one_named(resnet):
    w = "/layer2/0/conv2/Conv.weight"
    r = graphscope.diff(resnet, dm.renamed(dm.perturbed(resnet, w, 1.01)), weights=True)
    changed = [p for p in r.pairs if p["status"] != "same"]
    assert [p["a"] for p in changed] == [["/layer2/0/conv2/Conv"]]
    entry = changed[0]["weights"][w]
    assert entry["equal"] is False
    assert entry["max_rel"] == pytest.approx(0.01, rel=1e-3)
    compared = [e for p in r.pairs for k, e in p["weights"].items()
                if k not in ("only_a", "only_b")]
    assert len(compared) == len(resnet.graph.initializer)  # every weight found its partner
    assert sum(not e["equal"] for e in compared) == 1


def test_caffe_net_against_its_converted_onnx(tmp_path):
    from tests.zoo.caffe_models import random_caffemodel
    proto = tmp_path / "net.prototxt"
    proto.write_text(dm.caffe_lowering_net())
    weights = tmp_path / "net.caffemodel"
    random_caffemodel(graphscope.load(str(proto)), str(weights))
    a = graphscope.load(str(proto), weights=str(weights))
    onnx_model = graphscope.convert(a, to="onnx")
    r = graphscope.diff(a, onnx_model, weights=True)
    assert r.weighted_match_ratio() == 1.0
    assert r.only_a == [] and r.only_b == []
    groups = {p["a"][0]: p["b"] for p in r.pairs if len(p["b"]) > 1}
    assert set(groups) == {"pw", "sum"}  # Power and coefficient Eltwise lower to 4 and 3 nodes
    assert all(name.startswith(f"{layer}/") for layer, names in groups.items() for name in names)
    assert len(r.b.nodes) == len(a.nodes) + sum(len(v) - 1 for v in groups.values())
    assert r.summary["changed"] == r.summary["shapes"] == 0
    # a perturbed layer in the ONNX file is the one named
    bad = dm.perturbed(onnx_model, "conv3:weight", 0.5)
    r = graphscope.diff(a, bad, weights=True)
    assert [p["a"] for p in r.pairs if p["status"] != "same"] == [["conv3"]]
    assert [p["a"] for p in r.pairs if p["changes"].get("weights")] == [["conv3"]]


def test_weights_without_data_are_unknown_not_equal(tmp_path):
    from tests.zoo.caffe_models import lenet
    proto = tmp_path / "lenet.prototxt"
    proto.write_text(lenet())
    r = graphscope.diff(str(proto), str(proto), weights=True)  # no caffemodel: no data
    entries = [e for p in r.pairs for e in p["weights"].values()]
    assert len(entries) == 8 and all(e["equal"] is None for e in entries)  # 4 layers: w, b
    assert r.summary["same"] == len(r.a.nodes) and r.identical
    assert "8 compared, 0 differ, 8 unknown (no weight data)" in r.text()


def test_removed_block_is_only_in_a_and_a_replaced_op_is_changed(resnet):
    b = dm.block_inserted(resnet, "/layer1/0/relu_1/Relu", 16)
    r = graphscope.diff(b, dm.renamed(resnet))
    assert r.only_a == list(dm.BLOCK) and r.only_b == []
    c = dm.copy(resnet)
    next(x for x in c.graph.node if x.name == "/layer2/0/relu/Relu").op_type = "Sigmoid"
    at = [x.name for x in c.graph.node].index("/layer2/0/relu/Relu")
    r = graphscope.diff(resnet, dm.renamed(c))
    changed = [(p["a"], p["b"], p["changes"]) for p in r.pairs if p["status"] != "same"]
    assert changed == [(["/layer2/0/relu/Relu"], [f"r_node{at}"], {"op": ["Relu", "Sigmoid"]})]
