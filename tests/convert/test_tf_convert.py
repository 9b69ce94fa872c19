"""TensorFlow sources convert through tf2onnx: Keras files, SavedModel directories and frozen
GraphDef files -> ONNX (checked, run with onnxruntime) and -> PyTorch, compared with what
TensorFlow itself computes."""
import numpy as np
import pytest

import graphscope

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytest.importorskip("tf2onnx")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from tests.zoo import tf_models  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5
# Keras saving a model calls np.array on TF variables (Keras' issue, not ours)
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


# -- inputs ------------------------------------------------------------------------------------
def image_inputs(shape, seed=0):
    """Random and structured N x H x W x C images: a smooth gradient, a checkerboard, all
    zeros, a constant."""
    n, h, w, c = shape
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    gradient = np.stack([xx, yy, (xx + yy) / 2, 1 - xx][:c], axis=-1)
    checker = np.indices((h, w)).sum(axis=0) % 2 * 2.0 - 1.0
    return {"random": np.random.default_rng(seed).standard_normal(shape),
            "gradient": np.broadcast_to(gradient, shape),
            "checkerboard": np.broadcast_to(checker[..., None], shape),
            "zeros": np.zeros(shape),
            "constant": np.full(shape, 0.7)}


def vector_inputs(shape, seed=0):
    n, d = shape
    return {"random": np.random.default_rng(seed).standard_normal(shape),
            "ramp": np.broadcast_to(np.linspace(-2, 2, d), shape),
            "alternating": np.broadcast_to(np.resize([1.0, -1.0], d), shape),
            "zeros": np.zeros(shape),
            "constant": np.full(shape, -0.3)}


def as_f32(d):
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in d.items()}


def randomize(model, seed=1):
    """Biases away from their zero start and BatchNormalization statistics away from 0/1, so
    that every bias add and normalization is checked."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        if v.path.endswith("bias"):
            v.assign(rng.normal(0, 0.5, tuple(v.shape)).astype(np.float32))
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = (w.shape for w in layer.get_weights())
            layer.set_weights([rng.uniform(0.5, 1.5, gamma), rng.normal(0, 0.2, beta),
                               rng.normal(0, 0.3, mean), rng.uniform(0.5, 2.0, var)])


def run_onnx(path_or_proto, feeds: dict) -> list:
    data = path_or_proto if isinstance(path_or_proto, bytes) else \
        open(path_or_proto, "rb").read()
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    assert sorted(names) == sorted(feeds), (names, list(feeds))
    return sess.run(None, feeds)


def check_onnx_file(path):
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    return model


def close(got, expected):
    got = got if isinstance(got, (list, tuple)) else [got]
    expected = expected if isinstance(expected, (list, tuple)) else [expected]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        g = g.detach().numpy() if hasattr(g, "detach") else np.asarray(g)
        e = e.numpy() if hasattr(e, "numpy") else np.asarray(e)
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL)


# -- models, built and saved once --------------------------------------------------------------
@pytest.fixture(scope="module")
def models(tmp_path_factory):
    keras.utils.set_random_seed(0)
    d = tmp_path_factory.mktemp("tf_convert")
    cnn = tf_models.small_cnn()
    randomize(cnn)
    mio = tf_models.multi_io()
    randomize(mio)
    cnn.save(d / "small_cnn.keras")
    mio.save(d / "multi_io.keras")
    return {"dir": d, "cnn": cnn, "mio": mio}


class TwoSignatures(tf.Module):
    """A tf.Module saved with two signatures that compute different things."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(3)
        self.w = tf.Variable(rng.standard_normal((6, 5)).astype(np.float32))
        self.b = tf.Variable(rng.standard_normal((5,)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec((None, 6), tf.float32, name="x")])
    def serve(self, x):
        h = tf.matmul(x, self.w) + self.b
        return {"relu": tf.nn.relu(h), "total": tf.reduce_sum(h, axis=1)}

    @tf.function(input_signature=[tf.TensorSpec((None, 6), tf.float32, name="x")])
    def scaled(self, x):
        return {"out": tf.tanh(tf.matmul(x * 3.0, self.w))}


