"""Plugins: teach graphscope a layer type it does not know, without editing graphscope.

A plugin registers a Caffe layer type with a shape rule and, optionally, the blobs it
learns, a MAC rule and an ONNX lowering::

    from graphscope.plugins import caffe_layer

    caffe_layer("Reorg2", shape=lambda ins, p: [(ins[0][0], ins[0][1] * 4,
                                                ins[0][2] // 2, ins[0][3] // 2)])

graphscope finds plugins in exactly two ways, and imports nothing else:

- ``--plugin FILE.py`` on the command line (or ``load_file(path)``): the file is run.
- An installed package's entry point in the group ``graphscope.plugins`` whose *name is the
  layer type*: it is loaded only when a prototxt uses that type and nothing built in reads
  it. Its object is a module (registering on import) or a callable (called once).

Shapes given to and returned by the rules are tuples (a dim is an int, a symbol or None;
an unknown input shape is None). ``params`` is the layer's parameter messages as a dict
(``{"stride": 2}`` for ``reorg2_param { stride: 2 }``).
"""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import GraphscopeError, UsageError

GROUP = "graphscope.plugins"


@dataclass
class CaffeLayer:
    type: str
    shape: Callable
    macs: Callable | None = None
    weights: Callable | None = None
    onnx: Callable | None = None
    category: str = "custom"
    origin: str = ""

    @property
    def op(self) -> str:
        return f"caffe.{self.type}"


_CAFFE: dict[str, CaffeLayer] = {}
_tried_entry_points: set[str] = set()
_loading: list[str] = []  # where the plugin being run comes from, for its registrations


def caffe_layer(type: str, shape: Callable, macs: Callable | None = None,
                weights: Callable | None = None, onnx: Callable | None = None,
                category: str = "custom") -> CaffeLayer:
    """Register Caffe layer ``type``.

    shape(ins, params) -> [output shape, ...]: one tuple per top.
    weights(ins, params) -> [(role, shape), ...]: the blobs it learns, in caffemodel order
        (counted as parameters, attached from --weights).
    macs(ins, outs, params) -> int: multiply-accumulates (default: unknown).
    onnx(node, helper, opset) -> (nodes, initializers): its ONNX form, as in
        graphscope/convert/lower_caffe.py (default: `convert` refuses the layer).
    category: the drawing style (layer, activation, pool, normalization, tensor, custom...).
    """
    from .ir.ops import CATEGORIES, register
    if not isinstance(type, str) or not type:
        raise UsageError("caffe_layer: the layer type must be a non-empty string")
    if category not in CATEGORIES:
        raise UsageError(f"caffe_layer('{type}'): category must be one of "
                         f"{', '.join(CATEGORIES)}, not '{category}'")
    entry = CaffeLayer(type, shape, macs, weights, onnx, category,
                       _loading[-1] if _loading else "")
    _CAFFE[type] = entry
    register(entry.op, category, f"Caffe layer from a plugin ({entry.origin or 'API'})")
    from .ir.shapes import RULES
    from .ir.stats import MAC_RULES
    RULES[entry.op] = _shape_rule(entry)
    MAC_RULES[entry.op] = _mac_rule(entry)
    if onnx is not None:
        from .convert.to_onnx import LOWERINGS
        LOWERINGS[entry.op] = onnx
    return entry


def unregister(type: str) -> None:
    """Forget a registered layer type (tests; a session that swaps plugins)."""
    entry = _CAFFE.pop(type, None)
    if entry is None:
        return
    from .ir.ops import OPS
    from .ir.shapes import RULES
    from .ir.stats import MAC_RULES
    for table in (OPS, RULES, MAC_RULES):
        table.pop(entry.op, None)
    if entry.onnx is not None:
        from .convert.to_onnx import LOWERINGS
        LOWERINGS.pop(entry.op, None)


def load_file(path) -> None:
    """Run a plugin file (``--plugin FILE.py``): what it registers is then known."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--plugin {path}: no such file")
    name = f"graphscope_plugin_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    _loading.append(str(path))
    try:
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except GraphscopeError:
        raise
    except Exception as exc:  # the user's code: one line naming the file, not a traceback
        raise UsageError(f"--plugin {path}: {exc.__class__.__name__}: {exc}") from None
    finally:
        _loading.pop()


def caffe_types() -> list[str]:
    return list(_CAFFE)


def caffe_entry(type: str) -> CaffeLayer | None:
    """The registered plugin for ``type``; an entry point named ``type`` is loaded the first
    time the type is asked for."""
    if type not in _CAFFE and type not in _tried_entry_points:
        _tried_entry_points.add(type)
        _load_entry_point(type)
    return _CAFFE.get(type)


def _load_entry_point(type: str) -> None:
    from importlib.metadata import entry_points
    for ep in entry_points(group=GROUP, name=type):
        _loading.append(f"entry point {ep.value}")
        try:
            obj = ep.load()
            if callable(obj):
                obj()
        except GraphscopeError:
            raise
        except Exception as exc:
            raise UsageError(f"plugin entry point '{type} = {ep.value}' failed: "
                             f"{exc.__class__.__name__}: {exc}") from None
        finally:
            _loading.pop()


def caffe_handler(type: str, registered_only: bool = False):
    """The adapter's handler for a plugin layer type, or None. ``registered_only``: only
    what was registered already (no entry point lookup)."""
    entry = _CAFFE.get(type) if registered_only else caffe_entry(type)
    if entry is None:
        return None

    def handler(b, L) -> None:
        params = layer_params(L)
        ins = [b.bottom(L, i) for i in range(len(L.bottoms))]
        if entry.weights is not None:
            shapes = [b.shape(v) for v in ins]
            for i, (role, shape) in enumerate(entry.weights(shapes, params) or []):
                w = b.weight(L, i, role, tuple(shape) if shape is not None else None)
                if w is not None:
                    ins.append(w)
        b.node(L, entry.op, ins, params, plugin=entry.origin or True)
    return handler


def layer_params(L) -> dict:
    """A layer's ``*_param`` messages merged into one plain dict."""
    from .adapters.caffe.prototxt import Message
    out: dict = {}
    for field, value, _ in L.msg.fields:
        if field.endswith("_param") and isinstance(value, Message):
            out.update(value.to_dict())
    return out


def _shape_of(t):
    return None if t is None or t.shape is None else tuple(t.shape)


def _shape_rule(entry: CaffeLayer):
    from .ir.graph import TensorType

    def rule(node, ins):
        try:
            outs = entry.shape([_shape_of(t) for t in ins], dict(node.attrs))
        except Exception as exc:  # a plugin's bug leaves the shape unknown, named
            raise ValueError(f"plugin shape rule for {entry.type} failed: "
                             f"{exc.__class__.__name__}: {exc}") from None
        return [TensorType("float32", None if s is None else tuple(s)) for s in outs]
    return rule


def _mac_rule(entry: CaffeLayer):
    def rule(node):
        if entry.macs is None:
            return None
        try:
            return entry.macs([_shape_of(v and v.type) for v in node.inputs],
                              [_shape_of(v.type) for v in node.outputs], dict(node.attrs))
        except Exception:
            return None
    return rule
