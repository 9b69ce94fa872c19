"""Recurrent (LSTM, GRU, RNN) and control-flow (If, Loop, Scan) ONNX ops in the torch
interpreter and in generated PyTorch source compute what onnxruntime computes; a Keras
LSTM + GRU model (tf2onnx gives an ONNX LSTM and a Loop) converts to PyTorch."""
import copy

import numpy as np
import pytest
import torch

import graphscope
from graphscope.convert import torch_source
from graphscope.runtime.onnxruntime import OnnxRuntimeSession
from graphscope.runtime.torch import build_module
from tests.zoo.control_flow_models import (ATOL, RTOL, assert_close, cond_loop_model,
                                           counted_loop_model, if_model, rand, recurrent_case,
                                           scan_model)


def ort_run(model, feeds) -> dict:
    return OnnxRuntimeSession(model).run(feeds)


def torch_run(module, graph, feeds) -> dict:
    with torch.no_grad():
        got = module(*[torch.from_numpy(feeds[v.name]) for v in graph.inputs])
    got = got if isinstance(got, tuple) else (got,)
    return {v.name: t.numpy() for v, t in zip(graph.outputs, got)}


def interpreter_run(model, feeds) -> dict:
    graph = graphscope.load(model)
    return torch_run(build_module(graph), graph, feeds)


def source_run(model, feeds) -> tuple[dict, str]:
    graph = graphscope.load(model)
    generated = torch_source.generate(graph)
    return torch_run(torch_source.instantiate(generated), graph, feeds), generated.code


# -- LSTM / GRU / RNN ------------------------------------------------------------------------
# cases nn.LSTM / nn.GRU / nn.RNN express: the generated source uses them
PLAIN = {
    "lstm_forward": dict(op="LSTM"),
    "lstm_no_bias": dict(op="LSTM", bias=False),
    "lstm_reverse_initial": dict(op="LSTM", direction="reverse", initial=True),
    "lstm_bidirectional_initial": dict(op="LSTM", direction="bidirectional", initial=True),
    "lstm_y_h_only": dict(op="LSTM", outputs=["", "Y_h"]),
    "gru_linear_before_reset": dict(op="GRU", linear_before_reset=1, initial=True),
    "gru_bidirectional": dict(op="GRU", direction="bidirectional", linear_before_reset=1),
    "rnn_tanh_bidirectional": dict(op="RNN", direction="bidirectional", initial=True),
    "rnn_relu_reverse": dict(op="RNN", direction="reverse", activations=["Relu"]),
}
# cases nn.LSTM / nn.GRU / nn.RNN cannot express: the source calls the shared function
# (runtime/torch_ops_layers.py), with the reason the readable form is not used
SPECIAL = {
    "lstm_bidirectional_lens": (dict(op="LSTM", direction="bidirectional", initial=True,
                                     lens=[5, 2, 3]), "sequence_lens"),
    "lstm_reverse_lens": (dict(op="LSTM", direction="reverse", lens=[3, 5, 1]),
                          "sequence_lens"),
    "lstm_peepholes": (dict(op="LSTM", peepholes=True, initial=True), "peephole"),
    "lstm_peepholes_clip": (dict(op="LSTM", peepholes=True, initial=True, clip=0.7), "clip"),
    "lstm_clip": (dict(op="LSTM", clip=0.5), "clip"),
    "lstm_input_forget": (dict(op="LSTM", direction="bidirectional", input_forget=1),
                          "input_forget"),
    "lstm_activations": (dict(op="LSTM", activations=["HardSigmoid", "LeakyRelu", "ScaledTanh"],
                              activation_alpha=[0.3, 0.2, 1.5], activation_beta=[0.4, 0.7]),
                         "activations"),
    "gru_forward": (dict(op="GRU", initial=True), "linear_before_reset"),
    "gru_bidirectional_lens_clip": (dict(op="GRU", direction="bidirectional", lens=[4, 5, 2],
                                         clip=1.0), "sequence_lens"),
    "rnn_tanh_lens": (dict(op="RNN", direction="bidirectional", lens=[2, 5, 4]),
                      "sequence_lens"),
    "rnn_affine_elu": (dict(op="RNN", direction="bidirectional", activations=["Affine", "Elu"],
                            activation_alpha=[0.5, 0.8], activation_beta=[0.1]),
                       "activations"),
}


