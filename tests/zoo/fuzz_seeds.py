"""Seed files for fuzzing: one small, real model or log of every format graphscope reads,
written by the frameworks themselves (or our own writers, for Caffe), and how each is read.

``FORMATS[name]`` is a Seed: ``build(dir)`` writes the seed and returns its path (a file, or a
folder for a SavedModel); ``kind`` picks the structure-aware mutators (tests/zoo/fuzz_mutate);
``args(case, seed, scratch)`` is the `graphscope` command line that reads the mutated copy
``case`` of ``seed``, writing any output into the folder ``scratch``."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class Seed:
    build: Callable[[Path], Path]
    kind: str
    args: Callable[[Path, Path, Path], list[str]] = lambda p, seed, scratch: ["info", str(p)]
    # inside a folder seed, the members that are mutated (relative paths) and their kinds
    members: dict[str, str] = field(default_factory=dict)
    needs: str | None = None  # the module the seed's framework needs


def _onnx(d: Path) -> Path:
    import onnx

    from tests.zoo import onnx_models
    p = d / "small_resnet.onnx"
    onnx.save(onnx_models.small_resnet(size=16), str(p))
    return p


def _prototxt(d: Path) -> Path:
    from tests.zoo import caffe_models
    p = d / "googlenet.prototxt"
    p.write_text(caffe_models.googlenet())
    return p


def _lenet_prototxt(d: Path) -> Path:
    from tests.zoo import caffe_models
    p = d / "lenet.prototxt"
    p.write_text(caffe_models.lenet())
    return p


def _caffemodel(d: Path) -> Path:
    import numpy as np

    import graphscope
    from graphscope.adapters.caffe.caffemodel import write_caffemodel
    net = _lenet_prototxt(d)
    g = graphscope.load(net)
    rng = np.random.default_rng(0)
    layers = []
    for n in g.nodes:
        ws = [v for v in n.inputs if v is not None and v.is_weight and not v.meta.get("constant")]
        if ws:
            layers.append((n.meta["caffe_layer"], n.source_op,
                           [rng.standard_normal(v.data.shape).astype("float32") for v in ws]))
    p = d / "lenet.caffemodel"
    write_caffemodel(p, layers)
    return p


def _caffemodel_args(p: Path, seed: Path, scratch: Path) -> list[str]:
    return ["info", str(seed.parent / "lenet.prototxt"), "--weights", str(p)]


def _keras_model():
    import keras

    from tests.zoo import tf_models
    keras.utils.set_random_seed(0)  # the same weights in every run: the same mutated bytes
    return tf_models.small_cnn()


def _keras(d: Path) -> Path:
    p = d / "small_cnn.keras"
    _keras_model().save(str(p))
    _make_reproducible(p)
    return p


def _make_reproducible(p: Path) -> None:
    """Rewrite a .keras zip with fixed member dates, Keras's save date blanked and its
    shared_object_ids (Python id()s) renumbered, so the seed's bytes (and so each mutation)
    are the same in every run."""
    import re
    import zipfile
    with zipfile.ZipFile(p) as z:
        members = [(i, z.read(i)) for i in z.infolist()]
    ids: dict[bytes, bytes] = {}

    def renumber(m):
        return b'"shared_object_id": ' + ids.setdefault(m.group(1), str(len(ids) + 1).encode())

    with zipfile.ZipFile(p, "w") as z:
        for info, data in members:
            if info.filename == "metadata.json":
                data = re.sub(rb'"date_saved": "[^"]*"', b'"date_saved": "2000-01-01@00:00:00"',
                              data)
            if info.filename == "config.json":
                data = re.sub(rb'"shared_object_id": (\d+)', renumber, data)
            fixed = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            fixed.compress_type = info.compress_type
            z.writestr(fixed, data)


def _h5(d: Path) -> Path:
    p = d / "small_cnn.h5"
    _keras_model().save(str(p))
    return p


def _graphdef(d: Path) -> Path:
    from tests.zoo import tf_models
    p = d / "small_cnn.pb"
    gd = tf_models.frozen_graphdef(_keras_model())
    # protobuf writes attribute maps in any order: re-serialize them sorted
    import tensorflow as tf
    msg = tf.compat.v1.GraphDef()
    msg.ParseFromString(gd)
    p.write_bytes(msg.SerializeToString(deterministic=True))
    return p


def _savedmodel(d: Path) -> Path:
    import tensorflow as tf
    from tensorflow.core.protobuf import fingerprint_pb2
    p = d / "small_cnn_savedmodel"
    tf.saved_model.save(_keras_model(), str(p))
    fingerprint = fingerprint_pb2.FingerprintDef()  # its uuid is new on every save: fix it
    fingerprint.ParseFromString((p / "fingerprint.pb").read_bytes())
    fingerprint.uuid = "0" * 32
    (p / "fingerprint.pb").write_bytes(fingerprint.SerializeToString(deterministic=True))
    return p


def _torch_module():
    import torch

    from tests.zoo import torch_models
    torch.manual_seed(0)
    return torch_models.ALL["mobilenetv2"][0](), torch.randn(1, 3, 32, 32)


def _pt2(d: Path) -> Path:
    import torch
    module, x = _torch_module()
    p = d / "mobilenetv2.pt2"
    torch.export.save(torch.export.export(module, (x,)), str(p))
    return p


def _torchscript(d: Path) -> Path:
    import torch
    module, x = _torch_module()
    p = d / "mobilenetv2_ts.pt"
    torch.jit.trace(module, (x,)).save(str(p))
    return p


def _checkpoint(d: Path) -> Path:
    import torch
    module, _ = _torch_module()
    p = d / "checkpoint.pth"
    torch.save({"epoch": 3, "model": module.state_dict(), "lr": 0.1}, str(p))
    return p


def _state_dict(d: Path) -> Path:
    import torch
    module, _ = _torch_module()
    p = d / "state_dict.pt"
    torch.save(module.state_dict(), str(p))
    return p


def _events(d: Path) -> Path:
    from tests.zoo import train_logs
    log = d / "events"
    train_logs.synthetic_event_file(log / "events.out.tfevents.1.host", steps=30, tags=3)
    return next(log.iterdir())


def _caffe_log(d: Path) -> Path:
    from tests.zoo import train_logs
    p = d / "caffe.log"
    train_logs.caffe_log(p)
    return p


def _csv(d: Path) -> Path:
    from tests.zoo import train_logs
    p = d / "metrics.csv"
    train_logs.keras_csv(p)
    return p


def _jsonl(d: Path) -> Path:
    from tests.zoo import train_logs
    p = d / "metrics.jsonl"
    train_logs.jsonl(p)
    return p


def _train_args(p: Path, seed: Path, scratch: Path) -> list[str]:
    return ["train", str(p), "--json", str(scratch / "series.json")]


def _fresh(build: Callable[[Path], Path]) -> Callable[[Path], Path]:
    """``build`` run in a new interpreter: TensorFlow names a traced function's ops after what
    the process traced before, so a seed built inside a test session would differ from run to
    run (and so would every mutation of it)."""
    def run(d: Path) -> Path:
        import subprocess
        import sys
        root = Path(__file__).resolve().parent.parent.parent
        code = (f"import sys; sys.path.insert(0, {str(root)!r}); from pathlib import Path; "
                f"from tests.zoo.fuzz_seeds import {build.__name__}; "
                f"print({build.__name__}(Path({str(d)!r})))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
        return Path(out.stdout.strip().splitlines()[-1])
    return run


FORMATS: dict[str, Seed] = {
    "onnx": Seed(_onnx, "protobuf"),
    "prototxt": Seed(_prototxt, "text"),
    "caffemodel": Seed(_caffemodel, "protobuf", _caffemodel_args),
    "graphdef": Seed(_fresh(_graphdef), "protobuf", needs="tensorflow"),
    "savedmodel": Seed(_fresh(_savedmodel), "folder", members={"saved_model.pb": "protobuf",
                                                       "variables/variables.index": "binary",
                                                       "fingerprint.pb": "protobuf"},
                       needs="tensorflow"),
    "keras": Seed(_fresh(_keras), "zip", needs="tensorflow"),
    "h5": Seed(_fresh(_h5), "hdf5", needs="tensorflow"),
    "pt2": Seed(_pt2, "zip", needs="torch"),
    "torchscript": Seed(_torchscript, "zip", needs="torch"),
    "checkpoint": Seed(_checkpoint, "zip", needs="torch"),
    "state_dict": Seed(_state_dict, "zip", needs="torch"),
    "events": Seed(_events, "binary", _train_args),
    "caffe_log": Seed(_caffe_log, "text", _train_args),
    "csv": Seed(_csv, "text", _train_args),
    "jsonl": Seed(_jsonl, "json", _train_args),
}


def build_all(d: Path, names=None) -> dict[str, Path]:
    """Write the seeds of ``names`` (default: all) into ``d``; {format: seed path}."""
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in names or FORMATS:
        sub = d / name
        sub.mkdir(exist_ok=True)
        out[name] = FORMATS[name].build(sub)
    (d / "seeds.json").write_text(json.dumps({k: str(v) for k, v in out.items()}))
    return out