@pytest.fixture(scope="module")
def saved_models(models):
    d = models["dir"]
    models["cnn"].export(str(d / "cnn_export"), verbose=False)  # Keras 3: serving_default
    module = TwoSignatures()
    tf.saved_model.save(module, str(d / "module"),
                        signatures={"serving_default": module.serve, "scaled": module.scaled})
    return {"cnn": d / "cnn_export", "module": d / "module", "tf_module": module}


@pytest.fixture(scope="module")
def frozen(models):
    from google.protobuf import text_format
    d = models["dir"]
    paths = {}
    for key in ("cnn", "mio"):
        data = tf_models.frozen_graphdef(models[key])
        paths[key] = d / f"{key}_frozen.pb"
        paths[key].write_bytes(data)
    gd = tf.compat.v1.GraphDef.FromString(paths["cnn"].read_bytes())
    paths["cnn_text"] = d / "cnn_frozen.pbtxt"
    paths["cnn_text"].write_text(text_format.MessageToString(gd))
    return paths


# -- SavedModel -> ONNX ------------------------------------------------------------------------
def test_keras_saved_model_to_onnx(models, saved_models, tmp_path):
    out = tmp_path / "cnn.onnx"
    result = graphscope.convert(saved_models["cnn"], to="onnx", output=out)
    assert result.path == out
    check_onnx_file(out)
    for x in as_f32(image_inputs((2, 32, 32, 3))).values():
        got = run_onnx(out, {"img": x})
        close(got, models["cnn"](x, training=False))


@pytest.mark.parametrize("where", ["directory", "saved_model.pb"])
def test_module_saved_model_to_onnx_keeps_signature_names(saved_models, tmp_path, where):
    module = saved_models["tf_module"]
    source = saved_models["module"]
    source = source if where == "directory" else source / where
    out = tmp_path / "module.onnx"
    graphscope.convert(source, to="onnx", output=out)
    model = check_onnx_file(out)
    assert [o.name for o in model.graph.output] == ["relu", "total"]
    for x in as_f32(vector_inputs((3, 6))).values():
        expected = module.serve(tf.constant(x))
        close(run_onnx(out, {"x": x}), [expected["relu"], expected["total"]])


def test_saved_model_converts_the_signature_it_was_loaded_with(saved_models, tmp_path):
    module = saved_models["tf_module"]
    graph = graphscope.load(saved_models["module"], signature="scaled")
    assert graph.metadata["signature"] == "scaled"
    out = tmp_path / "scaled.onnx"
    graphscope.convert(graph, to="onnx", output=out)
    model = check_onnx_file(out)
    assert [o.name for o in model.graph.output] == ["out"]
    x = as_f32(vector_inputs((2, 6)))["random"]
    close(run_onnx(out, {"x": x}), module.scaled(tf.constant(x))["out"])


def test_saved_model_to_pytorch(models, saved_models):
    module = graphscope.convert(saved_models["cnn"], to="pytorch")
    assert isinstance(module, torch.nn.Module)
    for x in as_f32(image_inputs((1, 32, 32, 3))).values():
        with torch.no_grad():
            got = module(torch.from_numpy(x))
        close(got, models["cnn"](x, training=False))


def test_saved_model_probes_through_onnx(models, saved_models):
    x = as_f32(image_inputs((1, 32, 32, 3)))["gradient"]
    result = graphscope.probe(saved_models["cnn"], x)
    close(result.layers[-1].array, models["cnn"](x, training=False))


# -- frozen GraphDef -> ONNX -------------------------------------------------------------------
@pytest.mark.parametrize("key", ["cnn", "cnn_text"])
def test_frozen_graphdef_to_onnx(models, frozen, key, tmp_path):
    graph = graphscope.load(frozen[key])
    out = tmp_path / "frozen.onnx"
    graphscope.convert(graph, to="onnx", output=out)
    model = check_onnx_file(out)
    # the ONNX inputs and outputs carry the names the adapter drew
    assert [i.name for i in model.graph.input] == [v.name for v in graph.inputs] == ["img"]
    assert [o.name for o in model.graph.output] == [v.name for v in graph.outputs]
    for x in as_f32(image_inputs((2, 32, 32, 3))).values():
        close(run_onnx(out, {"img": x}), models["cnn"](x, training=False))


