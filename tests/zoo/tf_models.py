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


def with_ops():
    """Bare keras.ops calls in a functional model: `x + 3.0` (MobileNetV3's hard-sigmoid),
    a product of two tensors, a subtraction from a constant and an ops.reshape."""
    k = _keras()
    inp = k.Input((4,), name="x")
    y = k.layers.Dense(6, name="d")(inp)
    h = y + 3.0
    z = h * y
    z = 1.0 - z
    z = k.ops.reshape(z, (-1, 2, 3))
    return k.Model(inp, z, name="with_ops")


def _layer_scale_class():
    """A subclassed layer graphscope does not know (like ConvNeXt's LayerScale): it must be
    drawn with its config and weights, its shape taken from what Keras recorded."""
    k = _keras()

    @k.saving.register_keras_serializable(package="graphscope_tests")
    class ScaleByVector(k.layers.Layer):
        def __init__(self, init=1e-6, **kw):
            super().__init__(**kw)
            self.init = init

        def build(self, shape):
            self.gamma = self.add_weight(shape=(shape[-1],), name="gamma",
                                         initializer=k.initializers.Constant(self.init))

        def call(self, x):
            return x * self.gamma

        def get_config(self):
            return {**super().get_config(), "init": self.init}
    return ScaleByVector


def mini_convnext(size: int = 32):
    """A ConvNeXt block in small: grouped 7x7 conv, LayerNorm, Dense on NHWC (Tensordot),
    GELU (Erfc), a custom scale layer and the residual `inputs + x` as a bare keras.ops add."""
    k = _keras()
    L = k.layers
    Scale = _layer_scale_class()
    inp = k.Input((size, size, 3), name="img")
    x = L.Normalization(mean=[0.5, 0.4, 0.3], variance=[0.1, 0.2, 0.3], name="prenorm")(inp)
    x = L.Conv2D(16, 4, strides=4, name="stem")(x)
    r = x
    x = L.Conv2D(16, 7, padding="same", groups=16, name="dw")(x)
    x = L.LayerNormalization(epsilon=1e-6, name="ln")(x)
    x = L.Dense(64, name="pw1")(x)
    x = L.Activation("gelu", name="gelu")(x)
    x = L.Dense(16, name="pw2")(x)
    x = Scale(name="scale")(x)
    x = r + x
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return k.Model(inp, L.Dense(5, name="head")(x), name="mini_convnext")


def mobilenet_v3_small(size: int = 32):
    return _keras().applications.MobileNetV3Small(input_shape=(size, size, 3), weights=None)


def efficientnet_b0(size: int = 32):
    return _keras().applications.EfficientNetB0(input_shape=(size, size, 3), weights=None)


def tf_shape_ops():
    """A tf.function using the TF ops whose shapes graphscope folds or infers itself:
    StridedSlice with every mask, Pack/Unpack, Tensordot, SpaceToBatchND, conv transpose,
    Einsum, resize, MirrorPad, Split, Erfc, Rsqrt, SquaredDifference. Returns the function
    (input [None, 8, 8, 4])."""
    import tensorflow as tf
    w = tf.constant(0.5, shape=(4, 6))
    f = tf.constant(0.1, shape=(3, 3, 5, 4))   # conv transpose: [kh, kw, out, in]

    @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 4], tf.float32, name="x")])
    def fn(x):
        a = x[:, 1:, ..., ::2]                     # begin/end masks, ellipsis, stride
        b = x[..., 0]                              # shrink
        c = x[:, tf.newaxis, :4]                   # new axis
        d = tf.tensordot(x, w, axes=[[3], [0]])    # computed reshape targets
        parts = tf.unstack(x, axis=3)
        e = tf.stack(parts[:2], axis=1)
        s2b = tf.space_to_batch_nd(x, [2, 2], [[0, 0], [0, 0]])
        up = tf.nn.conv2d_transpose(x, f, tf.stack([tf.shape(x)[0], 16, 16, 5]), 2)
        ein = tf.einsum("bhwc,cd->bhwd", x, w)
        r = tf.image.resize(x, (12, 10))
        m = tf.pad(x, [[0, 0], [1, 2], [2, 1], [0, 0]], mode="REFLECT")
        s1, s2 = tf.split(x, [1, 3], axis=3)
        g = tf.math.erfc(x) + tf.math.rsqrt(tf.abs(x) + 1.0) + tf.math.squared_difference(x, 1.0)
        return a, b, c, d, e, s2b, up, ein, r, m, s1, s2, g
    return fn
