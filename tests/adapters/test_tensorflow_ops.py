"""TF op graphs without TensorFlow: a GraphDef written by hand in text form, the NHWC shape
rules of ops_tf, control-flow bodies as subgraphs, and input-shape overrides."""
from __future__ import annotations

import pytest

import graphscope
from graphscope.errors import ParseError
from graphscope.ir import Graph, TensorType, WeightData, infer_shapes
from graphscope.ir.stats import compute_stats

import numpy as np

PBTXT = """
node { name: "x" op: "Placeholder"
  attr { key: "dtype" value { type: DT_FLOAT } }
  attr { key: "shape" value { shape { dim { size: -1 } dim { size: 28 } dim { size: 28 }
                                      dim { size: 3 } } } } }
node { name: "net/conv/kernel" op: "Const"
  attr { key: "dtype" value { type: DT_FLOAT } }
  attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 5 }
         dim { size: 5 } dim { size: 3 } dim { size: 16 } } float_val: 0.5 } } } }
node { name: "net/conv/kernel/read" op: "Identity" input: "net/conv/kernel" }
node { name: "net/conv/Conv2D" op: "Conv2D" input: "x" input: "net/conv/kernel/read"
  attr { key: "strides" value { list { i: 1 i: 2 i: 2 i: 1 } } }
  attr { key: "padding" value { s: "SAME" } } }
node { name: "net/conv/bias" op: "Const"
  attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 16 } }
         float_val: 0.1 } } } }
node { name: "net/conv/BiasAdd" op: "BiasAdd" input: "net/conv/Conv2D" input: "net/conv/bias" }
node { name: "net/conv/Relu6" op: "Relu6" input: "net/conv/BiasAdd" }
node { name: "net/pool/MaxPool" op: "MaxPool" input: "net/conv/Relu6"
  attr { key: "ksize" value { list { i: 1 i: 2 i: 2 i: 1 } } }
  attr { key: "strides" value { list { i: 1 i: 2 i: 2 i: 1 } } }
  attr { key: "padding" value { s: "VALID" } } }
node { name: "net/flat/shape" op: "Const"
  attr { key: "value" value { tensor { dtype: DT_INT32 tensor_shape { dim { size: 2 } }
         int_val: -1 int_val: 784 } } } }
node { name: "net/flat/Reshape" op: "Reshape" input: "net/pool/MaxPool" input: "net/flat/shape" }
node { name: "net/fc/w" op: "Const"
  attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 784 }
         dim { size: 10 } } float_val: 0.01 } } } }
node { name: "net/fc/MatMul" op: "MatMul" input: "net/flat/Reshape" input: "net/fc/w" }
node { name: "net/out" op: "Softmax" input: "net/fc/MatMul" }
"""


@pytest.fixture
def pbtxt(tmp_path):
    p = tmp_path / "net.pbtxt"
    p.write_text(PBTXT)
    return p


def test_hand_written_graphdef(pbtxt):
    g = graphscope.load(pbtxt)
    names = [n.name for n in g.nodes]
    assert names == ["net/conv/Conv2D", "net/conv/Relu6", "net/pool/MaxPool",
                     "net/flat/Reshape", "net/fc/MatMul", "net/out"]   # Identity/BiasAdd folded
    conv = g.node("net/conv/Conv2D")
    assert conv.namespace == "net/conv" and conv.attrs["strides"] == [2, 2]
    assert conv.outputs[0].type.shape == ("N", 14, 14, 16)        # NHWC rule, SAME padding
    assert g.node("net/pool/MaxPool").outputs[0].type.shape == ("N", 7, 7, 16)
    assert g.node("net/out").outputs[0].type.shape == ("N", 10)
    assert conv.meta["macs"] == 14 * 14 * 16 * 5 * 5 * 3
    assert g.totals()["params"] == 5 * 5 * 3 * 16 + 16 + 784 * 10
    # Const float_val is repeated to fill the tensor, and the filter is viewed as OIHW
    w = conv.inputs[1].data.array
    assert w.shape == (16, 3, 5, 5) and np.all(w == 0.5)
    assert [v.name for v in g.outputs] == ["net/out"]


