"""Recurrent (LSTM, GRU, RNN) and control-flow (If, Loop, Scan) ONNX models built node by
node (random weights, fixed seeds), shared by the torch runtime and the TensorFlow converter
tests; the builders return (model, feeds) where the feeds depend on how the model is built."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RTOL, ATOL = 1e-4, 1e-5
F, I64, I32, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32, TensorProto.BOOL
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
SEQ, BATCH, INPUT, HIDDEN = 5, 3, 4, 6


def rand(*shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def make_model(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "case", inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def value_info(name, dtype=F, shape=None):
    return helper.make_tensor_value_info(name, dtype, shape)


def untyped_output(name):  # a graph output of undeclared type
    return onnx.ValueInfoProto(name=name)


def body_graph(nodes, inputs, outputs, inits=()):
    """A Loop or Scan body; inputs and outputs are (name, dtype, shape) triples."""
    return helper.make_graph(nodes, "body", [value_info(n, t, s) for n, t, s in inputs],
                             [value_info(n, t, s) for n, t, s in outputs], list(inits))


def assert_close(got: dict, expected: dict):
    assert set(got) == set(expected)
    for name, e in expected.items():
        assert got[name].shape == e.shape and got[name].dtype == e.dtype, name
        np.testing.assert_allclose(got[name], e, rtol=RTOL, atol=ATOL, err_msg=name)


# -- LSTM / GRU / RNN ------------------------------------------------------------------------
def recurrent_case(op, direction="forward", bias=True, initial=False, lens=None,
                   peepholes=False, layout=0, batch=BATCH, outputs=None, **attrs):
    """(model, feeds) for one recurrent op named "rnn": weights are initializers; x,
    sequence_lens and the initial states graph inputs."""
    dirs = 2 if direction == "bidirectional" else 1
    g = GATES[op]
    inputs, feeds = [], {}

    def feed(name, value, dtype=F):
        inputs.append(value_info(name, dtype, list(value.shape)))
        feeds[name] = value
        return name

    def batch_major(value):  # layout 1 puts the batch first: the same values, transposed
        return np.ascontiguousarray(value.swapaxes(0, 1)) if layout else value

    x = feed("x", batch_major(rand(SEQ, batch, INPUT, seed=1)))
    inits = [numpy_helper.from_array(rand(dirs, g * HIDDEN, INPUT, seed=2, scale=0.5), "W"),
             numpy_helper.from_array(rand(dirs, g * HIDDEN, HIDDEN, seed=3, scale=0.5), "R")]
    names = [x, "W", "R", "", "", "", "", ""]
    if bias:
        inits.append(numpy_helper.from_array(rand(dirs, 2 * g * HIDDEN, seed=4), "B"))
        names[3] = "B"
    if lens is not None:
        names[4] = feed("lens", np.array(lens, np.int32), I32)
    if initial:
        names[5] = feed("h0", batch_major(rand(dirs, batch, HIDDEN, seed=5)))
        if op == "LSTM":
            names[6] = feed("c0", batch_major(rand(dirs, batch, HIDDEN, seed=6)))
    if peepholes:
        inits.append(numpy_helper.from_array(rand(dirs, 3 * HIDDEN, seed=7), "P"))
        names[7] = "P"
    while names[-1] == "":
        names.pop()
    outs = outputs or (["Y", "Y_h", "Y_c"] if op == "LSTM" else ["Y", "Y_h"])
    node = helper.make_node(op, names, outs, name="rnn", hidden_size=HIDDEN,
                            direction=direction, **({"layout": 1} if layout else {}), **attrs)
    return make_model([node], inputs, [untyped_output(o) for o in outs if o], inits), feeds


# -- If --------------------------------------------------------------------------------------
def if_model(cond_as_input=True) -> onnx.ModelProto:
    """y = If(cond) then x @ w + 1 else relu(x) - x: both branches read outer values. cond is
    a graph input, or (``cond_as_input=False``) an initializer holding False."""
    then_g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["mm"]),
         helper.make_node("Add", ["mm", "one"], ["t_out"])], "then", [],
        [value_info("t_out", F, [2, 4])], [numpy_helper.from_array(np.float32(1.0), "one")])
    else_g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Sub", ["r", "x"], ["e_out"])],
        "else", [], [value_info("e_out", F, [2, 4])])
    inputs = [value_info("x", F, [2, 4])]
    inits = [numpy_helper.from_array(rand(4, 4, seed=2), "w")]
    if cond_as_input:
        inputs.append(value_info("cond", BOOL, []))
    else:
        inits.append(numpy_helper.from_array(np.array(False), "cond"))
    node = helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g)
    return make_model([node], inputs, [untyped_output("y")], inits)


# -- Loop and Scan ---------------------------------------------------------------------------
def counted_loop_model() -> onnx.ModelProto:
    """for i < n: h = tanh(h @ w + x * i); scan outputs h and i * 2 (w and x from outside)."""
    body = body_graph(
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
    inputs = [value_info("n", I64, []), value_info("h0", F, [2, 3]), value_info("x", F, [2, 3])]
    inits = [numpy_helper.from_array(rand(3, 3, seed=4), "w")]
    return make_model([node], inputs,
                      [untyped_output("h_final"), untyped_output("hs"), untyped_output("is")],
                      inits)


def cond_loop_model(trip_count: int | None = None, cond_input: bool = True) -> onnx.ModelProto:
    """Double x until its sum passes 100 (or, with a ``trip_count``, that many iterations
    run out); the carried count of steps and the running sums are outputs. The graph inputs
    are x and go; with ``cond_input=False`` the Loop does not read go, and the body's cond
    still ends the loop, as in onnxruntime."""
    body = body_graph(
        [helper.make_node("Mul", ["x_in", "two"], ["x_out"]),
         helper.make_node("ReduceSum", ["x_out"], ["s"], keepdims=0),
         helper.make_node("Less", ["s", "limit"], ["c_out"]),
         helper.make_node("Add", ["k_in", "one"], ["k_out"])],
        [("i", I64, []), ("c_in", BOOL, []), ("x_in", F, [3]), ("k_in", I64, [])],
        [("c_out", BOOL, []), ("x_out", F, [3]), ("k_out", I64, []), ("s", F, [])],
        [numpy_helper.from_array(np.float32(2), "two"),
         numpy_helper.from_array(np.int64(1), "one")])
    node = helper.make_node("Loop", ["m" if trip_count is not None else "",
                                     "go" if cond_input else "", "x", "k0"],
                            ["x_final", "k_final", "sums"], body=body)
    inits = [numpy_helper.from_array(np.float32(100), "limit"),
             numpy_helper.from_array(np.int64(0), "k0")]
    if trip_count is not None:
        inits.append(numpy_helper.from_array(np.int64(trip_count), "m"))
    return make_model([node], [value_info("x", F, [3]), value_info("go", BOOL, [])],
                      [untyped_output("x_final"), untyped_output("k_final"),
                       untyped_output("sums")], inits)


def scan_model(axis, reverse):
    """(model, feeds): running sums over ``axis`` of x (last step first with ``reverse``);
    the per-step products come out on that axis, in the same direction."""
    body = body_graph([helper.make_node("Add", ["acc_in", "x_t"], ["acc_out"]),
                       helper.make_node("Mul", ["acc_out", "x_t"], ["y_t"])],
                      [("acc_in", F, [2]), ("x_t", F, [2])],
                      [("acc_out", F, [2]), ("y_t", F, [2])])
    node = helper.make_node("Scan", ["acc0", "x"], ["acc", "ys"], body=body, num_scan_inputs=1,
                            scan_input_axes=[axis], scan_input_directions=[int(reverse)],
                            scan_output_axes=[axis], scan_output_directions=[int(reverse)])
    shape = [5, 2] if axis == 0 else [2, 5]
    model = make_model([node], [value_info("acc0", F, [2]), value_info("x", F, shape)],
                       [untyped_output("acc"), untyped_output("ys")])
    return model, {"acc0": rand(2), "x": rand(*shape, seed=1)}
