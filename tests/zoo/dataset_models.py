"""Models and generated inputs for the dataset tests and benchmarks (random weights)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from .onnx_models import Builder


def dead_cnn(size: int = 12, dead: tuple[int, ...] = (0, 3)) -> onnx.ModelProto:
    """Conv-ReLU-Conv-BN-ReLU-GAP-FC with a symbolic batch; the first convolution's channels
    in ``dead`` have a bias so negative that their ReLU never fires."""
    b = Builder("dead_cnn", seed=1)
    x = b.input("x", ["N", 3, size, size])
    y = b.conv(x, 3, 8, 3, pad=1, name="conv1")
    y = b.op("Relu", [y], name="relu1")
    y = b.conv(y, 8, 16, 3, stride=2, pad=1, name="conv2")
    y = b.bn(y, 16, name="bn2")
    y = b.op("Relu", [y], name="relu2")
    y = b.op("GlobalAveragePool", [y], name="gap")
    y = b.op("Flatten", [y], name="flatten", axis=1)
    b.gemm(y, 16, 10, name="fc")
    b.output("fc_out", 2)
    m = b.model()
    for init in m.graph.initializer:
        if init.name == "conv1.bias":
            bias = numpy_helper.to_array(init).copy()
            bias[list(dead)] = -1e3
            init.CopyFrom(numpy_helper.from_array(bias, init.name))
    return m


def image_mlp(size: int = 8, classes: int = 5) -> onnx.ModelProto:
    """Flatten-FC-ReLU-FC over an image-shaped input (for explanations per input)."""
    b = Builder("image_mlp", seed=2)
    x = b.input("x", ["N", 3, size, size])
    y = b.op("Flatten", [x], name="flatten", axis=1)
    y = b.op("Relu", [b.gemm(y, 3 * size * size, 32, name="fc1")], name="relu")
    b.gemm(y, 32, classes, name="fc2")
    b.output("fc2_out", 2)
    return b.model()


def inputs(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """``n`` inputs of ``shape``: per-input offsets and scales, so inputs differ in range."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *shape)).astype(np.float32)
    x *= rng.uniform(0.5, 2.0, size=(n,) + (1,) * len(shape)).astype(np.float32)
    x += rng.uniform(-0.5, 0.5, size=(n,) + (1,) * len(shape)).astype(np.float32)
    return x


def run_exposing(model: onnx.ModelProto, names: list[str], feeds: dict) -> dict:
    """Plain onnxruntime over ``model`` with ``names`` exposed as outputs: the values by name."""
    import onnxruntime as ort
    m = onnx.ModelProto()
    m.CopyFrom(model)
    declared = {o.name for o in m.graph.output}
    m.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names if n not in declared)
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip(names, sess.run(names, feeds)))
