"""BatchRunner: onnxruntime writes each batch's values into arrays kept from batch to batch;
the values equal a plain run's, and a batch's arrays stay intact while the next one runs."""
import numpy as np
from onnx import TensorProto, helper

import graphscope
from graphscope.dataset.plan import BatchRunner, make_plan
from graphscope.dataset.sources import loader_for
from tests.zoo import dataset_models


def test_reused_arrays_hold_each_batch_until_the_one_after_next():
    model = dataset_models.dead_cnn()
    graph = graphscope.load(model)
    plan = make_plan(graph, None, loader_for(graph), 4)
    runner = BatchRunner(plan, threads=1)
    x = dataset_models.inputs(14, (3, 12, 12))  # batches of 4, 4, 4 and a last one of 2
    batches = [x[i:i + 4] for i in range(0, 14, 4)]
    names = [o.name for o in runner.session.get_outputs()]
    # every value fetched alike, as the runner does
    wants = [dataset_models.run_exposing(model, names, {"x": b}) for b in batches]
    got = []
    for k, b in enumerate(batches):
        got.append(runner.run(b))
        for j in (k - 1, k):  # this batch's arrays, and the batch before's, still intact
            for name in names if j >= 0 else []:
                assert np.array_equal(got[j][name], wants[j][name]), (j, name)
    first = got[0][names[0]]
    assert got[2][names[0]].ctypes.data == first.ctypes.data  # batch 3 wrote into batch 1's
    assert got[1][names[0]].ctypes.data != first.ctypes.data
    assert got[3][names[0]].shape[0] == 2  # the last, smaller batch: arrays of its own


def test_one_kept_set_for_a_caller_done_with_each_batch():
    """keep=1 (the Ray actors, which fold each batch before the next): every full batch is
    written into the first batch's arrays, and equals a plain run."""
    model = dataset_models.dead_cnn()
    graph = graphscope.load(model)
    runner = BatchRunner(make_plan(graph, None, loader_for(graph), 4), threads=1, keep=1)
    names = [o.name for o in runner.session.get_outputs()]
    x = dataset_models.inputs(12, (3, 12, 12), seed=2)
    first = None
    for i in range(0, 12, 4):
        got = runner.run(x[i:i + 4])
        want = dataset_models.run_exposing(model, names, {"x": x[i:i + 4]})
        assert all(np.array_equal(got[k], want[k]) for k in names)
        first = first if first is not None else got[names[0]].ctypes.data
        assert got[names[0]].ctypes.data == first
    assert len(runner._kept) == 1


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
    assert runner._reuse and len(runner._kept) == 2  # kept arrays served batches 2 to 4
