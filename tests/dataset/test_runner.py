"""BatchRunner: onnxruntime writes each batch's values into the first batch's arrays; the
values equal a plain run's. The plan leaves out the Relu and Clip values made from their
inputs."""
import numpy as np
import pytest
from onnx import TensorProto, helper

import graphscope
from graphscope.dataset import clamp
from graphscope.dataset.plan import BatchRunner, make_plan
from graphscope.dataset.stats import LayerStats
from graphscope.dataset.sources import loader_for
from tests.zoo import dataset_models


def test_every_batch_is_written_into_the_first_batchs_arrays():
    """Each full batch's values land in the first batch's arrays and equal a plain run that
    fetches the same values; the last, smaller batch gets arrays of its own."""
    model = dataset_models.dead_cnn()
    graph = graphscope.load(model)
    runner = BatchRunner(make_plan(graph, None, loader_for(graph), 4), threads=1)
    names = [o.name for o in runner.session.get_outputs()]
    x = dataset_models.inputs(14, (3, 12, 12), seed=2)  # batches of 4, 4, 4 and 2
    first = None
    for i in range(0, 14, 4):
        got = runner.run(x[i:i + 4])
        want = dataset_models.run_exposing(model, names, {"x": x[i:i + 4]})
        assert all(np.array_equal(got[k], want[k]) for k in names), i
        first = first if first is not None else got[names[0]].ctypes.data
        assert (got[names[0]].ctypes.data == first) == (i < 12), i
    assert got[names[0]].shape[0] == 2


def test_relu_values_are_made_from_their_probed_inputs_not_fetched():
    """A Relu whose input is probed too is not among onnxruntime's outputs: its statistics
    come from the input's batches (clamp.py). One whose input is not probed is."""
    assert clamp.is_exact()  # onnxruntime's Relu and Clip: beyond a bound gives the bound
    graph = graphscope.load(dataset_models.dead_cnn())
    plan = make_plan(graph, None, loader_for(graph), 4)
    inf = float("inf")
    assert plan.clamps == {"relu1_out": ("conv1_out", 0.0, inf),
                           "relu2_out": ("bn2_out", 0.0, inf)}
    assert [name for name, _, _ in plan.layers].count("relu1_out") == 1  # still probed
    fetched = set(BatchRunner(plan, threads=1).names)
    assert {"conv1_out", "bn2_out"} <= fetched and not fetched & {"relu1_out", "relu2_out"}
    only = make_plan(graph, "relu*", loader_for(graph), 4)
    assert only.clamps == {}
    assert {"relu1_out", "relu2_out"} <= set(BatchRunner(only, threads=1).names)


def test_relus_before_an_unrunnable_op_are_made_from_their_inputs_too():
    """The part of a model before an op onnxruntime cannot run outputs what it is asked for:
    the ReLUs made from their inputs are not among them; the statistics equal a plain run."""
    model = dataset_models.dead_cnn()
    model.graph.node.append(helper.make_node("Foo", ["fc_out"], ["foo_out"], name="foo",
                                             domain="example.custom"))
    model.opset_import.append(helper.make_opsetid("example.custom", 1))
    del model.graph.output[:]
    model.graph.output.append(helper.make_tensor_value_info("foo_out", TensorProto.FLOAT, None))
    graph = graphscope.load(model)
    plan = make_plan(graph, None, loader_for(graph), 4)
    assert "node 'foo'" in plan.errors[0]  # the layers after it are not probed
    assert set(plan.clamps) == {"relu1_out", "relu2_out"}
    runner = BatchRunner(plan, threads=1)
    assert not set(runner.names) & {"relu1_out", "relu2_out", "foo_out"}
    x = dataset_models.inputs(4, (3, 12, 12), seed=5)
    stats = plan.stats()
    runner.run(x, stats)
    want = LayerStats("relu2_out")  # onnxruntime's own, beside the same fetched values
    want.update(dataset_models.run_exposing(dataset_models.dead_cnn(),
                                            runner.names + ["relu2_out"], {"x": x})["relu2_out"])
    assert np.array_equal(stats["relu2_out"].hist, want.hist)
    assert stats["relu2_out"].to_dict() == want.to_dict()


