"""Declared sizes are checked before anything is allocated, and hostile structures (cycles,
deep nesting) are clean errors: each case through the CLI, one line, exit 2."""
import onnx
import pytest
from onnx import TensorProto, helper

from graphscope.errors import GraphError
from graphscope.ir.graph import WeightData
from tests.conftest import run_cli


def _huge_tensor(name, dims):
    t = TensorProto()
    t.name, t.data_type = name, TensorProto.FLOAT
    t.dims.extend(dims)
    t.raw_data = bytes(16)  # 4 floats where 2^40 are declared
    return t


def _model(nodes, inits=()):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _one_error_line(proc):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("graphscope: error: "), proc.stderr
    return lines[0]


def test_weight_over_the_memory_limit_is_refused_before_its_loader_runs():
    calls = []
    w = WeightData((1 << 20, 1 << 20), "float32", loader=lambda: calls.append(1))
    with pytest.raises(GraphError, match=r"declares 4,398,046,511,104 bytes, over the memory"):
        w.array
    with pytest.raises(GraphError):
        w.read()
    assert calls == []


def test_constant_whose_dims_do_not_match_its_data(tmp_path):
    const = helper.make_node("Constant", [], ["c"], value=_huge_tensor("v", [1 << 20, 1 << 20]))
    p = tmp_path / "m.onnx"
    onnx.save(_model([const, helper.make_node("Add", ["x", "c"], ["y"])]), str(p))
    line = _one_error_line(run_cli("info", p))
    assert "tensor 'v': cannot read its data" in line and str(p) in line


def test_a_cycle_names_a_node_on_it(tmp_path):
    p = tmp_path / "cycle.onnx"
    onnx.save(_model([helper.make_node("Relu", ["b"], ["a"], name="A"),
                      helper.make_node("Relu", ["a"], ["b"], name="B"),
                      helper.make_node("Add", ["x", "a"], ["y"], name="C")]), str(p))
    line = _one_error_line(run_cli("info", p))
    assert "cycle" in line and ("'A'" in line or "'B'" in line)


def test_huge_declared_input_is_refused_before_a_random_feed_is_drawn(tmp_path):
    p = tmp_path / "dummy.prototxt"
    p.write_text('name: "d"\nlayer { name: "data" type: "Input" top: "data" input_param { '
                 'shape { dim: 1099511627776 dim: 1099511627776 } } }\n'
                 'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n')
    assert run_cli("info", p).returncode == 0  # drawing it allocates nothing
    line = _one_error_line(run_cli("probe", p, "-o", tmp_path / "r.html"))
    assert "input 'data'" in line and "over the memory limit" in line
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_deeply_nested_prototxt(tmp_path, depth):
    p = tmp_path / "deep.prototxt"
    p.write_text('name: "x"\n' + "layer {\n" * depth + "}\n" * depth)
    line = _one_error_line(run_cli("info", p))
    assert str(p) in line


def test_deeply_nested_keras_config(tmp_path):
    import zipfile
    p = tmp_path / "deep.keras"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("config.json", "[" * 100_000 + "]" * 100_000)
        z.writestr("metadata.json", "{}")
    line = _one_error_line(run_cli("info", p))
    assert str(p) in line


@pytest.mark.parametrize("field,marker", [("graph.name", b"GRAPHNAME"),
                                          ("graph.node[0].name", b"NODENAME0"),
                                          ("graph.node[0].doc_string", b"NODEDOC00"),
                                          ("producer_name", b"PRODUCER0")])
def test_onnx_strings_that_are_not_utf8_name_their_field(tmp_path, field, marker):
    node = helper.make_node("Relu", ["x"], ["y"], name="NODENAME0", doc_string="NODEDOC00")
    g = helper.make_graph([node], "GRAPHNAME",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    m = helper.make_model(g, producer_name="PRODUCER0")
    data = m.SerializeToString()
    assert data.count(marker) == 1
    p = tmp_path / "m.onnx"
    p.write_bytes(data.replace(marker, b"\xff" + marker[1:]))  # same length: still protobuf
    line = _one_error_line(run_cli("info", p))
    assert f"{field} is not UTF-8 text" in line and str(p) in line