@pytest.mark.parametrize("name", sorted(PLAIN) + sorted(SPECIAL))
def test_interpreter_matches_onnxruntime(name):
    case = PLAIN[name] if name in PLAIN else SPECIAL[name][0]
    model, feeds = recurrent_case(**case)
    assert_close(interpreter_run(model, feeds), ort_run(model, feeds))


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_generated_source_uses_torch_rnn_modules(name):
    model, feeds = recurrent_case(**PLAIN[name])
    got, code = source_run(model, feeds)
    assert_close(got, ort_run(model, feeds))
    assert f"nn.{PLAIN[name]['op']}(" in code


@pytest.mark.parametrize("name", sorted(SPECIAL))
def test_generated_source_runs_what_torch_rnn_modules_lack(name):
    case, _ = SPECIAL[name]
    model, feeds = recurrent_case(**case)
    got, code = source_run(model, feeds)
    assert_close(got, ort_run(model, feeds))
    assert f"nn.{case['op']}(" not in code and f"onnx_{case['op'].lower()}(" in code


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_layout_1_is_layout_0_batch_first(op):
    # onnxruntime runs only layout 0: compare with it on the transposed inputs and outputs
    extra = {"linear_before_reset": 1} if op == "GRU" else {}
    kw = dict(op=op, direction="bidirectional", initial=True, **extra)
    model, feeds = recurrent_case(layout=1, **kw)
    ref_model, ref_feeds = recurrent_case(**kw)
    assert np.array_equal(feeds["x"].transpose(1, 0, 2), ref_feeds["x"])
    expected = ort_run(ref_model, ref_feeds)
    expected["Y"] = expected["Y"].transpose(2, 0, 1, 3)
    for name in ("Y_h", "Y_c")[:len(expected) - 1]:
        expected[name] = expected[name].transpose(1, 0, 2)
    assert_close(interpreter_run(model, feeds), expected)
    assert_close(source_run(model, feeds)[0], expected)
    # with sequence_lens only the interpreter runs it
    lens_model, lens_feeds = recurrent_case(layout=1, lens=[5, 1, 3], **kw)
    ref_model, ref_feeds = recurrent_case(lens=[5, 1, 3], **kw)
    expected = ort_run(ref_model, ref_feeds)
    got = interpreter_run(lens_model, lens_feeds)
    np.testing.assert_allclose(got["Y"], expected["Y"].transpose(2, 0, 1, 3), RTOL, ATOL)
    np.testing.assert_allclose(got["Y_h"], expected["Y_h"].transpose(1, 0, 2), RTOL, ATOL)


def test_generated_lstm_reads_as_torch_code():
    model, _ = recurrent_case("LSTM", direction="bidirectional", initial=True)
    generated = torch_source.generate(graphscope.load(model))
    assert "nn.LSTM(4, 6, bidirectional=True)" in generated.code
    assert {k.rsplit(".", 1)[1] for k in generated.state_dict} == {
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse",
        "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse"}


def test_lstm_converts_to_a_py_file_that_verifies(tmp_path):
    model, _ = recurrent_case("LSTM", direction="reverse", initial=True)
    result = graphscope.convert(model, output=tmp_path / "lstm.py", verify=True)
    assert "nn.LSTM(" in (tmp_path / "lstm.py").read_text()
    assert (tmp_path / "lstm.pth").exists()
    assert result.report.ok, result.report.table()


def test_gradients_flow_through_the_recurrence():
    """The interpreter's LSTM and the generated nn.LSTM give the same input gradient."""
    model, feeds = recurrent_case("LSTM", direction="bidirectional", initial=True)
    graph = graphscope.load(model)
    grads = []
    for module in (build_module(graph), torch_source.instantiate(torch_source.generate(graph))):
        x = torch.from_numpy(feeds["x"]).requires_grad_()
        y, y_h, y_c = module(x, *[torch.from_numpy(feeds[n]) for n in ("h0", "c0")])
        (y.sum() + y_h.square().sum() + y_c.sum()).backward()
        grads.append(x.grad.numpy())
    assert np.abs(grads[0]).sum() > 0
    np.testing.assert_allclose(grads[0], grads[1], rtol=RTOL, atol=ATOL)


# -- If --------------------------------------------------------------------------------------
@pytest.mark.parametrize("cond", [True, False])
def test_if_takes_either_branch(cond):
    model = if_model()
    feeds = {"x": rand(2, 4), "cond": np.array(cond)}
    expected = ort_run(model, feeds)
    graph = graphscope.load(model)
    module = build_module(graph)
    assert_close(torch_run(module, graph, feeds), expected)
    # a copy (its own graph, branch weights included) runs alike
    assert_close(torch_run(copy.deepcopy(module), graph, feeds), expected)


