"""Conversion between frameworks, through the IR and ONNX as the hub."""
from __future__ import annotations

__all__ = ["Conversion", "convert", "to_onnx"]


def __getattr__(name):  # lazy: `import graphscope` (and the CLI's start) loads no numpy
    if name in ("Conversion", "convert"):
        from . import api
        value = getattr(api, name)
    elif name == "to_onnx":
        from .to_onnx import to_onnx as value
    else:
        raise AttributeError(name)
    globals()[name] = value  # the function, not the submodule of the same name
    return value
