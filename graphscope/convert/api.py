"""`graphscope convert`: any model -> ONNX or PyTorch, through the IR, optionally verified."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import UnsupportedError, UsageError
from ..ir.graph import Graph
from .verify import VerifyReport, compare

TARGETS = {".onnx": "onnx", ".pt": "pytorch", ".pth": "pytorch", ".pb": "tf", ".keras": "tf"}


@dataclass
class Conversion:
    target: str
    path: Path | None = None
    report: VerifyReport | None = None
    converted: object = None      # the model when it is in memory

    @property
    def model(self):
        """onnx.ModelProto or torch.nn.Module. A streamed ONNX file is read back only when
        asked for (it was written without holding all its weights at once)."""
        if self.converted is None and self.target == "onnx" and self.path is not None:
            import onnx
            self.converted = onnx.load(str(self.path))
        return self.converted


def target_for(path: str | os.PathLike | None, to: str | None) -> str:
    if to:
        if to not in ("onnx", "pytorch", "tf"):
            raise UsageError(f"--to must be onnx, pytorch or tf (got '{to}')")
        return to
    if path is None:
        raise UsageError("give --to or an output path whose suffix names the target")
    suffix = Path(path).suffix.lower()
    if suffix not in TARGETS:
        raise UsageError(f"cannot tell the target framework from '{path}'; use --to")
    return TARGETS[suffix]


def to_onnx_checked(graph: Graph, opset: int | None = None):
    """ONNX that passes onnx.checker's full check, with shapes inferred."""
    from .onnx_file import checked_skeleton
    return checked_skeleton(graph, opset, {})


def convert(source, to: str | None = None, output: str | os.PathLike | None = None,
            opset: int | None = None, verify: bool = False, rtol: float = 1e-4,
            atol: float = 1e-5, seed: int = 0, **load_options) -> Conversion:
    from .. import load
    graph = source if isinstance(source, Graph) else load(source, **load_options)
    target = target_for(output, to)
    if target == "tf":
        raise UnsupportedError("conversion to TensorFlow is not available yet; convert to "
                               "ONNX and use onnx-tf or onnx2tf")
    from .from_tf import runnable_graph
    graph = runnable_graph(graph, opset or 17)  # Keras layers -> tf2onnx's ONNX
    if target == "onnx":
        if output is None:
            model = to_onnx_checked(graph, opset)
        else:  # weights streamed to the file; the model is read back only if asked for
            from .onnx_file import write_onnx
            write_onnx(graph, output, opset)
            model = None
    else:
        from ..runtime.torch import build_module
        model = build_module(graph)
        if output is not None:
            _save_torchscript(model, graph, output, seed)
    result = Conversion(target, None if output is None else Path(output), None, model)
    if verify:
        result.report = verify_conversion(graph, target, result.model, rtol, atol, seed)
    return result


def _example_inputs(graph: Graph, seed: int):
    import torch
    from ..runtime.inputs import make_feeds
    return tuple(torch.from_numpy(a) for a in make_feeds(graph, "random", seed=seed).values())


def _save_torchscript(module, graph: Graph, output, seed: int) -> None:
    """A TorchScript archive: loads with torch.jit.load, without graphscope."""
    import warnings

    import torch
    with warnings.catch_warnings():  # shapes baked into the trace are expected here
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, _example_inputs(graph, seed), check_trace=False)
    out = Path(output)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent or ".")
    os.close(fd)
    try:
        torch.jit.save(traced, tmp)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def verify_conversion(graph: Graph, target: str, model, rtol: float, atol: float,
                      seed: int = 0) -> VerifyReport:
    """Run the source graph (onnxruntime over the IR) and the converted model on the same
    random inputs; compare every intermediate value both expose."""
    from ..runtime.inputs import make_feeds
    from ..runtime.onnxruntime import OnnxRuntimeSession
    feeds = make_feeds(graph, "random", seed=seed)
    names = [v.name for n in graph.nodes for v in n.outputs]
    source = OnnxRuntimeSession(graph, names).run(feeds)
    if target == "onnx":
        target_values = OnnxRuntimeSession(model, names).run(feeds)
    else:
        import torch
        with torch.no_grad():
            _, captured = model(*[torch.from_numpy(feeds[v.name]) for v in graph.inputs],
                                capture=names)
        target_values = {k: v.numpy() for k, v in captured.items()}
    return compare(graph, source, target_values, rtol, atol)
