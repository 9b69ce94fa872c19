"""Conversion between frameworks, through the IR and ONNX as the hub."""
from .api import Conversion, convert
from .to_onnx import to_onnx

__all__ = ["Conversion", "convert", "to_onnx"]