def test_frozen_graphdef_with_folded_bias_outputs_to_onnx(models, frozen, tmp_path):
    """multi_io's first output is a Dense: the adapter folds its BiasAdd and names the
    MatMul; the conversion still ends after the bias."""
    out = tmp_path / "mio.onnx"
    graphscope.convert(frozen["mio"], to="onnx", output=out)
    check_onnx_file(out)
    for name, a in as_f32(vector_inputs((2, 16), seed=0)).items():
        b = as_f32(vector_inputs((2, 16), seed=1))[name][:, ::-1].copy()
        close(run_onnx(out, {"a": a, "b": b}), models["mio"]([a, b], training=False))


def test_frozen_graphdef_to_pytorch(models, frozen):
    module = graphscope.convert(frozen["cnn"], to="pytorch")
    x = as_f32(image_inputs((1, 32, 32, 3)))["checkerboard"]
    with torch.no_grad():
        close(module(torch.from_numpy(x)), models["cnn"](x, training=False))


# -- Keras files -> PyTorch and ONNX -----------------------------------------------------------
@pytest.fixture(scope="module")
def cnn_torch(models):
    return graphscope.convert(models["dir"] / "small_cnn.keras", to="pytorch")


@pytest.fixture(scope="module")
def mio_torch(models):
    return graphscope.convert(models["dir"] / "multi_io.keras", to="pytorch")


@pytest.mark.parametrize("kind", ["random", "gradient", "checkerboard", "zeros", "constant"])
def test_keras_cnn_to_pytorch(models, cnn_torch, kind):
    x = as_f32(image_inputs((2, 32, 32, 3)))[kind]
    with torch.no_grad():
        got = cnn_torch(torch.from_numpy(x))
    close(got, models["cnn"](x, training=False))


@pytest.mark.parametrize("kind", ["random", "ramp", "alternating", "zeros", "constant"])
def test_keras_multi_io_to_pytorch(models, mio_torch, kind):
    a = as_f32(vector_inputs((3, 16), seed=0))[kind]
    b = as_f32(vector_inputs((3, 16), seed=1))[kind][:, ::-1].copy() + np.float32(0.5)
    with torch.no_grad():
        got = mio_torch(torch.from_numpy(a), torch.from_numpy(b))
    assert isinstance(got, tuple) and len(got) == 2
    close(got, models["mio"]([a, b], training=False))


def test_keras_files_to_onnx(models, tmp_path):
    cnn = tmp_path / "cnn.onnx"
    graphscope.convert(models["dir"] / "small_cnn.keras", to="onnx", output=cnn)
    check_onnx_file(cnn)
    for x in as_f32(image_inputs((2, 32, 32, 3))).values():
        close(run_onnx(cnn, {"img": x}), models["cnn"](x, training=False))
    mio = tmp_path / "mio.onnx"
    graphscope.convert(models["dir"] / "multi_io.keras", to="onnx", output=mio)
    check_onnx_file(mio)
    for a in as_f32(vector_inputs((2, 16))).values():
        b = np.ascontiguousarray(a[:, ::-1] * 2)
        close(run_onnx(mio, {"a": a, "b": b}), models["mio"]([a, b], training=False))


def test_keras_mobilenet_v2_to_pytorch(tmp_path):
    keras.utils.set_random_seed(0)
    net = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None,
                                         classes=10)
    randomize(net)
    path = tmp_path / "mobilenet_v2.keras"
    net.save(path)
    module = graphscope.convert(path, to="pytorch")
    for kind in ("random", "gradient", "checkerboard"):
        x = as_f32(image_inputs((1, 32, 32, 3)))[kind]
        with torch.no_grad():
            got = module(torch.from_numpy(x))
        close(got, net(x, training=False))


