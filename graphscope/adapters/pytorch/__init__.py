"""PyTorch: live nn.Modules, ExportedPrograms (.pt2), TorchScript archives and checkpoints.

Options: example_inputs (a tensor or tuple), input_shapes (name -> shape, from --input-shape),
model_factory ('pkg.mod:fn', from --model), trust (allow full pickles), dynamic_shapes (passed
to torch.export), capture ('export' or 'jit' to force one path).
"""
from __future__ import annotations

import sys
from pathlib import Path

from ...errors import require

FORMAT = "pytorch"
DESCRIPTION = "PyTorch: nn.Module, ExportedProgram (.pt2), TorchScript, checkpoints (.pt/.pth)"
SUFFIXES = (".pt", ".pth", ".pt2", ".ckpt", ".bin")
EXTRA = "torch"
HANDLES_INPUT_SHAPES = True

_SNIFFED = (".ckpt", ".bin")  # suffixes other formats use too: claim them by magic bytes
_MAGIC = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
_LIVE_TYPES = {"Module", "ExportedProgram", "ScriptModule", "RecursiveScriptModule"}


def match(source) -> bool:
    if isinstance(source, Path):
        suffix = source.suffix.lower()
        if suffix in _SNIFFED:
            try:
                with open(source, "rb") as f:
                    return f.read(4).startswith(_MAGIC)
            except OSError:
                return False
        return suffix in SUFFIXES
    if "torch" not in sys.modules:  # a torch object cannot exist without torch imported
        return False
    return any(c.__name__ in _LIVE_TYPES and c.__module__.startswith("torch")
               for c in type(source).__mro__)


def load(source, example_inputs=None, input_shapes=None, model_factory=None, trust=False,
         dynamic_shapes=None, capture=None, **_):
    require("torch", EXTRA, "reading PyTorch models")
    from . import files
    from .capture import capture as capture_module
    from .capture import read_exported
    if isinstance(source, Path):
        return files.load_file(source, example_inputs=example_inputs, input_shapes=input_shapes,
                               model_factory=model_factory, trust=trust,
                               dynamic_shapes=dynamic_shapes, method=_method(capture))
    if type(source).__name__ == "ExportedProgram":
        return read_exported(source, "exported_program", capture="torch.export")
    inputs = files.example_inputs_for(source, example_inputs, input_shapes)
    return capture_module(source, inputs, dynamic_shapes=dynamic_shapes, method=_method(capture))


def _method(capture):
    return {None: None, "export": "export", "jit": "jit", "torch.export": "export",
            "fx": "fx", "torch.fx": "fx", "jit.trace": "jit",
            "torch.jit.trace": "jit"}.get(capture, capture)
