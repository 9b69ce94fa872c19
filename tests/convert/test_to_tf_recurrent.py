"""IR -> TensorFlow for recurrent and control-flow ops: LSTM / GRU / RNN, If, Loop and Scan
compute what onnxruntime computes; a Keras LSTM + GRU model (tf2onnx gives an ONNX LSTM and
a Loop) converts to a SavedModel that computes what Keras computes."""
import numpy as np
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

import graphscope
from tests.zoo.control_flow_models import (ATOL, BATCH, BOOL, F, HIDDEN, I64, RTOL, SEQ,
                                           assert_close, body_graph, cond_loop_model,
                                           counted_loop_model, if_model, make_model, rand,
                                           recurrent_case, scan_model, untyped_output)

tf = pytest.importorskip("tensorflow")
from graphscope.convert.to_tf import build_tf_module, to_tf  # noqa: E402


def ort_run(model, feeds) -> dict:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {i.name: feeds[i.name] for i in sess.get_inputs()})))


def tf_run(model, feeds, eager=False) -> dict:
    """The outputs of the traced function (or, with ``eager``, of ``module.run``)."""
    graph = graphscope.load(model)
    module = build_tf_module(graph)
    args = [feeds[v.name] for v in graph.inputs]
    if eager:
        return module.run(*args)
    return {k: v.numpy() for k, v in module(*args).items()}


# -- LSTM / GRU / RNN ------------------------------------------------------------------------
RECURRENT = {
    "lstm_forward_no_bias": dict(op="LSTM", bias=False),
    "lstm_reverse_initial": dict(op="LSTM", direction="reverse", initial=True),
    "lstm_bidirectional_lens": dict(op="LSTM", direction="bidirectional", initial=True,
                                    lens=[5, 0, 3]),  # an empty sequence ends in zeros
    "lstm_reverse_lens": dict(op="LSTM", direction="reverse", lens=[3, 5, 1]),
    "lstm_peepholes_clip": dict(op="LSTM", peepholes=True, initial=True, clip=0.7),
    "lstm_clip_y_h_only": dict(op="LSTM", clip=0.5, outputs=["", "Y_h"]),
    "lstm_input_forget": dict(op="LSTM", direction="bidirectional", input_forget=1),
    "lstm_activations": dict(op="LSTM", activations=["HardSigmoid", "LeakyRelu", "ScaledTanh"],
                             activation_alpha=[0.3, 0.2, 1.5], activation_beta=[0.4, 0.7]),
    "gru_forward": dict(op="GRU", initial=True),
    "gru_linear_before_reset": dict(op="GRU", linear_before_reset=1, lens=[4, 5, 2]),
    "gru_reverse_lens": dict(op="GRU", direction="reverse", lens=[2, 5, 3]),
    "gru_bidirectional": dict(op="GRU", direction="bidirectional", initial=True,
                              linear_before_reset=1, clip=1.0, lens=[5, 0, 3]),
    "rnn_tanh_bidirectional": dict(op="RNN", direction="bidirectional", lens=[2, 5, 4]),
    "rnn_relu_reverse": dict(op="RNN", direction="reverse", activations=["Relu"],
                             initial=True),
}


@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_recurrent_matches_onnxruntime(name):
    model, feeds = recurrent_case(**RECURRENT[name])
    expected = ort_run(model, feeds)
    assert_close(tf_run(model, feeds), expected)
    assert_close(tf_run(model, feeds, eager=True), expected)


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_layout_1_is_layout_0_batch_first(op):
    # onnxruntime runs only layout 0: compare with it on the transposed inputs and outputs
    kw = dict(op=op, direction="bidirectional", initial=True, lens=[5, 1, 3])
    model, feeds = recurrent_case(layout=1, **kw)
    ref_model, ref_feeds = recurrent_case(**kw)
    assert np.array_equal(feeds["x"].transpose(1, 0, 2), ref_feeds["x"])
    expected = ort_run(ref_model, ref_feeds)
    got = tf_run(model, feeds)
    np.testing.assert_allclose(got["Y"], expected["Y"].transpose(2, 0, 1, 3), RTOL, ATOL)
    for name in ("Y_h", "Y_c")[:len(got) - 1]:
        np.testing.assert_allclose(got[name], expected[name].transpose(1, 0, 2), RTOL, ATOL)


def test_recurrent_saved_model_serving_signature(tmp_path):
    model, feeds = recurrent_case("LSTM", direction="bidirectional", initial=True)
    for v in model.graph.input:  # an open batch dim (axis 1 of x, h0, c0) stays open
        v.type.tensor_type.shape.dim[1].dim_param = "N"
    module = to_tf(graphscope.load(model), tmp_path / "lstm")
    y = module.__call__.get_concrete_function().structured_outputs["Y"]
    assert y.shape.as_list() == [SEQ, 2, None, HIDDEN]  # a static length stays static
    serving = tf.saved_model.load(str(tmp_path / "lstm")).signatures["serving_default"]
    assert set(serving.structured_outputs) == {"Y", "Y_h", "Y_c"}
    for batch in (BATCH, 1):
        _, feeds = recurrent_case("LSTM", direction="bidirectional", initial=True, batch=batch)
        got = {k: v.numpy() for k, v in serving(**{k: tf.constant(v)
                                                   for k, v in feeds.items()}).items()}
        assert_close(got, ort_run(model, feeds))


