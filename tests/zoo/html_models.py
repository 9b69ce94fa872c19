"""Models for the HTML viewer's tests: hostile names and doc strings."""
from __future__ import annotations

from onnx import helper

from .onnx_models import Builder

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "</script><script>alert(2)</script>"


def hostile() -> "onnx.ModelProto":
    """Node names, namespaces and doc strings that would run script if pasted in as HTML."""
    b = Builder(SCRIPT + "graph")
    x = b.input("x", [1, 4])
    y = b.op("Relu", [x], name=IMG)
    y = b.op("Sigmoid", [y], name=f"/{SCRIPT}/a/Sigmoid")
    y = b.op("Tanh", [y], name=f"/{SCRIPT}/b/Tanh", outputs=["y"])
    b.output("y", 2)
    model = b.model()
    model.graph.node[0].doc_string = SCRIPT + IMG
    model.graph.node[1].attribute.append(helper.make_attribute("note", IMG))
    return model
