"""Keras models run and convert through tf2onnx's ONNX: probes and `convert --to onnx`."""
import numpy as np
import pytest

import graphscope

keras = pytest.importorskip("keras")
pytest.importorskip("tf2onnx")


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16, 16, 3), batch_size=1, name="image"),
                              keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
                              keras.layers.MaxPooling2D(name="pool"),
                              keras.layers.GlobalAveragePooling2D(name="gap"),
                              keras.layers.Dense(4, name="fc")])
    path = tmp_path_factory.mktemp("keras") / "small.keras"
    model.save(path)
    x = np.random.default_rng(0).standard_normal((1, 16, 16, 3)).astype(np.float32)
    return path, x, model(x, training=False).numpy()


def test_keras_to_onnx_computes_the_same(keras_file, tmp_path):
    import onnx
    import onnxruntime as ort
    path, x, expected = keras_file
    result = graphscope.convert(path, to="onnx", output=tmp_path / "small.onnx")
    model = onnx.load(str(result.path))
    onnx.checker.check_model(model, full_check=True)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_keras_model_probes_through_onnx(keras_file):
    path, x, expected = keras_file
    result = graphscope.probe(path, x)
    assert result.layers, "no layer probed"
    final = result.layers[-1]
    np.testing.assert_allclose(final.array, expected, rtol=1e-4, atol=1e-5)
    ops = {p.op for p in result.layers}
    assert {"Conv", "Relu", "MaxPool"} <= ops
    relu = next(p for p in result.layers if p.op == "Relu")
    assert relu.stats["min"] >= 0 and relu.stats["zero_fraction"] > 0


def test_keras_saliency_equals_tensorflow_gradients(keras_file):
    import tensorflow as tf
    path, x, _ = keras_file
    model = keras.saving.load_model(path)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        score = model(xt, training=False)[0, 2]
    expected = np.abs(tape.gradient(score, xt).numpy()[0]).max(axis=-1)  # H x W
    r = graphscope.explain(path, x, method="saliency", target=2)
    assert r.map.shape == (16, 16)
    np.testing.assert_allclose(r.map, expected, rtol=1e-3, atol=1e-6)
    with pytest.raises(graphscope.GraphscopeError, match="needs --layer"):
        graphscope.explain(path, x, method="gradcam")
