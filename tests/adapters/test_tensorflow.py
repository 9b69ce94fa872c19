"""TensorFlow / Keras adapter: Keras layer graphs, traced op graphs, GraphDef, SavedModel.

Models are built once per module (TF import and tracing are slow) with random weights."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import graphscope  # noqa: E402
from graphscope.adapters import tensorflow as tfa  # noqa: E402
from graphscope.errors import ParseError, UnsafeModelError  # noqa: E402
from tests.conftest import ROOT, run_cli  # noqa: E402
from tests.zoo import tf_models as zoo  # noqa: E402


def kshape(t):
    """A Keras tensor's shape as the IR writes it (batch None -> 'N')."""
    s = tuple(t.shape)
    return (("N",) + s[1:]) if s and s[0] is None else s


@pytest.fixture(scope="module")
def models():
    return {name: build() for name, build in zoo.FUNCTIONAL.items()}


@pytest.fixture(scope="module")
def saved(models, tmp_path_factory):
    """Each functional zoo model as .keras, .h5 and a SavedModel, plus frozen .pb/.pbtxt."""
    d = tmp_path_factory.mktemp("tf")
    for name, m in models.items():
        m.save(d / f"{name}.keras")
        m.save(d / f"{name}.h5")
        if name != "lstm":
            m.export(d / f"{name}_sm", verbose=False)
    pb = zoo.frozen_graphdef(models["small_cnn"])
    (d / "small_cnn.pb").write_bytes(pb)
    import tensorflow as tf
    from google.protobuf import text_format
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(pb)
    (d / "small_cnn.pbtxt").write_text(text_format.MessageToString(gd))
    return d


@pytest.fixture(scope="module")
def resnet50():
    return zoo.resnet50()


# -- Keras layer graph --------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(zoo.FUNCTIONAL))
def test_layer_graph_params_and_shapes(models, name):
    m = models[name]
    g = graphscope.load(m)
    assert g.totals()["params"] == m.count_params()
    layers = {layer.name: layer for layer in m.layers}
    for node in g.nodes:
        layer = layers.get(node.name)
        if layer is not None and len(layer._inbound_nodes) == 1:
            assert node.outputs[0].type.shape == kshape(layer.output), node.name


def test_small_cnn_canonical_ops_and_costs(models):
    g = graphscope.load(models["small_cnn"])
    ops = {n.name: n.op for n in g.nodes}
    assert ops == {"conv1": "Conv", "bn1": "BatchNormalization", "relu6": "Clip",
                   "dw": "Conv", "pool": "MaxPool", "gap": "GlobalAveragePool", "fc": "Gemm"}
    conv, dw, fc = g.node("conv1"), g.node("dw"), g.node("fc")
    assert conv.attrs["data_format"] == "NHWC" and conv.attrs["auto_pad"] == "SAME_UPPER"
    assert conv.inputs[1].type.shape == (8, 3, 3, 3)            # OIHW view of HWIO kernel
    assert conv.meta["macs"] == 32 * 32 * 8 * 3 * 3 * 3
    assert dw.attrs["group"] == 8 and dw.inputs[1].type.shape == (8, 1, 3, 3)
    assert dw.meta["macs"] == 15 * 15 * 8 * 3 * 3
    assert fc.meta["macs"] == 8 * 10
    # the OIHW view holds the same numbers as Keras's kernel, transposed
    import numpy as np
    k = models["small_cnn"].get_layer("conv1").kernel.numpy()
    assert np.array_equal(conv.inputs[1].data.array, k.transpose(3, 2, 0, 1))


def test_shared_layer_and_nested_model(models):
    g = graphscope.load(models["multi_io"])
    a, b = g.node("shared"), g.node("shared_1")
    assert a.inputs[1] is b.inputs[1]                        # one kernel, read twice
    assert [v.name for v in g.inputs] == ["a", "b"] and len(g.outputs) == 2
    assert g.node("head/h1").namespace == "head"             # nested Sequential -> namespace
    assert g.totals()["params"] == models["multi_io"].count_params() == 392


def test_lstm_gru_in_onnx_layout(models):
    g = graphscope.load(models["lstm"])
    lstm = g.node("lstm1")
    assert lstm.op == "LSTM" and lstm.inputs[1].type.shape == (1, 64, 6)
    assert lstm.meta["macs"] == 20 * (64 * 6 + 64 * 16)      # steps * (W + R)
    assert g.node("gru").op == "GRU"


