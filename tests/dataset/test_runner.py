"""BatchRunner: onnxruntime writes each batch's values into the first batch's arrays; the
values equal a plain run's. The plan leaves out the Relu values made from their inputs."""
import numpy as np
from onnx import TensorProto, helper

import graphscope
from graphscope.dataset.plan import BatchRunner, make_plan, relu_is_exact
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
    come from the input's batches (stats.relu_of). One whose input is not probed is."""
    assert relu_is_exact()  # onnxruntime's Relu: x < 0 gives +0; -0 and NaN stay
    graph = graphscope.load(dataset_models.dead_cnn())
    plan = make_plan(graph, None, loader_for(graph), 4)
    assert plan.relu_of == {"relu1_out": "conv1_out", "relu2_out": "bn2_out"}
    assert [name for name, _, _ in plan.layers].count("relu1_out") == 1  # still probed
    fetched = set(BatchRunner(plan, threads=1).names)
    assert {"conv1_out", "bn2_out"} <= fetched and not fetched & {"relu1_out", "relu2_out"}
    only = make_plan(graph, "relu*", loader_for(graph), 4)
    assert only.relu_of == {}
    assert {"relu1_out", "relu2_out"} <= set(BatchRunner(only, threads=1).names)


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


def test_every_relu_is_fetched_where_the_runtime_relu_differs(monkeypatch):
    """Where onnxruntime's Relu is not stats.relu_values bit for bit, the plan makes none."""
    from graphscope.dataset import plan as plan_module
    monkeypatch.setattr(plan_module, "relu_is_exact", lambda: False)
    graph = graphscope.load(dataset_models.dead_cnn())
    plan = make_plan(graph, None, loader_for(graph), 4)
    assert plan.relu_of == {}
    assert {"relu1_out", "relu2_out"} <= set(BatchRunner(plan, threads=1).names)
