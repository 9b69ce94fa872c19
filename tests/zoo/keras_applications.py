"""keras.applications as the zoo tests and benchmarks/zoo_tensorflow.py run it: every
constructor (weights=None, small inputs where the architecture allows), saved as .keras, .h5,
a frozen GraphDef and a SavedModel, and each file read back by graphscope.

``one_model(name)`` returns one row: Keras's own count_params, graphscope's view of the live
model, and per format params, MACs, node count, the share of outputs with a fully known
shape, the reader used, disagreements with the file's ``_output_shapes``, and whether Keras
itself reads the file."""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

# one model of each family first (smallest variant), then the others, small to large
MODELS = ["MobileNetV3Small", "MobileNet", "MobileNetV2", "EfficientNetB0", "EfficientNetV2B0",
          "ConvNeXtTiny", "ResNet50", "ResNet50V2", "DenseNet121", "NASNetMobile",
          "InceptionV3", "Xception", "VGG16", "InceptionResNetV2", "MobileNetV3Large",
          "EfficientNetB1", "EfficientNetV2B1", "EfficientNetB2", "EfficientNetV2B2",
          "EfficientNetB3", "EfficientNetV2B3", "DenseNet169", "DenseNet201", "VGG19",
          "ResNet101", "ResNet101V2", "EfficientNetB4", "ConvNeXtSmall", "ResNet152",
          "ResNet152V2", "EfficientNetV2S", "EfficientNetB5", "ConvNeXtBase", "EfficientNetB6",
          "EfficientNetV2M", "NASNetLarge", "EfficientNetB7", "ConvNeXtLarge",
          "EfficientNetV2L", "ConvNeXtXLarge"]
SIZES = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71, "NASNetMobile": 96,
         "NASNetLarge": 96}
FORMATS = (".keras", ".h5", ".pb", "_sm")


def known_share(g) -> float:
    total = ok = 0
    for _, n in g.walk():
        for v in n.outputs:
            total += 1
            s = v.type.shape
            ok += s is not None and None not in s
    return ok / total if total else 1.0


def cross_check(g) -> int:
    """Outputs where our shape and the file's _output_shapes disagree on a numeric dim."""
    bad = 0
    for _, n in g.walk():
        for v in n.outputs:
            t, s = v.meta.get("tf_shape"), v.type.shape
            if t is not None and s is not None and len(t) == len(s) and any(
                    isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(t, s)):
                bad += 1
    return bad


def _cpu() -> float:
    import resource
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def one_model(name: str) -> dict:
    """Build, save in every format, read back (the benchmark runs it in a child process)."""
    import keras

    import graphscope
    from tests.zoo import tf_models as zoo
    size = SIZES.get(name, 96 if not name.startswith(("ConvNeXt", "EfficientNet", "VGG"))
                     else 64)
    model = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3))
    row = {"model": name, "input": size, "count_params": model.count_params(),
           "folded_state": normalization_state(model)}
    live = graphscope.load(model)
    row["live"] = {"params": live.totals()["params"], "macs": live.totals()["macs"],
                   "nodes": len(live.nodes)}
    d = Path(tempfile.mkdtemp(prefix="gs_zoo_"))
    try:
        model.save(d / "m.keras")
        model.save(d / "m.h5")
        (d / "m.pb").write_bytes(zoo.frozen_graphdef(model))
        model.export(d / "m_sm", verbose=False)
        for fmt in FORMATS:
            path = d / f"m{fmt}"
            cell: dict = {}
            t, c = time.perf_counter(), _cpu()
            try:
                g = graphscope.load(path)
                cell["time"] = time.perf_counter() - t
                cell["cpu"] = _cpu() - c  # this process and its children (the HDF5 check)
                tt = g.totals()
                cell.update(params=tt["params"], macs=tt["macs"], nodes=len(g.nodes),
                            known=known_share(g), reader=g.metadata.get("reader", "keras")
                            if fmt in (".keras", ".h5") else "protobuf",
                            mismatch=cross_check(g))
            except Exception as exc:  # a crash is a result here
                cell["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
            if fmt in (".keras", ".h5"):
                try:
                    keras.saving.load_model(path, compile=False)
                    cell["keras_reads"] = True
                except Exception as exc:
                    cell["keras_reads"] = False
                    cell["keras_error"] = f"{type(exc).__name__}"
            row[fmt] = cell
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return row


def normalization_state(model) -> int:
    """Elements of the Normalization layers' state (mean, variance, count): Keras counts them,
    but tracing folds mean and variance into constants and drops count, so op graphs lack them."""
    import math

    import keras
    return sum(math.prod(w.shape) for layer in model._flatten_layers()
               if isinstance(layer, keras.layers.Normalization) for w in layer.weights)
