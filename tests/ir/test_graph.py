"""Graph construction, validation errors, JSON round trips and networkx export."""
import json

import numpy as np
import pytest

import graphscope
from graphscope.errors import GraphError
from graphscope.ir import Graph, TensorType, WeightData
from tests.zoo import onnx_models


def tiny() -> Graph:
    g = Graph("tiny")
    g.add_input("x", TensorType("float32", (1, 3)))
    g.add_node("Relu", ["x"], ["a"], name="r1")
    g.add_node("Sigmoid", ["a"], ["b"], name="s1")
    g.add_output("b")
    return g


def test_validate_accepts_and_orders():
    g = tiny()
    g.nodes.reverse()
    g.validate()
    assert [n.name for n in g.nodes] == ["r1", "s1"]


def test_cycle_is_reported_with_a_node_name():
    g = Graph("cyclic")
    g.add_input("x")
    g.add_node("Add", ["x", "b"], ["a"], name="first")
    g.add_node("Relu", ["a"], ["b"], name="second")
    with pytest.raises(GraphError, match="cycle") as err:
        g.validate()
    assert err.value.node in ("first", "second")


def test_dangling_input_is_reported():
    g = Graph("dangling")
    g.add_input("x")
    g.add_node("Add", ["x", "ghost"], ["y"], name="adder")
    with pytest.raises(GraphError, match="'ghost' is not produced") as err:
        g.validate()
    assert err.value.node == "adder"


def test_duplicate_names_are_rejected():
    g = tiny()
    with pytest.raises(GraphError, match="duplicate node name"):
        g.add_node("Relu", ["x"], ["c"], name="r1")
    with pytest.raises(GraphError, match="already produced"):
        g.add_node("Relu", ["x"], ["a"], name="r2")


def graph_signature(g: Graph):
    """Everything that defines a graph, as comparable plain data."""
    return {
        "inputs": [(v.name, v.type) for v in g.inputs],
        "outputs": [(v.name, v.type) for v in g.outputs],
        "weights": sorted((n, v.data.shape, v.data.dtype) for n, v in g.weights.items()),
        "nodes": [(n.name, n.op, n.source_op, n.namespace,
                   [None if v is None else (v.name, v.type) for v in n.inputs],
                   [(v.name, v.type) for v in n.outputs],
                   json.dumps(graphscope.ir.serialize.encode_value(n.attrs), sort_keys=True),
                   n.meta.get("params"), n.meta.get("macs"),
                   {k: graph_signature(s) for k, s in n.subgraphs.items()})
                  for n in g.nodes],
    }


@pytest.mark.parametrize("name", list(onnx_models.ALL))
def test_onnx_to_ir_to_json_round_trip(name, tmp_path):
    g = graphscope.load(onnx_models.ALL[name]())
    text = g.to_json()
    back = Graph.from_json(text)
    assert graph_signature(back) == graph_signature(g)
    assert back.to_json() == text
    # and through a file, as `render --format json` then `graphscope info x.json` would
    path = tmp_path / "g.json"
    path.write_text(text)
    again = graphscope.load(path)
    assert graph_signature(again) == graph_signature(g)


def test_from_json_rejects_other_documents():
    with pytest.raises(graphscope.ParseError, match="not a graphscope IR"):
        Graph.from_json('{"hello": 1}')
    with pytest.raises(graphscope.ParseError, match="line 1"):
        Graph.from_json('{"format": ')


def test_to_networkx_mirrors_nodes_and_edges():
    g = graphscope.load(onnx_models.small_resnet())
    nx_g = g.to_networkx()
    assert nx_g.number_of_nodes() == len(g.nodes)
    expected_edges = sum(1 for n in g.nodes for v in n.inputs
                         if v is not None and v.producer is not None)
    assert nx_g.number_of_edges() == expected_edges
    import networkx as nx
    assert nx.is_directed_acyclic_graph(nx_g)
    conv = nx_g.nodes["/stem/conv/Conv"]
    assert conv["op"] == "Conv" and conv["macs"] == g.node("/stem/conv/Conv").meta["macs"]


def test_weights_are_lazy():
    calls = []
    g = Graph("lazy")
    g.add_input("x", TensorType("float32", (1, 4)))
    g.add_weight("w", WeightData((4, 4), "float32", loader=lambda: calls.append(1)))
    g.add_node("MatMul", ["x", "w"], ["y"], name="mm")
    g.add_output("y")
    graphscope.ir.run_passes(g)
    assert g.node("mm").meta["params"] == 16 and calls == []


def test_a_window_larger_than_its_input_is_named_not_given_a_negative_size(tmp_path):
    """ONNX pooling and Caffe pooling alike: the shape stays unknown, a warning names the
    node, and conversion refuses the model (exit 2, nothing written)."""
    from tests.conftest import run_cli
    proto = tmp_path / "small.prototxt"
    proto.write_text('name: "n" input: "data" input_shape { dim: 1 dim: 3 dim: 4 dim: 4 }\n'
                     'layer { name: "p" type: "Pooling" bottom: "data" top: "p" '
                     'pooling_param { pool: AVE kernel_size: 7 } }\n'
                     'layer { name: "q" type: "Pooling" bottom: "data" top: "q" '
                     'pooling_param { pool: MAX kernel_size: 2 stride: 3 pad: 4 } }\n'
                     'layer { name: "r" type: "Pooling" bottom: "data" top: "r" '
                     'pooling_param { pool: MAX kernel_size: 9 pad: 1 } }\n')
    g = graphscope.load(proto)
    assert g.node("p").outputs[0].type.shape is None
    assert g.node("r").outputs[0].type.shape is None
    assert g.node("q").outputs[0].type.shape == (1, 3, 4, 4)  # padding makes it fit
    assert g.metadata["warnings"] == [
        "node 'p': a window of 7 does not fit the input's 4 (+ 0 padding)",
        "node 'r': a window of 9 does not fit the input's 4 (+ 2 padding)"]
    r = run_cli("convert", proto, "-o", tmp_path / "n.onnx")
    assert r.returncode == 2
    assert "node 'p': a window of 7 does not fit" in r.stderr
    assert not (tmp_path / "n.onnx").exists()


def test_random_feeds_are_arrays_also_for_scalar_inputs():
    from graphscope.runtime.inputs import make_feeds
    g = graphscope.load(onnx_models.if_model())
    feeds = make_feeds(g, "random")
    assert all(type(a) is np.ndarray for a in feeds.values())
    cond = next(v for v in g.inputs if v.type.dtype == "bool")
    assert feeds[cond.name].shape == () and feeds[cond.name].dtype == np.bool_
    report = graphscope.convert(g, to="onnx", verify=True).report  # onnxruntime takes it
    assert report.ok and report.layers
