"""The ONNX adapter: external data left unread, opset-aware attributes, subgraphs, namespaces."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphscope
from graphscope.errors import GraphError, ParseError
from tests.zoo import onnx_models


def test_external_data_is_not_read_to_draw_or_count(tmp_path):
    model = onnx_models.lenet()
    original = numpy_helper.to_array(
        next(t for t in model.graph.initializer if t.name == "conv1.weight"))
    path = tmp_path / "lenet.onnx"
    onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
              location="lenet.weights", size_threshold=0)
    data_file = tmp_path / "lenet.weights"
    assert data_file.stat().st_size > 400_000
    graph = graphscope.load(path)
    assert graph.totals()["params"] == 431_080
    assert not any(v.data.loaded for v in graph.weights.values())
    graph.render("dot")
    assert not any(v.data.loaded for v in graph.weights.values())
    # asked for, the data is there and equals the original initializer
    w = graph.weights["conv1.weight"].data.array
    np.testing.assert_array_equal(w, original)


def test_external_data_file_missing_still_draws(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(onnx_models.lenet(), str(path), save_as_external_data=True, location="w.bin",
              size_threshold=0)
    (tmp_path / "w.bin").unlink()
    graph = graphscope.load(path)
    assert graph.node("ip1").meta["params"] == 800 * 500 + 500


@pytest.mark.parametrize("opset", [11, 13])
def test_squeeze_axes_attribute_or_input_by_opset(opset):
    """Opset 11 gives Squeeze/Unsqueeze axes as attributes; 13 moved them to inputs."""
    b = onnx_models.Builder("sq", opset=opset)
    x = b.input("x", [2, 1, 5, 1])
    if opset < 13:
        y = b.op("Squeeze", [x], axes=[1, 3])
        z = b.op("Unsqueeze", [y], axes=[0])
    else:
        y = b.op("Squeeze", [x, b.const("a", [1, 3])])
        z = b.op("Unsqueeze", [y, b.const("b", [0])])
    b.nodes[-1].output[0] = "z"
    b.output("z", 3)
    graph = graphscope.load(b.model())
    assert graph.metadata["opset"] == opset
    assert graph.outputs[0].type.shape == (1, 2, 5)


def test_namespaces_from_exporter_node_names():
    graph = graphscope.load(onnx_models.small_resnet())
    assert graph.node("/layer2/0/conv1/Conv").namespace == "layer2/0/conv1"
    assert graph.node("/head/fc/Gemm").namespace == "head/fc"
    assert {n.namespace.split("/")[0] for n in graph.nodes} == {"stem", "layer1", "layer2",
                                                                "layer3", "head"}


def test_constant_nodes_become_non_parameter_weights():
    b = onnx_models.Builder("c")
    x = b.input("x", [1, 4])
    b.nodes.append(helper.make_node("Constant", [], ["k"], name="k",
                                    value=numpy_helper.from_array(np.ones((4, 4), np.float32))))
    b.op("MatMul", [x, "k"], outputs=["y"])
    b.output("y", 2)
    graph = graphscope.load(b.model())
    assert [n.op for n in graph.nodes] == ["MatMul"]
    assert graph.totals()["params"] == 0
    assert graph.outputs[0].type.shape == (1, 4)


def test_custom_domain_op_is_kept_and_drawn():
    b = onnx_models.Builder("custom")
    x = b.input("x", [1, 4])
    b.nodes.append(helper.make_node("FancyOp", [x], ["y"], name="fancy", domain="com.example",
                                    alpha=0.5))
    b.output("y", 2)
    m = b.model(check=False)
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    graph = graphscope.load(m)
    node = graph.node("fancy")
    assert node.op == "com.example.FancyOp" and node.attrs == {"alpha": 0.5}
    assert "com.example.FancyOp" in graph.render("dot")


def test_cycle_in_file_is_a_graph_error(tmp_path):
    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="n1"),
             helper.make_node("Relu", ["a"], ["b"], name="n2")]
    g = helper.make_graph(nodes, "cyc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1])])
    path = tmp_path / "cycle.onnx"
    onnx.save(helper.make_model(g), str(path))
    with pytest.raises(GraphError, match="cycle") as err:
        graphscope.load(path)
    assert err.value.file == str(path)


def test_random_bytes_are_a_parse_error(tmp_path):
    path = tmp_path / "noise.onnx"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises((ParseError, GraphError)):
        graphscope.load(path)
