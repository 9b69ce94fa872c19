"""The parts that need TensorFlow itself (imported lazily): loading Keras files, tracing a
model or function into a frozen GraphDef, reading a SavedModel's variable values. Reading a
SavedModel's graph and signatures is plain protobuf."""
from __future__ import annotations

from pathlib import Path

from ...errors import ParseError, UnsafeModelError, UsageError, require


def tf():
    import sys
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    from ...progress import stage
    with stage("importing TensorFlow"):  # seconds: say what is happening
        return require("tensorflow", "tf", "reading TensorFlow/Keras models")


def keras():
    tf()
    return require("keras", "tf", "reading Keras models")


# -- Keras files -----------------------------------------------------------------------------
def keras_file_config(path: Path) -> dict:
    """The model config stored in a .keras archive or an .h5 file, read without Keras."""
    if path.suffix.lower() == ".keras":
        from ...archive import open_zip, read_member
        with open_zip(path, ".keras archive") as z:
            if "config.json" not in z.namelist():
                raise ParseError(".keras archive has no config.json (not a saved Keras "
                                 "model, or a damaged archive)", file=str(path))
            text = read_member(z, "config.json", path, ".keras archive")
    else:
        from .h5 import model_config_attr
        try:
            text = model_config_attr(path)
        except ParseError as exc:
            raise ParseError(f"not an HDF5 file ({exc.message})", file=str(path)) from None
        if text is None:
            raise ParseError("HDF5 file has no model config (a weights-only file? save the "
                             "whole model with model.save('x.h5'))", file=str(path))
    from ...fileio import parse_json
    return parse_json(text, str(path), "the model config")


def lambda_layers(config) -> list[str]:
    """Names of Lambda layers anywhere in a Keras config (nested models included)."""
    found = []
    if isinstance(config, dict):
        if config.get("class_name") == "Lambda":
            found.append((config.get("config") or {}).get("name", "?"))
        for v in config.values():
            found += lambda_layers(v)
    elif isinstance(config, list):
        for v in config:
            found += lambda_layers(v)
    return found


def load_keras_file(path: Path, trust: bool = False, config: dict | None = None):
    config = keras_file_config(path) if config is None else config
    lambdas = lambda_layers(config)
    if lambdas and not trust:
        raise UnsafeModelError(
            f"the model has Lambda layer(s) {', '.join(lambdas)} whose code would run on "
            "loading; pass --trust (trust=True) if you trust this file", file=str(path))
    k = keras()
    try:
        return k.saving.load_model(str(path), compile=False, safe_mode=not trust)
    except Exception as exc:  # Keras raises ValueError/TypeError/KeyError/OSError on bad files
        raise ParseError(f"cannot load Keras model ({exc.__class__.__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})",
                         file=str(path)) from None


# -- tracing to a frozen GraphDef ------------------------------------------------------------
def freeze(concrete) -> tuple[bytes, list[str]]:
    """A concrete function with its variables folded into Consts, as serialized GraphDef
    (with '_output_shapes'), to be read by graphdef.py like any frozen .pb; and the names of
    its output tensors."""
    tf()
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)
    frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=False)
    outputs = [t.name for t in frozen.outputs]
    return frozen.graph.as_graph_def(add_shapes=True).SerializeToString(), outputs


def trace_keras(model, input_shapes: dict | None = None) -> tuple[bytes, list[str]]:
    t = tf()
    specs = []
    inputs = getattr(model, "inputs", None)
    if inputs:
        for x in inputs:
            name = x._keras_history.operation.name
            shape = (input_shapes or {}).get(name, tuple(x.shape))
            specs.append(t.TensorSpec([None if isinstance(d, str) else d for d in shape],
                                      x.dtype, name=name))
    elif len(getattr(model, "_build_shapes_dict", None) or {}) == 1 and not input_shapes:
        # a subclassed model that was built (called once): trace with its build shape
        shape = tuple(next(iter(model._build_shapes_dict.values())))
        specs = [t.TensorSpec((None,) + shape[1:], "float32", name="input")]
    elif input_shapes:
        specs = [t.TensorSpec([None if isinstance(d, str) else d for d in s], "float32", name=n)
                 for n, s in input_shapes.items()]
    else:
        raise UsageError("a subclassed Keras model has no declared inputs: give input_shapes "
                         "(--input-shape NAME=1x224x224x3) to trace it")

    def call(*xs):
        return model(xs[0] if len(xs) == 1 else list(xs), training=False)
    return freeze(t.function(call).get_concrete_function(*specs))


