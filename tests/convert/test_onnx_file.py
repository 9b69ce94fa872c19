"""Weights streamed both ways: .onnx files are read without their large weights in memory and
written one weight at a time; the files are plain ONNX to onnx, onnx.checker and onnxruntime."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphscope
from graphscope.convert.api import to_onnx_checked
from graphscope.convert.onnx_file import STREAM_MIN_BYTES, write_onnx
from graphscope.errors import GraphError


def wide_model(width=256) -> onnx.ModelProto:
    """x @ w1 (float32, large) -> + b (small) -> Cast f16 @ w2 (float16, large) -> Reshape."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((width, width), np.float32), "w1"),
             numpy_helper.from_array(rng.standard_normal(width).astype(np.float32), "b"),
             numpy_helper.from_array(rng.standard_normal((width, width)).astype(np.float16), "w2"),
             numpy_helper.from_array(np.array([2, -1], np.int64), "shape")]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
             helper.make_node("Add", ["h", "b"], ["hb"], name="add"),
             helper.make_node("Cast", ["hb"], ["h16"], to=TensorProto.FLOAT16, name="cast"),
             helper.make_node("MatMul", ["h16", "w2"], ["y16"], name="mm2"),
             helper.make_node("Reshape", ["y16", "shape"], ["y"], name="reshape")]
    g = helper.make_graph(nodes, "wide", [helper.make_tensor_value_info("x", 1, [4, width])],
                          [helper.make_tensor_value_info("y", 10, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def run(model_or_path, x):
    src = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    sess = ort.InferenceSession(src, providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


@pytest.fixture
def wide_file(tmp_path):
    path = tmp_path / "wide.onnx"
    onnx.save(wide_model(), str(path))
    return path


def initializers(model) -> dict:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def test_loading_leaves_large_weights_in_the_file(wide_file):
    graph = graphscope.load(wide_file)
    assert not graph.weights["w1"].data.loaded and not graph.weights["w2"].data.loaded
    expected = initializers(onnx.load(str(wide_file)))
    for name, v in graph.weights.items():
        np.testing.assert_array_equal(v.data.array, expected[name])
        assert v.data.array.dtype == expected[name].dtype
    assert graph.weights["w1"].data.loaded


def test_scanned_weights_of_every_raw_dtype_read_back_exactly(tmp_path):
    arrays = {"f64": np.linspace(-1, 1, 1024), "i8": np.arange(-128, 128, dtype=np.int8).repeat(20),
              "u16": np.arange(3000, dtype=np.uint16), "bool": np.arange(5000) % 3 == 0,
              "i64": np.arange(-700, 700, dtype=np.int64).reshape(2, 700)}
    inits = [numpy_helper.from_array(a, k) for k, a in arrays.items()]
    bf16 = helper.make_tensor("bf16", TensorProto.BFLOAT16, [4096],
                              np.arange(4096, dtype=np.uint16).tobytes(), raw=True)
    nodes = [helper.make_node("Identity", [k], [f"{k}_out"], name=k) for k in arrays]
    g = helper.make_graph(nodes, "dtypes", [], [helper.make_tensor_value_info(f"{k}_out", 0, None)
                                                for k in arrays], inits + [bf16])
    path = tmp_path / "dtypes.onnx"
    onnx.save(helper.make_model(g), str(path))
    graph = graphscope.load(path)
    for k, a in arrays.items():
        got = graph.weights[k].data.array
        assert got.dtype == a.dtype and got.shape == a.shape
        np.testing.assert_array_equal(got, a)
    assert graph.weights["bf16"].data.array.shape == (4096,)


def test_streamed_file_equals_the_in_memory_model(wide_file, tmp_path):
    graph = graphscope.load(wide_file)
    out = tmp_path / "out.onnx"
    skeleton = write_onnx(graph, out)
    assert {t.name for t in skeleton.graph.initializer} == {"b", "shape"}  # w1, w2 streamed
    assert not any(v.data.loaded for v in graph.weights.values()
                   if v.data.size * 2 >= STREAM_MIN_BYTES)  # read for writing, not kept
    written = onnx.load(str(out))
    onnx.checker.check_model(str(out), full_check=True)
    in_memory = to_onnx_checked(graphscope.load(wide_file))
    assert written.graph.node == in_memory.graph.node
    assert sorted(written.graph.value_info, key=lambda v: v.name) == \
        sorted(in_memory.graph.value_info, key=lambda v: v.name)
    got, want = initializers(written), initializers(in_memory)
    assert got.keys() == want.keys()
    for name in want:
        assert got[name].dtype == want[name].dtype
        np.testing.assert_array_equal(got[name], want[name])
    x = np.random.default_rng(1).standard_normal((4, 256)).astype(np.float32)
    np.testing.assert_array_equal(run(str(out), x), run(wide_model(), x))


def test_external_data_beside_the_model(wide_file, tmp_path):
    out = tmp_path / "ext.onnx"
    write_onnx(graphscope.load(wide_file), out, external_data=True)
    data = tmp_path / "ext.onnx.data"
    assert data.stat().st_size >= 256 * 256 * 4 + 256 * 256 * 2
    assert out.stat().st_size < 10_000  # the weights are not in the model file
    onnx.checker.check_model(str(out), full_check=True)
    x = np.random.default_rng(2).standard_normal((4, 256)).astype(np.float32)
    np.testing.assert_array_equal(run(str(out), x), run(wide_model(), x))
    again = graphscope.load(out)  # and graphscope reads it back
    np.testing.assert_array_equal(again.weights["w2"].data.array,
                                  initializers(wide_model())["w2"])


def test_a_failure_mid_stream_leaves_nothing_behind(wide_file, tmp_path):
    graph = graphscope.load(wide_file)

    def fail():
        raise GraphError("weight file vanished")
    graph.weights["w2"].data._loader = fail
    with pytest.raises(GraphError, match="vanished"):
        graphscope.convert(graph, to="onnx", output=tmp_path / "out.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wide.onnx"]


def test_convert_to_a_file_reads_the_model_back_only_when_asked(wide_file, tmp_path):
    result = graphscope.convert(wide_file, to="onnx", output=tmp_path / "c.onnx")
    assert result.converted is None
    assert [n.op_type for n in result.model.graph.node] == ["MatMul", "Add", "Cast", "MatMul",
                                                            "Reshape"]
