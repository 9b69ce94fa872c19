"""TensorFlow sources -> ONNX with tf2onnx, so that Keras files, SavedModel directories and
frozen GraphDef files run (probes, explanations) and convert like any other model.

The IR that the TensorFlow adapter reads is for drawing: Keras layers and TF ops are NHWC and
framework-specific, and a SavedModel's graph calls functions the IR does not look into. So
execution and conversion go through tf2onnx's ONNX, made from the same file and, for a
SavedModel, the same signature that the graph was loaded with."""
from __future__ import annotations

from pathlib import Path

from ..errors import UnsupportedError, require

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
GRAPHDEF_SUFFIXES = (".pb", ".pbtxt")
# ops that the adapter folds into the tensor they read (graphdef.py: ALIAS_OPS and the bias
# add folded into a Conv / MatMul), followed when mapping its outputs back to TF tensors
_FOLDED_OPS = {"Identity", "StopGradient", "Snapshot", "PreventGradient", "EnsureShape",
               "CheckNumerics", "BiasAdd", "Add", "AddV2"}


def tf_source_kind(graph) -> str | None:
    """'keras', 'savedmodel' or 'graphdef' for a graph the TensorFlow adapter read from a
    file or directory; None for anything else (live objects, other formats, ONNX made by
    tf2onnx)."""
    path = graph.metadata.get("path")
    if graph.metadata.get("format") != "tensorflow" or path is None:
        return None
    p = Path(path)
    if "signature" in graph.metadata or p.is_dir() or p.name == "saved_model.pb":
        return "savedmodel"
    suffix = p.suffix.lower()
    if suffix in KERAS_SUFFIXES:
        return "keras"
    if suffix in GRAPHDEF_SUFFIXES:
        return "graphdef"
    return None


def is_keras_file_graph(graph) -> bool:
    return tf_source_kind(graph) == "keras"


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return (lines[0] if lines else exc.__class__.__name__)[:300]


def _tf2onnx_failed(exc: BaseException, path) -> UnsupportedError:
    return UnsupportedError(f"tf2onnx could not convert the model: {_first_line(exc)}",
                            file=str(path))


def _check_ops(proto, path) -> None:
    """tf2onnx leaves a TF op it has no mapping for in the graph under its TF name (and only
    logs it): refuse such a model here, naming the ops, rather than later in onnx.checker."""
    import onnx

    unknown: dict[str, str] = {}

    def walk(graph):
        for node in graph.node:
            if node.domain in ("", "ai.onnx") and not onnx.defs.has(node.op_type):
                unknown.setdefault(node.op_type, node.name)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)
                for g in attr.graphs:
                    walk(g)
    walk(proto.graph)
    if unknown:
        ops = ", ".join(f"{op} (node '{name}')" for op, name in sorted(unknown.items()))
        raise UnsupportedError(f"tf2onnx has no ONNX form for TensorFlow op(s) {ops}",
                               file=str(path))


def _tf2onnx():
    from ..adapters.tensorflow import tf_runtime
    tf = tf_runtime.tf()
    return tf, require("tf2onnx", "tf", "converting TensorFlow models to ONNX")


# -- Keras files -----------------------------------------------------------------------------
def keras_to_onnx(path, opset: int = 17, trust: bool = False):
    """The Keras model in ``path`` as an onnx.ModelProto (loaded with safe_mode; a Lambda layer
    is refused unless ``trust``)."""
    from ..adapters.tensorflow import tf_runtime
    tf, tf2onnx = _tf2onnx()
    model = tf_runtime.load_keras_file(Path(path), trust=trust)
    specs = [tf.TensorSpec(tuple(x.shape), x.dtype, name=x.name.split(":")[0])
             for x in model.inputs]

    def call(*xs):
        return model(xs[0] if len(xs) == 1 else list(xs), training=False)
    try:
        proto, _ = tf2onnx.convert.from_function(tf.function(call), input_signature=specs,
                                                 opset=opset)
    except Exception as exc:  # tf2onnx raises many kinds; say which op or layer it was
        raise _tf2onnx_failed(exc, path) from None
    _check_ops(proto, path)
    return proto


