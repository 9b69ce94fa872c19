"""Keras / TensorFlow models built in code (random weights, weights=None for applications),
shared by the TensorFlow adapter tests and benchmarks. Import only where TF is wanted."""
from __future__ import annotations


def _keras():
    import keras
    return keras


def small_cnn():
    """Conv + BN + ReLU6 + depthwise + pooling + Dense: the mobile-net building blocks."""
    k = _keras()
    L = k.layers
    inp = k.Input((32, 32, 3), name="img")
    x = L.Conv2D(8, 3, padding="same", name="conv1")(inp)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.ReLU(6.0, name="relu6")(x)
    x = L.DepthwiseConv2D(3, strides=2, name="dw")(x)
    x = L.MaxPooling2D(name="pool")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    y = L.Dense(10, activation="softmax", name="fc")(x)
    return k.Model(inp, y, name="small_cnn")


def multi_io():
    """Two inputs, a Dense shared by both branches, two outputs, a nested Sequential."""
    k = _keras()
    L = k.layers
    a = k.Input((16,), name="a")
    b = k.Input((16,), name="b")
    shared = L.Dense(8, activation="relu", name="shared")
    head = k.Sequential([k.Input((16,)), L.Dense(12, name="h1"), L.Dense(4, name="h2")],
                        name="head")
    xa, xb = shared(a), shared(b)
    cat = L.Concatenate(name="cat")([xa, xb])
    out1 = head(cat)
    out2 = L.Add(name="sum")([xa, xb])
    return k.Model([a, b], [out1, out2], name="multi_io")


def lstm():
    k = _keras()
    inp = k.Input((20, 6), name="seq")
    x = k.layers.LSTM(16, return_sequences=True, name="lstm1")(inp)
    x = k.layers.GRU(8, name="gru")(x)
    return k.Model(inp, k.layers.Dense(3, name="out")(x), name="rnn")


def subclassed():
    """A subclassed model: no layer graph, so it is traced (built on a 1x10 input)."""
    k = _keras()

    class TwoLayer(k.Model):
        def __init__(self):
            super().__init__(name="two_layer")
            self.d1 = k.layers.Dense(32, activation="relu", name="d1")
            self.d2 = k.layers.Dense(5, name="d2")

        def call(self, x):
            return self.d2(self.d1(x))

    m = TwoLayer()
    m(k.ops.zeros((1, 10)))
    return m


def with_lambda():
    k = _keras()
    inp = k.Input((4,), name="x")
    y = k.layers.Lambda(lambda t: t * 2.0, name="double")(inp)
    return k.Model(inp, k.layers.Dense(2, name="fc")(y), name="with_lambda")


def mobilenet_v2():
    return _keras().applications.MobileNetV2(input_shape=(96, 96, 3), weights=None)


def resnet50():
    return _keras().applications.ResNet50(weights=None)


def frozen_graphdef(model) -> bytes:
    """The model traced and frozen: the bytes of a .pb file."""
    from graphscope.adapters.tensorflow.tf_runtime import trace_keras
    return trace_keras(model)[0]


FUNCTIONAL = {"small_cnn": small_cnn, "multi_io": multi_io, "lstm": lstm}