def test_keras_verify_report(models):
    result = graphscope.convert(models["dir"] / "small_cnn.keras", to="pytorch", verify=True)
    report = result.report
    assert report is not None and report.ok, report.table()
    assert report.reference == "Keras"  # the source side is Keras itself, layer by layer
    assert len(report.layers) > 5


def test_keras_verify_names_a_perturbed_layer(models):
    from graphscope.convert.api import verify_conversion
    from graphscope.convert.from_tf import runnable_graph
    graph = runnable_graph(graphscope.load(models["dir"] / "small_cnn.keras"))
    module = graphscope.convert(graph, to="pytorch")
    conv = next(n for n in graph.nodes if n.op == "Conv" and "conv1" in n.namespace)
    with torch.no_grad():
        getattr(module, module._names[conv.inputs[1].name]).mul_(1.05)
    report = verify_conversion(graph, "pytorch", module, 1e-4, 1e-5)
    assert report.reference == "Keras"
    assert report.first_divergence.node == conv.name, report.table()
    assert all(d.ok for d in report.layers[:report.layers.index(report.first_divergence)])


# -- what does not convert ---------------------------------------------------------------------
def test_other_graphs_are_returned_unchanged(models):
    from graphscope.convert.from_tf import runnable_graph
    graph = graphscope.load(models["cnn"])  # a live model: no file for tf2onnx to read
    assert runnable_graph(graph) is graph


def test_tf2onnx_failure_is_an_unsupported_error(tmp_path):
    """A GraphDef cut at a Placeholder that does not exist: tf2onnx fails; the error names
    the file and carries one line."""
    from graphscope.convert.from_tf import graphdef_to_onnx

    @tf.function(input_signature=[tf.TensorSpec((1, 4), tf.float32, name="x")])
    def f(x):
        return tf.nn.relu(x) * 2.0
    path = tmp_path / "f.pb"
    path.write_bytes(f.get_concrete_function().graph.as_graph_def().SerializeToString())
    with pytest.raises(graphscope.UnsupportedError) as info:
        graphdef_to_onnx(path, ["missing"], ["mul"])
    assert info.value.file == str(path)
    assert "tf2onnx" in info.value.message and "\n" not in info.value.message


def test_op_without_onnx_form_is_an_unsupported_error(tmp_path):
    """tf2onnx only logs a TF op it cannot map and leaves it in the graph: the conversion
    refuses it, naming the op."""
    @tf.function(input_signature=[tf.TensorSpec((2, 3), tf.float32, name="x")])
    def f(x):
        return tf.math.lgamma(x * x + 1.0)
    path = tmp_path / "lgamma.pb"
    path.write_bytes(f.get_concrete_function().graph.as_graph_def().SerializeToString())
    with pytest.raises(graphscope.UnsupportedError, match="Lgamma") as info:
        graphscope.convert(path, to="onnx")
    assert info.value.file == str(path)


@pytest.mark.parametrize("which", ["saved_model", "frozen"])
def test_tf_graph_sources_verify_against_tensorflow(saved_models, frozen, which):
    """SavedModel and GraphDef sources run in TensorFlow itself on the --verify side; a
    perturbed conversion is caught at the perturbed layer."""
    from graphscope.convert.api import verify_conversion
    from graphscope.convert.from_tf import runnable_graph
    path = saved_models["cnn"] if which == "saved_model" else frozen["cnn"]
    result = graphscope.convert(path, to="pytorch", verify=True)
    assert result.report.reference == "TensorFlow" and result.report.ok, result.report.table()
    assert len(result.report.layers) > 5
    graph = runnable_graph(graphscope.load(path))
    module = graphscope.convert(graph, to="pytorch")
    fc = next(n for n in graph.nodes if n.op == "MatMul" and "fc" in n.name)
    with torch.no_grad():
        getattr(module, module._names[fc.inputs[1].name]).mul_(1.05)
    report = verify_conversion(graph, "pytorch", module, 1e-4, 1e-5)
    assert report.first_divergence.node == fc.name, report.table()
    assert all(d.ok for d in report.layers[:report.layers.index(report.first_divergence)])