# -- Loop and Scan ---------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 4])
def test_counted_loop_with_carried_state_and_scan_outputs(n):
    model = counted_loop_model()
    feeds = {"n": np.array(n, np.int64), "h0": rand(2, 3, seed=1), "x": rand(2, 3, seed=2)}
    expected = ort_run(model, feeds)
    assert expected["hs"].shape == (n, 2, 3)
    assert_close(interpreter_run(model, feeds), expected)


@pytest.mark.parametrize("with_trip_count", [False, True])
def test_loop_ends_on_its_condition(with_trip_count):
    model = cond_loop_model(3 if with_trip_count else None)
    for x, go in (([1, 2, 3], True), ([0.1, 0.2, 0.3], True), ([1, 2, 3], False)):
        feeds = {"x": np.array(x, np.float32), "go": np.array(go)}
        expected = ort_run(model, feeds)
        assert_close(interpreter_run(model, feeds), expected)
    assert expected["k_final"] == 0  # a false condition runs no iteration


def test_loop_gradient_reaches_outer_weights():
    model = counted_loop_model()
    graph = graphscope.load(model)
    module = build_module(graph, trainable=True)
    x = torch.from_numpy(rand(2, 3, seed=2)).requires_grad_()
    h_final, _, _ = module(torch.tensor(3), torch.from_numpy(rand(2, 3, seed=1)), x)
    h_final.sum().backward()
    w = getattr(module, module._names["w"])
    assert x.grad.abs().sum() > 0 and w.grad.abs().sum() > 0


@pytest.mark.parametrize("axis,reverse", [(0, False), (1, True), (-1, False)])
def test_scan_matches_onnxruntime(axis, reverse):
    model, feeds = scan_model(axis, reverse)
    assert_close(interpreter_run(model, feeds), ort_run(model, feeds))


@pytest.mark.parametrize("op,feeds", [
    ("If", {"x": rand(2, 4), "cond": np.array(False)}),
    ("Loop", {"n": np.array(3, np.int64), "h0": rand(2, 3, seed=1), "x": rand(2, 3, seed=2)}),
    ("Loop", {"n": np.array(0, np.int64), "h0": rand(2, 3, seed=1), "x": rand(2, 3, seed=2)}),
    ("Scan", None)])
def test_control_flow_source_writes_bodies_as_nested_functions(op, feeds):
    if op == "Scan":
        model, feeds = scan_model(1, True)
    else:
        model = {"If": if_model, "Loop": counted_loop_model}[op]()
    got, code = source_run(model, feeds)
    assert_close(got, ort_run(model, feeds))
    assert f"onnx_{op.lower()}(" in code and code.count("        def ") == (2 if op == "If" else 1)


# -- Keras end to end ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras_lstm(tmp_path_factory):
    pytest.importorskip("tensorflow")
    pytest.importorskip("tf2onnx")
    from tests.zoo import tf_models
    model = tf_models.lstm()
    path = tmp_path_factory.mktemp("keras") / "rnn.keras"
    model.save(path)
    return model, path


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_keras_lstm_gru_converts_to_pytorch(keras_lstm):
    model, path = keras_lstm
    module = graphscope.convert(path, to="pytorch")
    for batch in (2, 1):
        x = rand(batch, 20, 6, seed=batch)
        with torch.no_grad():
            got = module(torch.from_numpy(x))
        np.testing.assert_allclose(got.numpy(), np.asarray(model(x)), rtol=RTOL, atol=ATOL)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_keras_lstm_gru_verifies(keras_lstm):
    report = graphscope.convert(keras_lstm[1], to="pytorch", verify=True).report
    assert report is not None and report.ok, report.table()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_keras_lstm_gru_as_source_runs_the_loop(keras_lstm, tmp_path):
    model, path = keras_lstm
    module = graphscope.convert(path, output=tmp_path / "rnn.py").model  # via tf2onnx
    assert "onnx_loop(" in (tmp_path / "rnn.py").read_text()
    x = rand(2, 20, 6, seed=3)
    with torch.no_grad():
        got = module(torch.from_numpy(x))
    np.testing.assert_allclose(got.numpy(), np.asarray(model(x)), rtol=RTOL, atol=ATOL)