def clip_model(bounds_as: str):
    """x -> Conv -> Clip(0, 6) -> y: ReLU6 with its bounds as initializers (opset 13), then a
    Clip whose lower bound is computed (ReduceMin); or as attributes (opset 6), then a
    Relu."""
    from onnx import numpy_helper
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    six = numpy_helper.from_array(np.array(6, np.float32), "six")
    zero = numpy_helper.from_array(np.array(0, np.float32), "zero")
    if bounds_as == "inputs":
        relu6 = helper.make_node("Clip", ["c", "zero", "six"], ["r6"], name="relu6")
        opset = 13
    else:
        relu6 = helper.make_node("Clip", ["c"], ["r6"], name="relu6", min=0.0, max=6.0)
        opset = 6
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             relu6]
    if bounds_as == "inputs":  # a bound computed in the graph: not made from its input
        nodes += [helper.make_node("ReduceMin", ["r6"], ["m"], name="m", keepdims=0),
                  helper.make_node("Clip", ["r6", "m", "six"], ["y"], name="clip")]
    else:  # a Relu of a value made from its input: fetched
        nodes.append(helper.make_node("Relu", ["r6"], ["y"], name="relu"))
    out = nodes[-1].output[0]
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], [w, six, zero])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("bounds_as", ["inputs", "attributes"])
def test_relu6_is_made_from_its_input_and_equals_onnxruntimes(bounds_as):
    """Clip(0, 6), its bounds as initializers or attributes, is made from its input; a Clip
    whose bound is computed in the graph is fetched. The statistics equal those of
    onnxruntime's own Clip output."""
    model = clip_model(bounds_as)
    graph = graphscope.load(model)
    plan = make_plan(graph, None, loader_for(graph), 4)
    assert plan.clamps == {"r6": ("c", 0.0, 6.0)}
    runner = BatchRunner(plan, threads=1)
    assert "r6" not in runner.names and {"c", "y"} <= set(runner.names)
    x = dataset_models.inputs(8, (3, 8, 8), seed=4) * 4
    stats = plan.stats()
    for i in (0, 4):
        runner.run(x[i:i + 4], stats)
    want = LayerStats("r6")
    want.update(dataset_models.run_exposing(model, ["r6"], {"x": x})["r6"])
    got = stats["r6"]
    assert got.to_dict()["zero_fraction"] > 0.2 and got.to_dict()["max"] == 6.0
    assert got.count == want.count and got.zeros == want.zeros
    assert np.array_equal(got.hist, want.hist)
    np.testing.assert_array_equal(got.min, want.min)
    np.testing.assert_array_equal(got.max, want.max)
    np.testing.assert_allclose(got.mean, want.mean, rtol=1e-9)
    np.testing.assert_allclose(got.m2, want.m2, rtol=1e-9)


def test_values_whose_shape_changes_between_batches_get_fresh_arrays():
    """NonZero's output length depends on the values: the kept arrays cannot take it."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])
    nz = helper.make_tensor_value_info("nz", TensorProto.INT64, [2, None])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["r"]),
                           helper.make_node("NonZero", ["r"], ["nz"])], "g", [x], [nz])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    graph = graphscope.load(model)
    plan = make_plan(graph, None, loader_for(graph), 3)
    runner = BatchRunner(plan, threads=1)
    rng = np.random.default_rng(0)
    for _ in range(4):
        b = rng.standard_normal((3, 6)).astype(np.float32)
        got = runner.run(b)
        want = dataset_models.run_exposing(model, ["r", "nz"], {"x": b})
        assert np.array_equal(got["nz"], want["nz"]) and np.array_equal(got["r"], want["r"])
    assert not runner._reuse  # the kept arrays were tried, refused, and left for good


def test_values_of_other_types_are_kept_too():
    """bool, int64, float16 and uint8 values: written into kept arrays, equal to numpy's."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])
    outs = [helper.make_tensor_value_info(n, t, None) for n, t in [
        ("g", TensorProto.BOOL), ("am", TensorProto.INT64), ("h", TensorProto.FLOAT16),
        ("c", TensorProto.UINT8)]]
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    g = helper.make_graph([helper.make_node("Greater", ["x", "zero"], ["g"]),
                           helper.make_node("ArgMax", ["x"], ["am"], axis=1, keepdims=0),
                           helper.make_node("Cast", ["x"], ["h"], to=TensorProto.FLOAT16),
                           helper.make_node("Cast", ["g"], ["c"], to=TensorProto.UINT8)],
                          "g", [x], outs, [zero])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    graph = graphscope.load(model)
    runner = BatchRunner(make_plan(graph, None, loader_for(graph), 3), threads=1)
    rng = np.random.default_rng(1)
    for _ in range(4):
        b = rng.standard_normal((3, 6)).astype(np.float32)
        got = runner.run(b)
        assert np.array_equal(got["g"], b > 0) and np.array_equal(got["am"], b.argmax(1))
        assert np.array_equal(got["h"], b.astype(np.float16))
        assert np.array_equal(got["c"], (b > 0).astype(np.uint8))
    assert runner._reuse and runner._kept is not None  # kept arrays served batches 2 to 4


def test_every_clamp_is_fetched_where_the_runtime_clamps_otherwise(monkeypatch):
    """Where onnxruntime's Relu or Clip is not clamp.clamped_values bit for bit, the plan
    makes no clamp from its input."""
    monkeypatch.setattr(clamp, "is_exact", lambda: False)
    graph = graphscope.load(dataset_models.dead_cnn())
    plan = make_plan(graph, None, loader_for(graph), 4)
    assert plan.clamps == {}
    assert {"relu1_out", "relu2_out"} <= set(BatchRunner(plan, threads=1).names)