# -- SavedModel directories ------------------------------------------------------------------
def _saved_model_tags(directory: Path) -> list[str]:
    """The tags of the meta graph the adapter reads (the first one), so that TensorFlow loads
    the same graph; TF's default 'serve' when it has none."""
    from tensorflow.core.protobuf import saved_model_pb2
    sm = saved_model_pb2.SavedModel()
    try:
        sm.ParseFromString((directory / "saved_model.pb").read_bytes())
        tags = list(sm.meta_graphs[0].meta_info_def.tags) if sm.meta_graphs else []
    except Exception:  # the adapter read it already; let tf.saved_model.load say what is wrong
        tags = []
    return tags or ["serve"]


def saved_model_to_onnx(path, signature: str | None = None, opset: int = 17):
    """The SavedModel in directory ``path`` (or its saved_model.pb), signature ``signature``
    (default 'serving_default'), as an onnx.ModelProto. Its inputs and outputs take the
    signature's names. TensorFlow loads the SavedModel: no Python code from it runs, only its
    TF graph functions."""
    tf, tf2onnx = _tf2onnx()
    directory = Path(path)
    if not directory.is_dir():
        directory = directory.parent
    try:
        frozen, inputs, outputs, renames = saved_model_frozen(directory, signature)
        proto, _ = tf2onnx.convert.from_graph_def(
            frozen, name=directory.name, input_names=inputs, output_names=outputs,
            opset=opset, tensors_to_rename=renames)
    except UnsupportedError:
        raise
    except Exception as exc:
        raise _tf2onnx_failed(exc, directory) from None
    _check_ops(proto, directory)
    return proto


def saved_model_frozen(directory: Path, signature: str | None = None):
    """(frozen GraphDef, input tensors, output tensors, {TF tensor: signature name}) of a
    SavedModel's signature, as tf2onnx reads it: what it converts and what --verify runs."""
    from tf2onnx import tf_loader
    frozen, inputs, outputs, tables, renames = tf_loader.from_saved_model(
        str(directory), None, None, tag=_saved_model_tags(directory),
        signatures=[signature or "serving_default"], return_initialized_tables=True,
        return_tensors_to_rename=True)
    if tables:
        raise UnsupportedError("the signature reads lookup tables, which graphscope does "
                               "not convert", file=str(directory))
    return frozen, inputs, outputs, renames


# -- frozen GraphDef files -------------------------------------------------------------------
def _read_graphdef(tf, path: Path):
    gd = tf.compat.v1.GraphDef()
    data = path.read_bytes()
    if path.suffix.lower() == ".pbtxt":
        from google.protobuf import text_format
        text_format.Parse(data.decode("utf-8"), gd, allow_unknown_field=True)
    else:
        gd.ParseFromString(data)
    return gd


def _tensor(name: str) -> str:
    """An IR value name ('op', 'op:1') as a TF tensor name ('op:0', 'op:1')."""
    head, _, port = name.rpartition(":")
    return name if head and port.isdigit() else f"{name}:0"


def _graph_outputs(gd, names: list[str]) -> list[str]:
    """The TF tensors behind the adapter's output names. The adapter folds Identity-like ops
    and a Conv/MatMul's bias add into the tensor they read, so an output it names may be
    read, in the file, by the chain of ops that was folded: follow a tensor's one reader
    while that reader is such an op, to the tensor that nothing reads."""
    readers: dict[str, list] = {}
    for nd in gd.node:
        for ref in nd.input:
            if not ref.startswith("^"):
                readers.setdefault(_tensor(ref), []).append(nd)
    out = []
    for name in names:
        t, seen = _tensor(name), set()
        while t not in seen:
            seen.add(t)
            rs = readers.get(t, [])
            if len(rs) != 1 or rs[0].op not in _FOLDED_OPS or _tensor(rs[0].input[0]) != t:
                break
            t = f"{rs[0].name}:0"
        out.append(t)
    return out