def test_subclassed_model_is_traced():
    m = zoo.subclassed()
    g = graphscope.load(m)
    assert g.metadata["level"] == "ops"
    assert g.totals()["params"] == m.count_params() == 517
    assert [n.op for n in g.nodes] == ["Gemm", "Relu", "Gemm"]   # MatMul+BiasAdd folded


@pytest.mark.parametrize("build", [zoo.mobilenet_v2,
                                   lambda: keras.applications.EfficientNetB0(weights=None),
                                   lambda: keras.applications.InceptionV3(weights=None)],
                         ids=["mobilenet_v2", "efficientnet_b0", "inception_v3"])
def test_applications_params_and_shapes(build):
    m = build()
    g = graphscope.load(m)
    assert g.totals()["params"] == m.count_params()
    assert g.totals()["unknown_macs"] == 0
    for layer in m.layers[1:]:
        if len(layer._inbound_nodes) == 1:
            assert g.node(layer.name).outputs[0].type.shape == kshape(layer.output)


# -- files: .keras, .h5, SavedModel, GraphDef -----------------------------------------------------
@pytest.mark.parametrize("name", sorted(zoo.FUNCTIONAL))
def test_same_totals_across_files(models, saved, name):
    want = graphscope.load(models[name]).totals()
    for suffix in (".keras", ".h5"):
        assert graphscope.load(saved / f"{name}{suffix}").totals() == want
    if name != "lstm":
        sm = graphscope.load(saved / f"{name}_sm")
        assert sm.metadata["signature"] == "serving_default"
        assert sm.totals()["params"] == models[name].count_params()


def test_graphdef_pb_and_pbtxt(models, saved):
    m = models["small_cnn"]
    pb = graphscope.load(saved / "small_cnn.pb")
    txt = graphscope.load(saved / "small_cnn.pbtxt")
    assert pb.totals() == txt.totals()
    assert pb.totals()["params"] == m.count_params()
    conv = next(n for n in pb.nodes if n.source_op == "Conv2D")
    assert conv.op == "Conv" and len(conv.inputs) == 3       # BiasAdd folded in as B
    assert conv.namespace.endswith("conv1_1")
    layers = graphscope.load(m)
    # one cost model: BN decomposed into Rsqrt/Mul/Add costs its 1 MAC per element there too
    assert pb.totals()["macs"] == layers.totals()["macs"]
    bn_scale = [n for n in pb.nodes if n.op == "Mul" and n.meta["macs"]]
    assert len(bn_scale) == 1 and bn_scale[0].meta["macs"] == 32 * 32 * 8


