"""TensorFlow and Keras: .keras / .h5 Keras models, frozen GraphDef .pb / .pbtxt, SavedModel
directories, live keras.Model objects and tf.function / concrete functions.

Keras models are drawn at layer level (one node per layer) or, with ``level='ops'``, as the
traced TF op graph with each op in its layer's namespace. GraphDef files and SavedModels are
read with plain protobuf (no TensorFlow import; a SavedModel's weight values are read through
TensorFlow only when asked for). A .keras / .h5 file is read from its config and HDF5 index
without TensorFlow where that is enough (keras_config.py), with Keras otherwise; tracing
(``level='ops'``) needs TensorFlow.
"""
from __future__ import annotations

from pathlib import Path

from ...errors import MissingDependencyError, ParseError, UsageError

FORMAT = "tensorflow"
DESCRIPTION = "TensorFlow/Keras (.keras, .h5, frozen GraphDef .pb/.pbtxt, SavedModel dir)"
SUFFIXES = (".keras", ".h5", ".hdf5", ".pb", ".pbtxt")
EXTRA = "tf"
ACCEPTS_DIRECTORY = True
HANDLES_INPUT_SHAPES = False
LEVELS = ("layers", "ops")


def _looks_like_graphdef_text(path: Path) -> bool:
    """.pbtxt is also Caffe's text format: claim it only for `node { ... op: ... }`."""
    try:
        with open(path, "rb") as f:
            head = f.read(65536).decode("utf-8", "replace")
    except OSError:
        return False
    return "layer {" not in head and "layers {" not in head and "node {" in head and "op:" in head


def _is_tf_object(obj) -> bool:
    mods = {(c.__module__ or "").split(".")[0] for c in type(obj).__mro__}
    return bool(mods & {"keras", "tensorflow", "tf_keras"})


def match(source) -> bool:
    if isinstance(source, Path):
        if source.is_dir():
            return (source / "saved_model.pb").is_file()
        suffix = source.suffix.lower()
        if suffix == ".pbtxt":
            return _looks_like_graphdef_text(source)
        return suffix in SUFFIXES
    return _is_tf_object(source)


def load(source, level: str | None = None, signature: str | None = None, trust: bool = False,
         input_shapes: dict | None = None, **_):
    level = level or "layers"
    if level not in LEVELS:
        raise UsageError(f"level must be one of {', '.join(LEVELS)}, not '{level}'")
    if isinstance(source, Path):
        return _load_path(source, level, signature, trust, input_shapes)
    return _load_object(source, level, input_shapes)


def _load_path(path: Path, level, signature, trust, input_shapes):
    from . import tf_runtime
    suffix = path.suffix.lower()
    if path.is_dir() or path.name == "saved_model.pb":
        d = path if path.is_dir() else path.parent
        data, outputs, variables = tf_runtime.load_saved_model(d, signature)
        g = _from_graphdef_bytes(data, outputs, str(d), d.name, variables=variables)
        g.metadata["signature"] = signature or "serving_default"
        return g
    if suffix in (".pb", ".pbtxt"):
        return _from_graphdef_bytes(path.read_bytes(), None, str(path), path.stem,
                                    text=suffix == ".pbtxt")
    if suffix == ".keras":  # a zip: its directory checked before any member is read
        from ...archive import open_zip
        open_zip(path, ".keras archive").close()
    if suffix in (".h5", ".hdf5", ".keras"):  # HDF5 can hang on a corrupt file: check it
        from .h5_guard import check      # where it can be stopped, before opening it here
        check(path)
    config = tf_runtime.keras_file_config(path)
    lambdas = tf_runtime.lambda_layers(config)
    if level == "layers" and not lambdas:  # the fast path: the file's config, no TensorFlow
        from .keras_config import read
        g = read(path, config)
        if g is not None and not g.metadata.get("incomplete"):
            return g
        if g is not None:  # some shapes unknown: Keras may know them
            try:
                model = tf_runtime.load_keras_file(path, trust=trust, config=config)
            except (ParseError, UsageError, MissingDependencyError) as exc:
                g.metadata.setdefault("warnings", []).append(
                    f"Keras cannot load the file ({exc.message}); drawn from its config, "
                    f"shapes unknown after: {', '.join(g.metadata['incomplete'][:3])}")
                return g
            return _load_object(model, level, input_shapes, where=str(path))
    model = tf_runtime.load_keras_file(path, trust=trust, config=config)
    return _load_object(model, level, input_shapes, where=str(path))


def _load_object(obj, level, input_shapes, where=None):
    from . import tf_runtime
    names = {c.__name__ for c in type(obj).__mro__}
    if "Layer" in names and hasattr(obj, "weights"):  # keras.Model / layer
        if level == "layers":
            from .keras_layers import KerasReader, is_functional
            if is_functional(obj):
                g = KerasReader(obj).read()
                g.metadata.update(producer="keras", level="layers")
                return g
        data, outputs = tf_runtime.trace_keras(obj, input_shapes)
        g = _from_graphdef_bytes(data, outputs, where, obj.name, counted_stats=True)
        g.metadata.update(producer="keras", level="ops")
        _layer_namespaces(g, obj)
        return g
    if type(obj).__name__ == "GraphDef":
        return _from_graphdef_bytes(obj.SerializeToString(), None, where, "graph")
    if hasattr(obj, "get_concrete_function") or hasattr(obj, "structured_outputs"):
        concrete = tf_runtime.concrete_of(obj)
        name = getattr(concrete, "name", b"function")
        name = name.decode() if isinstance(name, bytes) else str(name)
        return _from_graphdef_bytes(*tf_runtime.freeze(concrete), where, name)
    raise UsageError(f"cannot read a {type(obj).__name__} as a TensorFlow model")


def _layer_namespaces(g, model) -> None:
    """Traced scopes read 'functional_1/conv1_1/...': drop the outer model scope and the
    '_1' that re-tracing appends, so that ops sit under their Keras layer's name."""
    import re
    layers = {layer.name for layer in getattr(model, "layers", [])}

    def layer_of(part: str) -> str:
        base = re.sub(r"_\d+$", "", part)
        return base if part not in layers and base in layers else part

    for node in g.nodes:
        parts = node.namespace.split("/") if node.namespace else []
        if parts and parts[0] not in layers:
            parts = parts[1:]
        node.namespace = "/".join(layer_of(p) for p in parts)


def _from_graphdef_bytes(data: bytes, outputs, where, name, text=False, counted_stats=False,
                         variables=None):
    """``outputs``: the graph's output tensor names where known (traced functions); a file's
    outputs are the ops that nothing reads."""
    from .graphdef import load_graphdef
    from .protos import parse_graphdef
    try:
        gd = parse_graphdef(data, text=text)
    except Exception as exc:  # protobuf DecodeError / text_format.ParseError / UnicodeError
        msg = str(exc).splitlines()[0] if str(exc) else "cannot decode protobuf"
        raise ParseError(f"not a valid TensorFlow GraphDef ({exc.__class__.__name__}: {msg})",
                         file=where) from None
    g = load_graphdef(gd, where, name, counted_stats=counted_stats, outputs=outputs,
                      variables=variables)
    g.metadata.update(format=FORMAT, level="ops")
    return g
