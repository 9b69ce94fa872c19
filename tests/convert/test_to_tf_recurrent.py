"""IR -> TensorFlow for recurrent and control-flow ops: LSTM / GRU / RNN, If, Loop and Scan
compute what onnxruntime computes; a Keras LSTM + GRU model (tf2onnx gives an ONNX LSTM and
a Loop) converts to a SavedModel that computes what Keras computes."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphscope

tf = pytest.importorskip("tensorflow")
from graphscope.convert.to_tf import build_tf_module, to_tf  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5
F, I64, I32, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32, TensorProto.BOOL


def _rand(*shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def _model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "case", inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _out(name):
    return onnx.ValueInfoProto(name=name)


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


def assert_close(got: dict, expected: dict):
    assert set(got) == set(expected)
    for name, e in expected.items():
        assert got[name].shape == e.shape and got[name].dtype == e.dtype, name
        np.testing.assert_allclose(got[name], e, rtol=RTOL, atol=ATOL, err_msg=name)


# -- LSTM / GRU / RNN ------------------------------------------------------------------------
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
SEQ, BATCH, INPUT, HIDDEN = 5, 3, 4, 6


def recurrent_case(op, direction="forward", bias=True, initial=False, lens=None,
                   peepholes=False, layout=0, batch=BATCH, outputs=None, **attrs):
    """(model, feeds) for one recurrent op; sequence_lens and initial states are graph
    inputs, weights initializers."""
    dirs = 2 if direction == "bidirectional" else 1
    g = GATES[op]
    inputs, feeds = [], {}

    def feed(name, value, dtype=F, shape=None):
        inputs.append(helper.make_tensor_value_info(name, dtype, shape or list(value.shape)))
        feeds[name] = value
        return name

    def batch_major(value):  # layout 1 puts the batch first
        return np.ascontiguousarray(np.swapaxes(value, 0, 1)) if layout else value

    x = feed("x", batch_major(_rand(SEQ, batch, INPUT, seed=1)))
    inits = [numpy_helper.from_array(_rand(dirs, g * HIDDEN, INPUT, seed=2, scale=0.5), "W"),
             numpy_helper.from_array(_rand(dirs, g * HIDDEN, HIDDEN, seed=3, scale=0.5), "R")]
    names = [x, "W", "R", "", "", "", "", ""]
    if bias:
        inits.append(numpy_helper.from_array(_rand(dirs, 2 * g * HIDDEN, seed=4), "B"))
        names[3] = "B"
    if lens is not None:
        names[4] = feed("lens", np.array(lens, np.int32), I32)
    if initial:
        names[5] = feed("h0", batch_major(_rand(dirs, batch, HIDDEN, seed=5)))
        if op == "LSTM":
            names[6] = feed("c0", batch_major(_rand(dirs, batch, HIDDEN, seed=6)))
    if peepholes:
        inits.append(numpy_helper.from_array(_rand(dirs, 3 * HIDDEN, seed=7), "P"))
        names[7] = "P"
    while names[-1] == "":
        names.pop()
    outs = outputs or (["Y", "Y_h", "Y_c"] if op == "LSTM" else ["Y", "Y_h"])
    node = helper.make_node(op, names, outs, name="rnn", hidden_size=HIDDEN,
                            direction=direction, **({"layout": 1} if layout else {}), **attrs)
    return _model([node], inputs, [_out(o) for o in outs if o], inits), feeds


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
def if_model(cond_as_input=True):
    """y = If(cond) then x @ w + 1 else relu(x) - x: both branches read outer values."""
    then_g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["mm"]),
         helper.make_node("Add", ["mm", "one"], ["t_out"])], "then", [],
        [helper.make_tensor_value_info("t_out", F, [2, 4])],
        [numpy_helper.from_array(np.float32(1.0), "one")])
    else_g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Sub", ["r", "x"], ["e_out"])],
        "else", [], [helper.make_tensor_value_info("e_out", F, [2, 4])])
    inputs = [helper.make_tensor_value_info("x", F, [2, 4])]
    inits = [numpy_helper.from_array(_rand(4, 4, seed=2), "w")]
    if cond_as_input:
        inputs.append(helper.make_tensor_value_info("cond", BOOL, []))
    else:
        inits.append(numpy_helper.from_array(np.array(False), "cond"))
    node = helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g)
    return _model([node], inputs, [_out("y")], inits)


@pytest.mark.parametrize("cond", [True, False])
def test_if_takes_either_branch(cond):
    model = if_model()
    graph = graphscope.load(model)
    module = build_tf_module(graph)  # one traced function serves both branches (tf.cond)
    feeds = {"x": _rand(2, 4), "cond": np.array(cond)}
    expected = ort_run(model, feeds)
    assert_close({k: v.numpy() for k, v in module(feeds["x"], feeds["cond"]).items()},
                 expected)
    assert_close(module.run(feeds["x"], feeds["cond"]), expected)  # eager


def test_if_with_a_constant_condition():
    model = if_model(cond_as_input=False)
    feeds = {"x": _rand(2, 4)}
    assert_close(tf_run(model, feeds), ort_run(model, feeds))


# -- Loop and Scan ---------------------------------------------------------------------------
def _body(nodes, inputs, outputs, inits=()):
    return helper.make_graph(nodes, "body", [helper.make_tensor_value_info(n, t, s)
                                             for n, t, s in inputs],
                             [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
                             list(inits))


def counted_loop_model():
    """for i < n: h = tanh(h @ w + x * i); scan out h and i * 2 (w and x from outside)."""
    body = _body(
        [helper.make_node("Cast", ["i"], ["fi"], to=F),
         helper.make_node("MatMul", ["h_in", "w"], ["hw"]),
         helper.make_node("Mul", ["x", "fi"], ["xi"]),
         helper.make_node("Add", ["hw", "xi"], ["pre"]),
         helper.make_node("Tanh", ["pre"], ["h_out"]),
         helper.make_node("Identity", ["h_out"], ["h_scan"]),
         helper.make_node("Mul", ["i", "two"], ["i2"]),
         helper.make_node("Identity", ["c_in"], ["c_out"])],
        [("i", I64, []), ("c_in", BOOL, []), ("h_in", F, [2, 3])],
        [("c_out", BOOL, []), ("h_out", F, [2, 3]), ("h_scan", F, [2, 3]), ("i2", I64, [])],
        [numpy_helper.from_array(np.int64(2), "two")])
    node = helper.make_node("Loop", ["n", "", "h0"], ["h_final", "hs", "is"], body=body)
    inputs = [helper.make_tensor_value_info("n", I64, []),
              helper.make_tensor_value_info("h0", F, [2, 3]),
              helper.make_tensor_value_info("x", F, [2, 3])]
    inits = [numpy_helper.from_array(_rand(3, 3, seed=4), "w")]
    return _model([node], inputs, [_out("h_final"), _out("hs"), _out("is")], inits)


def cond_loop_model(trip_count: bool, cond_input: bool):
    """Double x until its sum passes 100 (or 8 iterations, with a trip count); the carried
    count of steps and the running sums are outputs. With no cond input the body's cond
    still ends the loop, as in onnxruntime."""
    body = _body(
        [helper.make_node("Mul", ["x_in", "two"], ["x_out"]),
         helper.make_node("ReduceSum", ["x_out"], ["s"], keepdims=0),
         helper.make_node("Less", ["s", "limit"], ["c_out"]),
         helper.make_node("Add", ["k_in", "one"], ["k_out"])],
        [("i", I64, []), ("c_in", BOOL, []), ("x_in", F, [3]), ("k_in", I64, [])],
        [("c_out", BOOL, []), ("x_out", F, [3]), ("k_out", I64, []), ("s", F, [])],
        [numpy_helper.from_array(np.float32(2), "two"),
         numpy_helper.from_array(np.int64(1), "one")])
    node = helper.make_node("Loop", ["m" if trip_count else "", "go" if cond_input else "",
                                     "x", "k0"], ["x_final", "k_final", "sums"], body=body)
    inits = [numpy_helper.from_array(np.float32(100), "limit"),
             numpy_helper.from_array(np.int64(0), "k0")]
    if trip_count:
        inits.append(numpy_helper.from_array(np.int64(8), "m"))
    inputs = [helper.make_tensor_value_info("x", F, [3]),
              helper.make_tensor_value_info("go", BOOL, [])]
    return _model([node], inputs, [_out("x_final"), _out("k_final"), _out("sums")], inits)


@pytest.mark.parametrize("n", [0, 1, 4])
def test_counted_loop_with_carried_state_and_scan_outputs(n):
    model = counted_loop_model()
    graph = graphscope.load(model)
    module = build_tf_module(graph)
    feeds = {"n": np.array(n, np.int64), "h0": _rand(2, 3, seed=1), "x": _rand(2, 3, seed=2)}
    expected = ort_run(model, feeds)
    assert expected["hs"].shape == (n, 2, 3)
    got = module(*[feeds[v.name] for v in graph.inputs])
    assert_close({k: v.numpy() for k, v in got.items()}, expected)
    assert_close(module.run(*[feeds[v.name] for v in graph.inputs]), expected)  # eager


@pytest.mark.parametrize("trip_count, cond_input", [(False, True), (True, True),
                                                    (True, False)])
def test_loop_ends_on_its_condition(trip_count, cond_input):
    model = cond_loop_model(trip_count, cond_input)
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
    inner = _body([helper.make_node("Add", ["a_in", "one"], ["a_out"]),
                   helper.make_node("Identity", ["ci"], ["co"])],
                  [("j", I64, []), ("ci", BOOL, []), ("a_in", F, [3])],
                  [("co", BOOL, []), ("a_out", F, [3])])
    body = _body([helper.make_node("Mod", ["i", "two"], ["r"]),
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
    model = _model([helper.make_node("Loop", ["n", "", "h0"], ["h"], body=body)], inputs,
                   [_out("h")], inits)
    feeds = {"n": np.array(5), "h0": np.float32([1, 2, 3]), "x": np.float32([0.5, 0.25, -1])}
    expected = ort_run(model, feeds)
    assert_close(tf_run(model, feeds), expected)
    assert_close(tf_run(model, feeds, eager=True), expected)


def test_scan_along_axis_1_reversed():
    """Running sums over axis 1 of x, last step first; the per-step sums come out on axis 1
    reversed again."""
    body = _body([helper.make_node("Add", ["acc_in", "x_t"], ["acc_out"]),
                  helper.make_node("Mul", ["acc_out", "x_t"], ["y_t"])],
                 [("acc_in", F, [2]), ("x_t", F, [2])],
                 [("acc_out", F, [2]), ("y_t", F, [2])])
    node = helper.make_node("Scan", ["acc0", "x"], ["acc", "ys"], body=body, num_scan_inputs=1,
                            scan_input_axes=[1], scan_input_directions=[1],
                            scan_output_axes=[1], scan_output_directions=[1])
    inputs = [helper.make_tensor_value_info("acc0", F, [2]),
              helper.make_tensor_value_info("x", F, [2, 5])]
    model = _model([node], inputs, [_out("acc"), _out("ys")])
    feeds = {"acc0": _rand(2), "x": _rand(2, 5, seed=1)}
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
        x = _rand(batch, 20, 6, seed=batch)
        (got,) = serving(**{key: tf.constant(x)}).values()
        np.testing.assert_allclose(got.numpy(), model(x).numpy(), rtol=RTOL, atol=ATOL)


def test_keras_lstm_gru_verifies(keras_lstm):
    report = graphscope.convert(keras_lstm[1], to="tf", verify=True).report
    assert report is not None and report.ok, report.table()