def test_input_shape_override_reinfers_nhwc(pbtxt):
    g = graphscope.load(pbtxt, input_shapes={"x": (2, 28, 28, 3)})
    assert g.node("net/conv/Conv2D").outputs[0].type.shape == (2, 14, 14, 16)
    assert g.node("net/out").outputs[0].type.shape == (2, 10)


def test_nhwc_rule_leaves_onnx_conv_alone():
    def conv_graph(fmt):
        g = Graph("g")
        shape = (1, 3, 8, 8) if fmt is None else (1, 8, 8, 3)
        g.add_input("x", TensorType("float32", shape))
        g.add_weight("w", WeightData((4, 3, 3, 3), "float32"))
        attrs = {"kernel_shape": [3, 3]} | ({} if fmt is None else {"data_format": fmt})
        g.add_node("Conv", ["x", "w"], ["y"], attrs, name="c")
        g.add_output("y")
        infer_shapes(g)
        compute_stats(g)
        return g.node("c")
    onnx, tf = conv_graph(None), conv_graph("NHWC")
    assert onnx.outputs[0].type.shape == (1, 4, 6, 6)
    assert tf.outputs[0].type.shape == (1, 6, 6, 4)
    assert onnx.meta["macs"] == tf.meta["macs"] == 4 * 36 * 27


def test_corrupt_and_empty_graphdefs(tmp_path):
    bad = tmp_path / "bad.pb"
    bad.write_bytes(b"\x0a\xff\xff\xff\x7fgarbage")
    with pytest.raises(ParseError, match="not a valid TensorFlow GraphDef"):
        graphscope.load(bad)
    empty = tmp_path / "empty.pbtxt"
    empty.write_text("node {\n  op: \"\"\n}\n")  # claimed by its look, but holds nothing
    with pytest.raises(ParseError, match="without a name or an op"):
        graphscope.load(empty)


def test_while_bodies_are_subgraphs():
    pytest.importorskip("tensorflow")
    from tests.zoo import tf_models as zoo
    m = zoo.lstm()
    g = graphscope.load(m, level="ops")
    loops = [n for n in g.nodes if n.op == "tf.While"]
    assert len(loops) == 2
    assert set(loops[0].subgraphs) == {"body", "cond"}
    assert any(n.op == "MatMul" for n in loops[0].subgraphs["body"].nodes)
    assert g.totals()["params"] == m.count_params()


def test_tf_function_with_signature():
    tf = pytest.importorskip("tensorflow")
    w = tf.Variable(np.ones((4, 3), np.float32), name="w")

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def f(x):
        with tf.name_scope("block"):
            return tf.nn.relu(tf.matmul(x, w))
    g = graphscope.load(f)
    assert [n.op for n in g.nodes] == ["MatMul", "Relu"]
    assert g.node("block/MatMul").namespace == "block"
    assert g.totals()["params"] == 12 and g.totals()["macs"] == 12
    assert g.nodes[-1].outputs[0].type.shape == ("N", 3)


RECURSIVE = """
node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }
node { name: "call" op: "PartitionedCall" input: "x"
  attr { key: "f" value { func { name: "f" } } } }
node { name: "out" op: "Relu" input: "call" }
library { function { signature { name: "f" input_arg { name: "a" } output_arg { name: "y" } }
  node_def { name: "inner" op: "PartitionedCall" input: "a"
    attr { key: "f" value { func { name: "f" } } } }
  node_def { name: "t" op: "Tanh" input: "inner:output:0" }
  ret { key: "y" value: "t:y:0" } } }
"""


def test_hostile_graphdefs_are_errors_or_bounded(tmp_path):
    """Identity nodes that read each other are a named error; a function that calls itself
    is inlined once and its recursive call kept as a node (no endless expansion)."""
    cyc = tmp_path / "cycle.pbtxt"
    cyc.write_text('node { name: "a" op: "Identity" input: "b" }\n'
                   'node { name: "b" op: "Identity" input: "a" }\n'
                   'node { name: "r" op: "Relu" input: "a" }\n')
    with pytest.raises(ParseError, match="cycle of Identity"):
        graphscope.load(cyc)
    rec = tmp_path / "recursive.pbtxt"
    rec.write_text(RECURSIVE)
    g = graphscope.load(rec)
    ops = [n.op for n in g.nodes]
    assert ops == ["tf.PartitionedCall", "Tanh", "Relu"]
    assert g.nodes[1].name == "call/t"      # the body, inlined under its caller's name