def graphdef_frozen(path: Path, input_names: list[str], output_names: list[str]):
    """(GraphDef, input tensors, output tensors, {TF tensor: the adapter's name})."""
    tf, _ = _tf2onnx()
    gd = _read_graphdef(tf, path)
    inputs = [_tensor(n) for n in input_names]
    outputs = _graph_outputs(gd, output_names)
    renames = dict(zip(inputs, input_names))
    renames.update(zip(outputs, output_names))
    return gd, inputs, outputs, renames


def frozen_source(source: dict):
    """The frozen TF graph behind a graph runnable_graph made (its metadata 'tf_source'):
    (GraphDef, {TF tensor: name in the ONNX graph})."""
    path = Path(source["path"])
    if source["kind"] == "savedmodel":
        gd, _, _, renames = saved_model_frozen(path if path.is_dir() else path.parent,
                                               source.get("signature"))
    else:
        gd, _, _, renames = graphdef_frozen(path, source["inputs"], source["outputs"])
    return gd, renames


def graphdef_to_onnx(path, input_names: list[str], output_names: list[str], opset: int = 17):
    """The frozen GraphDef in ``path`` (.pb, or text .pbtxt) as an onnx.ModelProto, cut at
    ``input_names`` and ``output_names`` (the adapter's value names: 'op' or 'op:1'), which
    the ONNX inputs and outputs are named after."""
    tf, tf2onnx = _tf2onnx()
    path = Path(path)
    try:
        gd, inputs, outputs, renames = graphdef_frozen(path, input_names, output_names)
    except Exception as exc:
        raise _tf2onnx_failed(exc, path) from None
    try:
        proto, _ = tf2onnx.convert.from_graph_def(
            gd, name=path.stem, input_names=inputs, output_names=outputs, opset=opset,
            tensors_to_rename=renames)
    except Exception as exc:
        raise _tf2onnx_failed(exc, path) from None
    _check_ops(proto, path)
    return proto


# -- the runnable form -----------------------------------------------------------------------
def tf_to_onnx(graph, opset: int = 17, trust: bool = False):
    """tf2onnx's ONNX for a graph the TensorFlow adapter read from a file or directory; None
    for any other graph."""
    kind = tf_source_kind(graph)
    if kind is None:
        return None
    path = graph.metadata["path"]
    if kind == "keras":
        return keras_to_onnx(path, opset, trust=trust)
    if kind == "savedmodel":
        return saved_model_to_onnx(path, graph.metadata.get("signature"), opset)
    if not graph.inputs:
        raise UnsupportedError("the GraphDef has no Placeholder inputs to convert from",
                               file=path)
    return graphdef_to_onnx(path, [v.name for v in graph.inputs],
                            [v.name for v in graph.outputs], opset)


def runnable_graph(graph, opset: int = 17, trust: bool = False):
    """A graph onnxruntime and the torch backend can run: Keras files, SavedModel directories
    and frozen GraphDef files go through tf2onnx (``trust``: load a Keras file's Lambda
    layers); anything else is returned as it is."""
    proto = tf_to_onnx(graph, opset, trust=trust or graph.metadata.get("trusted", False))
    if proto is None:
        return graph
    from .. import load
    runnable = load(proto)
    runnable.metadata.setdefault("converted_from", graph.metadata["path"])
    kind = tf_source_kind(graph)
    if kind in ("savedmodel", "graphdef"):  # for --verify to run the same graph in TF
        runnable.metadata["tf_source"] = {
            "kind": kind, "path": graph.metadata["path"],
            "signature": graph.metadata.get("signature"),
            "inputs": [v.name for v in graph.inputs], "outputs": [v.name for v in graph.outputs]}
    if graph.metadata.get("trusted"):
        runnable.metadata["trusted"] = True
    return runnable