def test_graphdef_and_saved_model_read_without_importing_tensorflow(saved):
    code = ("import sys, graphscope; g = graphscope.load(sys.argv[1]); "
            "print(g.totals()['params'], 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    for f in ("small_cnn.pb", "small_cnn.pbtxt", "small_cnn_sm"):
        out = subprocess.run([sys.executable, "-c", code, str(saved / f)], capture_output=True,
                             text=True, cwd=ROOT, check=True).stdout.split()
        assert out == ["426", "False", "False"]


def test_keras_ops_level_grouped_by_layer(models):
    g = graphscope.load(models["small_cnn"], level="ops")
    spaces = {n.namespace for n in g.nodes}
    assert {"conv1", "dw", "fc", "pool"} <= spaces
    assert g.totals()["params"] == models["small_cnn"].count_params()


def test_resnet50_graphdef_macs_match_keras(resnet50, tmp_path):
    layers = graphscope.load(resnet50)
    assert layers.totals()["params"] == resnet50.count_params() == 25636712
    pb = tmp_path / "resnet50.pb"
    pb.write_bytes(zoo.frozen_graphdef(resnet50))
    ops = graphscope.load(pb)
    assert len(ops.nodes) > 500
    assert abs(ops.totals()["macs"] / layers.totals()["macs"] - 1) < 0.01
    assert ops.totals()["params"] == resnet50.count_params()
    assert 3.8e9 < layers.totals()["macs"] < 4.2e9
    # name scopes are namespaces: model scope, then one scope per Keras layer
    assert {n.namespace.split("/")[0] for n in ops.nodes} == {"resnet50_1"}
    assert "resnet50_1/conv2_block1_1_conv_1" in {n.namespace for n in ops.nodes}


def test_saved_model_matches_frozen_graph_and_reads_values(models, saved):
    import numpy as np
    sm = graphscope.load(saved / "small_cnn_sm")
    frozen = graphscope.load(saved / "small_cnn.pb")
    assert sm.totals()["params"] == frozen.totals()["params"] == 426
    assert sm.totals()["macs"] == frozen.totals()["macs"]
    # the called functions are inlined: every op is a node `info` lists, in its layer's scope
    assert not [n for _, n in sm.walk() if n.op.endswith("PartitionedCall")]
    assert len(sm.nodes) == sum(1 for _ in sm.walk())
    conv = next(n for n in sm.nodes if n.op == "Conv")
    assert conv.namespace.split("/")[-1].startswith("conv1")
    assert [n.op for n in sm.nodes].count("Conv") == [n.op for n in frozen.nodes].count("Conv")
    kernel = next(v for v in sm.weights.values() if v.data.shape == (3, 3, 3, 8))
    want = models["small_cnn"].get_layer("conv1").kernel.numpy()
    assert np.array_equal(kernel.data.array, want)            # read through TF on demand


def test_saved_model_signature_choice(saved):
    g = graphscope.load(saved / "small_cnn_sm", signature="serve")
    assert g.metadata["signature"] == "serve"
    with pytest.raises(ParseError, match="no signature 'nope'.*serve"):
        graphscope.load(saved / "small_cnn_sm", signature="nope")


# -- detection ------------------------------------------------------------------------------------
def test_match(saved, tmp_path):
    caffe = tmp_path / "net.pbtxt"
    caffe.write_text('name: "x"\nlayer {\n  name: "data"\n  type: "Input"\n}\n')
    assert not tfa.match(caffe)
    assert tfa.match(saved / "small_cnn.pbtxt")
    assert tfa.match(saved / "small_cnn_sm") and not tfa.match(tmp_path)
    assert tfa.match(saved / "small_cnn.h5") and tfa.match(saved / "small_cnn.keras")


# -- safety ---------------------------------------------------------------------------------------
def test_lambda_shown_live_and_refused_from_file(tmp_path):
    m = zoo.with_lambda()
    g = graphscope.load(m)
    assert g.node("double").op == "keras.Lambda"
    path = tmp_path / "lam.keras"
    m.save(path)
    with pytest.raises(UnsafeModelError, match="double"):
        graphscope.load(path)
    assert graphscope.load(path, trust=True).node("double").op == "keras.Lambda"
    r = run_cli("info", path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--trust" in r.stderr


# -- bad input through the CLI: one line, exit 2 --------------------------------------------------
def _bad_inputs(saved, d):
    (d / "corrupt.pb").write_bytes(b"\x0a\xff\xff\xff\x7fgarbage" * 10)
    with zipfile.ZipFile(d / "noconfig.keras", "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3"}))
    import h5py
    with h5py.File(d / "weights_only.h5", "w") as f:
        f.create_dataset("w", data=[1.0, 2.0])
    return [(["info", d / "corrupt.pb"], "GraphDef"),
            (["info", d / "noconfig.keras"], "config.json"),
            (["info", d / "weights_only.h5"], "no model config"),
            (["info", saved / "small_cnn_sm", "--signature", "nope"], "no signature 'nope'")]


def test_bad_input_one_line_exit_2(saved, tmp_path):
    for args, what in _bad_inputs(saved, tmp_path):
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("graphscope: error: "), r.stderr
        assert what in lines[0]


def test_cli_info_and_render(saved, tmp_path):
    r = run_cli("info", saved / "small_cnn.keras", "--json")
    assert r.returncode == 0, r.stderr
    r = run_cli("info", saved / "small_cnn.keras", "--level", "ops")
    assert r.returncode == 0 and "Conv" in r.stdout, r.stderr
    out = tmp_path / "g.dot"
    r = run_cli("render", saved / "small_cnn.pb", "-o", out, "--depth", "0")
    assert r.returncode == 0, r.stderr
    assert "digraph" in out.read_text()