# -- If --------------------------------------------------------------------------------------
@pytest.mark.parametrize("cond", [True, False])
def test_if_takes_either_branch(cond):
    model = if_model()
    graph = graphscope.load(model)
    module = build_tf_module(graph)  # one traced function serves both branches (tf.cond)
    feeds = {"x": rand(2, 4), "cond": np.array(cond)}
    expected = ort_run(model, feeds)
    assert_close({k: v.numpy() for k, v in module(feeds["x"], feeds["cond"]).items()},
                 expected)
    assert_close(module.run(feeds["x"], feeds["cond"]), expected)  # eager


def test_if_with_a_constant_condition():
    model = if_model(cond_as_input=False)
    feeds = {"x": rand(2, 4)}
    assert_close(tf_run(model, feeds), ort_run(model, feeds))


# -- Loop and Scan ---------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 4])
def test_counted_loop_with_carried_state_and_scan_outputs(n):
    model = counted_loop_model()
    graph = graphscope.load(model)
    module = build_tf_module(graph)
    feeds = {"n": np.array(n, np.int64), "h0": rand(2, 3, seed=1), "x": rand(2, 3, seed=2)}
    expected = ort_run(model, feeds)
    assert expected["hs"].shape == (n, 2, 3)
    got = module(*[feeds[v.name] for v in graph.inputs])
    assert_close({k: v.numpy() for k, v in got.items()}, expected)
    assert_close(module.run(*[feeds[v.name] for v in graph.inputs]), expected)  # eager


@pytest.mark.parametrize("trip_count, cond_input", [(False, True), (True, True),
                                                    (True, False)])
def test_loop_ends_on_its_condition(trip_count, cond_input):
    model = cond_loop_model(8 if trip_count else None, cond_input)
    steps = []
    for x, go in (([1, 2, 3], True), ([0.01, 0.02, 0.03], True), ([1, 2, 3], False)):
        feeds = {"x": np.array(x, np.float32), "go": np.array(go)}
        expected = ort_run(model, feeds)
        assert_close(tf_run(model, feeds), expected)
        steps.append(int(expected["k_final"]))
    assert steps == {(False, True): [5, 11, 0], (True, True): [5, 8, 0],
                     (True, False): [5, 8, 5]}[trip_count, cond_input]


def test_nested_control_flow_reads_every_enclosing_scope():
    """for i < n: h = (h * w if i is even else h + x), then 1 added i times by an inner
    Loop: the If's branches read the body's h and the top level's w and x."""
    then_g = helper.make_graph([helper.make_node("Mul", ["h_in", "w"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", F, [3])])
    else_g = helper.make_graph([helper.make_node("Add", ["h_in", "x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", F, [3])])
    inner = body_graph([helper.make_node("Add", ["a_in", "one"], ["a_out"]),
                        helper.make_node("Identity", ["ci"], ["co"])],
                       [("j", I64, []), ("ci", BOOL, []), ("a_in", F, [3])],
                       [("co", BOOL, []), ("a_out", F, [3])])
    body = body_graph([helper.make_node("Mod", ["i", "two"], ["r"]),
                       helper.make_node("Equal", ["r", "zero"], ["even"]),
                       helper.make_node("If", ["even"], ["hb"], then_branch=then_g,
                                        else_branch=else_g),
                       helper.make_node("Loop", ["i", "", "hb"], ["h_out"], body=inner),
                       helper.make_node("Identity", ["c_in"], ["c_out"])],
                      [("i", I64, []), ("c_in", BOOL, []), ("h_in", F, [3])],
                      [("c_out", BOOL, []), ("h_out", F, [3])],
                      [numpy_helper.from_array(np.int64(2), "two"),
                       numpy_helper.from_array(np.int64(0), "zero")])
    inputs = [helper.make_tensor_value_info("n", I64, []),
              helper.make_tensor_value_info("h0", F, [3]),
              helper.make_tensor_value_info("x", F, [3])]
    inits = [numpy_helper.from_array(np.float32([1.5, -0.5, 2]), "w"),
             numpy_helper.from_array(np.float32(1), "one")]
    model = make_model([helper.make_node("Loop", ["n", "", "h0"], ["h"], body=body)], inputs,
                       [untyped_output("h")], inits)
    feeds = {"n": np.array(5), "h0": np.float32([1, 2, 3]), "x": np.float32([0.5, 0.25, -1])}
    expected = ort_run(model, feeds)
    assert_close(tf_run(model, feeds), expected)
    assert_close(tf_run(model, feeds, eager=True), expected)


def test_scan_along_axis_1_reversed():
    """Running sums over axis 1 of x, last step first; the per-step sums come out on axis 1
    reversed again."""
    model, feeds = scan_model(1, True)
    assert_close(tf_run(model, feeds), ort_run(model, feeds))


# -- Keras end to end ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras_lstm(tmp_path_factory):
    from tests.zoo import tf_models
    model = tf_models.lstm()
    path = tmp_path_factory.mktemp("keras") / "rnn.keras"
    model.save(path)
    return model, path


def test_keras_lstm_gru_converts_to_a_saved_model(keras_lstm, tmp_path):
    model, path = keras_lstm
    graphscope.convert(path, to="tf", output=tmp_path / "rnn_tf")
    serving = tf.saved_model.load(str(tmp_path / "rnn_tf")).signatures["serving_default"]
    (key,) = serving.structured_input_signature[1]
    for batch in (2, 1):
        x = rand(batch, 20, 6, seed=batch)
        (got,) = serving(**{key: tf.constant(x)}).values()
        np.testing.assert_allclose(got.numpy(), model(x).numpy(), rtol=RTOL, atol=ATOL)


def test_keras_lstm_gru_verifies(keras_lstm):
    report = graphscope.convert(keras_lstm[1], to="tf", verify=True).report
    assert report is not None and report.ok, report.table()