def concrete_of(fn):
    """A tf.function with an input signature, or a concrete function, as concrete."""
    if hasattr(fn, "get_concrete_function") and not hasattr(fn, "structured_outputs"):
        try:
            return fn.get_concrete_function()
        except (TypeError, ValueError) as exc:
            raise UsageError(f"tf.function needs an input_signature to be drawn ({exc})") from None
    return fn


# -- SavedModel ------------------------------------------------------------------------------
def read_meta_graph(path: Path):
    """The first meta graph of saved_model.pb, read with plain protobuf (no TensorFlow)."""
    from .protos import parse_saved_model
    try:
        sm = parse_saved_model((path / "saved_model.pb").read_bytes())
    except Exception as exc:
        raise ParseError(f"saved_model.pb is not a SavedModel ({exc.__class__.__name__})",
                         file=str(path)) from None
    if not sm.meta_graphs:
        raise ParseError("SavedModel has no meta graph", file=str(path))
    return sm.meta_graphs[0]


def load_saved_model(path: Path, signature: str | None):
    """The signature's graph as saved, read with plain protobuf: (GraphDef bytes, output
    names, variable reader). Variables are weights with shapes; their values are read with
    TensorFlow only when asked for (``variable_reader``)."""
    meta = read_meta_graph(path)
    names = sorted(n for n in meta.signature_def if not n.startswith("__"))
    sig = signature or "serving_default"
    if sig not in names:
        raise ParseError(f"SavedModel has no signature '{sig}' (its signatures: "
                         f"{', '.join(names) or 'none'}; choose one with --signature)",
                         file=str(path))
    outputs = [info.name for _, info in sorted(meta.signature_def[sig].outputs.items())]
    gd = meta.graph_def
    ops = {nd.name: nd for nd in gd.node}
    calls = {outputs[0].split(":")[0]} if outputs else set()
    var_order = [i for c in calls if c in ops for i in ops[c].input
                 if not i.startswith("^") and getattr(ops.get(i), "op", "") == "VarHandleOp"]
    return gd.SerializeToString(), outputs, _VariableReader(path, sig, var_order)


class _VariableReader:
    """Reads a SavedModel variable's value with TensorFlow, on first use: the signature
    function's captured variables come in the order its call node reads them."""

    def __init__(self, path: Path, signature: str, var_order: list[str]):
        self.path, self.signature, self.var_order = path, signature, var_order
        self.values: dict[str, object] | None = None

    def __call__(self, var_name: str, dtype: str):
        if self.values is None:
            t = tf()
            try:
                fn = t.saved_model.load(str(self.path)).signatures[self.signature]
            except Exception as exc:
                raise ParseError(f"cannot load SavedModel variables ({exc.__class__.__name__}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else ''})",
                                 file=str(self.path)) from None
            handles = [c for c in fn.captured_inputs if c.dtype == t.resource]
            if len(handles) != len(self.var_order):
                raise ParseError(f"SavedModel signature captures {len(handles)} variables but "
                                 f"its graph reads {len(self.var_order)}", file=str(self.path))
            self.values = dict(zip(self.var_order, handles))
        h = self.values.get(var_name)
        if h is None:
            raise ParseError(f"variable '{var_name}' is not read by the signature",
                             file=str(self.path))
        t = tf()
        return t.raw_ops.ReadVariableOp(resource=h, dtype=t.as_dtype(dtype)).numpy()
