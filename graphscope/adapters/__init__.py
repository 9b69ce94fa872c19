"""Adapter registry: find the adapter for a path or object, load it, run the IR passes.

Each adapter module has FORMAT (its name), DESCRIPTION, SUFFIXES, EXTRA (the pip extra it
needs), ``match(source) -> bool`` (cheap: suffix, magic bytes, object type; no heavy import)
and ``load(source, **options) -> Graph``; options it does not know it ignores. Optional flags:
ACCEPTS_DIRECTORY (a SavedModel is a folder) and HANDLES_INPUT_SHAPES (the adapter applies
``input_shapes`` itself, e.g. by tracing with them; otherwise the registry overrides the
graph inputs and re-infers every shape). Modules are imported on first use, so reading an
.onnx file never imports torch or tensorflow (Netron's factories work the same way).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import GraphscopeError, ParseError, UnsupportedError, UsageError
from ..ir import Graph, TensorType, run_passes
from ..registry import import_optional

# Options that belong to loading (the rest of an API call's options go to the renderer,
# the probe or the explanation).
LOAD_OPTIONS = ("format", "input_shapes", "weights", "phase", "trust", "example_inputs",
                "model_factory", "level", "signature", "capture", "dynamic_shapes", "forgiving")


def split_load_options(options: dict) -> dict:
    """Remove and return the loading options in ``options``."""
    return {k: options.pop(k) for k in LOAD_OPTIONS if k in options}


# Tried in this order; the first whose match() says yes loads the source.
ADAPTER_MODULES = ("ir_json", "onnx", "caffe", "pytorch", "tensorflow")


def adapters() -> list:
    """The adapter modules that are present in this installation, in match order."""
    mods = (import_optional(f"{__name__}.{name}") for name in ADAPTER_MODULES)
    return [m for m in mods if m is not None]


def find_adapter(source: Any, format: str | None = None):
    mods = adapters()
    if format is not None:
        for mod in mods:
            if mod.FORMAT == format:
                return mod
        raise UsageError(f"unknown format '{format}' (known: {', '.join(m.FORMAT for m in mods)})")
    for mod in mods:
        if mod.match(source):
            return mod
    if isinstance(source, (str, os.PathLike)):
        known = ", ".join(s for m in mods for s in m.SUFFIXES)
        raise UnsupportedError(f"unrecognised model format (known suffixes: {known}; "
                               f"use --from FORMAT to force one)", file=str(source))
    raise UnsupportedError(f"cannot load an object of type {type(source).__name__}")


def check_path(path: Path, allow_dir: bool = False) -> None:
    """The common bad-path errors, before any adapter looks at the file."""
    if not path.exists():
        raise ParseError("no such file or directory", file=str(path))
    if path.is_dir() and not allow_dir:
        raise ParseError("is a directory, not a model file", file=str(path))
    if path.is_file() and path.stat().st_size == 0:
        raise ParseError("file is empty", file=str(path))


def load(source: Any, format: str | None = None,
         input_shapes: dict[str, tuple] | None = None, **options) -> Graph:
    """Read a model file or live object into a validated Graph with shapes and stats."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        check_path(path, allow_dir=True)
        adapter = find_adapter(path, format)
        if path.is_dir() and not getattr(adapter, "ACCEPTS_DIRECTORY", False):
            raise ParseError("is a directory, not a model file", file=str(path))
        source = path
    else:
        adapter = find_adapter(source, format)
    if input_shapes:
        options["input_shapes"] = input_shapes
    graph = adapter.load(source, **options)
    graph.metadata.setdefault("format", adapter.FORMAT)
    if isinstance(source, Path):
        graph.metadata.setdefault("path", str(source))
    if options.get("trust"):  # running it later (tf2onnx on a Keras file) may load code too
        graph.metadata["trusted"] = True
    if input_shapes and not getattr(adapter, "HANDLES_INPUT_SHAPES", False):
        apply_input_shapes(graph, input_shapes)
    try:
        return run_passes(graph)
    except GraphscopeError as exc:
        if exc.file is None and isinstance(source, Path):
            exc.file = str(source)
        raise


def apply_input_shapes(graph: Graph, shapes: dict[str, tuple]) -> None:
    """Override graph input shapes (``--input-shape``); names must exist. Shapes that
    adapters read from the file are then recomputed from these."""
    by_name = {v.name: v for v in graph.inputs}
    for name, shape in shapes.items():
        if name not in by_name:
            raise UsageError(f"--input-shape: the model has no input '{name}' "
                             f"(its inputs: {', '.join(by_name) or 'none'})")
        v = by_name[name]
        v.type = TensorType(v.type.dtype or "float32", tuple(shape))
    for node in graph.nodes:
        for v in node.outputs:
            v.type = TensorType(v.type.dtype)
            v.meta.pop("const", None)
