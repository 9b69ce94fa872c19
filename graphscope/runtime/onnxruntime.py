"""Run a graph with onnxruntime, exposing any intermediate values as extra outputs so that
every probed activation comes from one run. The CUDA provider is used when present."""
from __future__ import annotations

import numpy as np

from ..errors import GraphscopeError, UnsupportedError, require
from ..ir.graph import Graph


def providers() -> list[str]:
    ort = require("onnxruntime", "onnx", "running models")
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class OnnxRuntimeSession:
    """An onnxruntime session over a Graph or an onnx.ModelProto, with ``outputs`` (value
    names) exposed as extra graph outputs."""

    def __init__(self, source: Graph | object, outputs: list[str] | None = None):
        ort = require("onnxruntime", "onnx", "running models")
        if isinstance(source, Graph):
            from ..convert.to_onnx import to_onnx
            model = to_onnx(source)
        else:  # a ModelProto of the caller's: extra outputs go on a copy
            import onnx
            model = onnx.ModelProto()
            model.CopyFrom(source)
        declared = {o.name for o in model.graph.output}
        for name in outputs or []:
            if name not in declared:
                from onnx import ValueInfoProto
                model.graph.output.append(ValueInfoProto(name=name))
                declared.add(name)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(model.SerializeToString(), opts,
                                                providers=providers())
        except Exception as exc:  # ORT raises its own exception types
            raise UnsupportedError(f"onnxruntime cannot run this graph: "
                                   f"{_first_line(exc)}") from None
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.input_names = [i.name for i in self.session.get_inputs()]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Every output by name; feeds the session has no input for are left out."""
        feeds = {k: v for k, v in feeds.items() if k in self.input_names}
        try:
            arrays = self.session.run(self.output_names, feeds)
        except Exception as exc:
            raise GraphscopeError(f"onnxruntime failed: {_first_line(exc)}") from None
        return dict(zip(self.output_names, arrays))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:400] if text else exc.__class__.__name__


def run(graph: Graph, feeds: dict[str, np.ndarray], outputs: list[str] | None = None):
    """One forward pass; returns the graph outputs plus every value named in ``outputs``."""
    return OnnxRuntimeSession(graph, outputs).run(feeds)
