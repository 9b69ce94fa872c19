"""graphscope: read a neural network from any framework into one IR; draw, inspect, run and
convert it."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import GraphscopeError, ParseError, GraphError, ShapeError, UnsupportedError

if TYPE_CHECKING:
    from .ir import Graph

__version__ = "0.1.0"

# Subpackages named like API functions are imported first, so that the functions below (not
# the modules) are what `graphscope.convert` names. Both are light: no framework imports.
from . import convert as _convert_package  # noqa: E402,F401
from . import explain as _explain_package  # noqa: E402,F401
from . import diff as _diff_package  # noqa: E402,F401


def load(source, **options) -> Graph:
    """Load a model file (.onnx, .prototxt, .pt2, .keras, ...) or a live model object.

    Options: ``format`` forces an adapter, ``input_shapes={"x": (1, 3, 224, 224)}`` overrides
    input shapes; other options go to the adapter (e.g. ``weights=`` for Caffe).
    """
    from .adapters import load as _load
    return _load(source, **options)


def __getattr__(name):  # the IR (and numpy with it) loads on first use: a quick CLI start
    if name in ("Graph", "Node", "TensorType", "Value"):
        from . import ir
        globals()[name] = value = getattr(ir, name)
        return value
    raise AttributeError(f"module 'graphscope' has no attribute '{name}'")


def _is_graph(obj) -> bool:
    from .ir import Graph
    return isinstance(obj, Graph)


def render(source, path_or_format, **options):
    """Load (if needed) and render: ``render("m.onnx", "m.svg")`` writes m.svg."""
    from .adapters import split_load_options
    graph = source if _is_graph(source) else load(source, **split_load_options(options))
    return graph.render(path_or_format, **options)


def info(source, **options) -> dict:
    """The `graphscope info --json` document for a model, as a dict."""
    from .summary import info_dict
    graph = source if _is_graph(source) else load(source, **options)
    return info_dict(graph)


def probe(model, input="random", layers: str | None = None, **options):
    """Run a model once and return every matching layer's activation (numpy) and statistics:
    ``probe("m.onnx", "cat.png", layers="conv*")["conv1"].array``."""
    from .runtime.probes import probe as _probe
    return _probe(model, input, layers=layers, **options)


def record(model, log_dir, **options):
    """Record a PyTorch training loop into TensorBoard event files (see docs/train.md):
    ``rec = record(model, "runs/x", every=100, optimizer=opt)``; call ``rec.step(loss)``."""
    from .train.record import record as _record
    return _record(model, log_dir, **options)


def convert(source, to: str | None = None, output=None, **options):
    """Convert a model (path, live object or Graph) to ``to="onnx"`` or ``"pytorch"``.

    With no ``output`` and no ``verify``, returns the converted model: an onnx.ModelProto or a
    ready torch.nn.Module. Otherwise returns a Conversion (``.model``, ``.path``, ``.report``,
    the layer-by-layer comparison when ``verify=True``)."""
    from .convert import convert as _convert
    result = _convert(source, to=to, output=output, **options)
    if output is None and not options.get("verify"):
        return result.model
    return result


def diff(a, b, weights: bool = False, **options):
    """What changed between two models (paths, live models or Graphs, any two formats):
    matched nodes with their changes, nodes only in A or B (see docs/diff.md). Returns a
    DiffResult: ``.to_dict()``, ``.text()``, ``.render_html(path)``, ``.summary``."""
    from .diff import diff as _diff
    return _diff(a, b, weights=weights, **options)


def explain(model, input="random", method: str = "saliency", **options):
    """Explain one prediction (see graphscope.explain.METHODS); returns an ExplainResult with
    ``.map`` (H x W at input resolution) and ``.attributions`` (input-shaped, where the method
    has them)."""
    from .explain.api import explain as _explain
    return _explain(model, input, method=method, **options)


__all__ = ["load", "render", "info", "probe", "convert", "explain", "record", "diff", "Graph",
           "Node", "TensorType", "Value", "GraphscopeError", "ParseError", "GraphError",
           "ShapeError", "UnsupportedError", "__version__"]
