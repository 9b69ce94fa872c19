"""Keras files -> ONNX with tf2onnx, so that Keras models run (probes) and convert like any
other: Keras layers are NHWC and framework-specific, so the IR's layer graph is for drawing,
and execution goes through tf2onnx's ONNX."""
from __future__ import annotations

from pathlib import Path

from ..errors import UnsupportedError, require

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


def is_keras_file_graph(graph) -> bool:
    path = graph.metadata.get("path")
    return (graph.metadata.get("format") == "tensorflow" and path is not None
            and Path(path).suffix.lower() in KERAS_SUFFIXES)


def keras_to_onnx(path, opset: int = 17, trust: bool = False):
    """The Keras model in ``path`` as an onnx.ModelProto (loaded with safe_mode; a Lambda layer
    is refused unless ``trust``)."""
    from ..adapters.tensorflow import tf_runtime
    tf2onnx = require("tf2onnx", "tf", "converting Keras models to ONNX")
    tf = tf_runtime.tf()
    model = tf_runtime.load_keras_file(Path(path), trust=trust)
    specs = [tf.TensorSpec(tuple(x.shape), x.dtype, name=x.name.split(":")[0])
             for x in model.inputs]

    def call(*xs):
        return model(xs[0] if len(xs) == 1 else list(xs), training=False)
    try:
        proto, _ = tf2onnx.convert.from_function(tf.function(call), input_signature=specs,
                                                 opset=opset)
    except Exception as exc:  # tf2onnx raises many kinds; say which op or layer it was
        raise UnsupportedError(f"tf2onnx could not convert the model: "
                               f"{str(exc).strip().splitlines()[0][:300]}", file=str(path)) from None
    return proto


def runnable_graph(graph, opset: int = 17):
    """A graph onnxruntime and the torch backend can run: Keras files go through tf2onnx;
    anything else is returned as it is."""
    if not is_keras_file_graph(graph):
        return graph
    from .. import load
    return load(keras_to_onnx(graph.metadata["path"], opset))
