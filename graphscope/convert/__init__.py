"""Conversion between frameworks, through the IR and ONNX as the hub."""
from .to_onnx import to_onnx

__all__ = ["to_onnx"]
