"""PyTorch -> ONNX with torch.onnx's dynamo exporter first: PyTorch's own lowering covers the
most ops and is what PyTorch users expect. When it cannot (onnxscript missing, an op it has
no translation for), conversion goes through graphscope's IR lowering instead, and says why.

The exported model's nodes carry their module paths (pkg.torch.onnx.name_scopes), which the
ONNX adapter reads as namespaces: --verify then matches each submodule's output (a forward
hook on the live module) to the last value computed in its namespace.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir.graph import Graph

DYNAMO = "torch.onnx (dynamo)"
IR = "graphscope IR"


@dataclass
class Export:
    model: object | None      # onnx.ModelProto when the dynamo exporter succeeded
    exporter: str
    fallback_reason: str | None = None


def torch_kind(source) -> str | None:
    """'module' for a live nn.Module, 'exported' for an ExportedProgram, else None."""
    for c in type(source).__mro__:
        if c.__name__ == "Module" and c.__module__.startswith("torch.nn"):
            return "module"
        if c.__name__ == "ExportedProgram" and c.__module__.startswith("torch.export"):
            return "exported"
    return None


def dynamo_export(source, graph: Graph, opset: int | None = None) -> Export:
    """The dynamo exporter's ONNX for ``source``, called on inputs shaped as ``graph``'s."""
    import logging
    import warnings
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
        import torch
    except ImportError as exc:
        return Export(None, IR, f"torch.onnx's dynamo exporter needs {exc.name}")
    from ..runtime.inputs import make_feeds
    args = call_args(graph, {k: torch.from_numpy(a) for k, a in make_feeds(graph, "random").items()})
    options = {"opset_version": opset} if opset else {}
    # fake-tensor tracing logs a traceback for an op whose meta kernel raises (a custom op's
    # stand-in); the exception itself carries the reason, given with the fallback
    fake_log = logging.getLogger("torch._subclasses.fake_tensor")
    level = fake_log.level
    fake_log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(source, args, dynamo=True, verbose=False, **options)
        return Export(program.model_proto, DYNAMO)
    except Exception as exc:  # the exporter raises many kinds; fall back and say why
        return Export(None, IR, f"torch.onnx dynamo export failed: {_reason(exc)}")
    finally:
        fake_log.setLevel(level)


def _reason(exc: Exception) -> str:
    """The exporter's own reason, one line: its 'Exception summary' line when it wrote one
    (the first line is only which step failed), without terminal colour codes."""
    import re
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    m = re.search(r"## Exception summary\s*\n\s*(.+)", text)
    line = m.group(1) if m else (text.splitlines() or [type(exc).__name__])[0]
    line = re.sub(r"^<class '([\w.]+)'>:", r"\1:", line.strip())
    return line[:300]


def call_args(graph: Graph, tensors: dict) -> tuple:
    """The positional arguments to call the source module with: the graph's inputs, and
    None where the model was captured with an optional argument left None."""
    layout = graph.metadata.get("torch_call") or [v.name for v in graph.inputs]
    return tuple(None if name is None else tensors[name] for name in layout)


def exported_program_of(graph: Graph):
    """The ExportedProgram a graph was read from (a .pt2 file), loaded again as the adapter
    loads it (weights only, unless the graph was loaded with trust); else None."""
    from pathlib import Path
    path = graph.metadata.get("path")
    if graph.metadata.get("format") != "pytorch" or not path or \
            Path(path).suffix.lower() != ".pt2":
        return None
    from ..adapters.pytorch.files import load_exported_program
    return load_exported_program(Path(path), graph.metadata.get("trusted", False))


def reference_module(source):
    """What --verify runs as the source: the module; for an ExportedProgram, the module
    hierarchy unflattened again (so submodule hooks fire), or its flat module."""
    if torch_kind(source) != "exported":
        return source
    import torch
    try:
        return torch.export.unflatten(source)
    except Exception:  # unflattening is best effort; the flat module still runs
        return source.module()
