"""`graphscope convert`: any model -> ONNX, PyTorch or TensorFlow, through the IR (ONNX as the
hub), optionally verified layer by layer against the source run in its own framework."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import GraphscopeError, ShapeError, UsageError
from ..ir.graph import Graph
from .verify import VerifyReport, compare

# output suffix -> target: .pt/.pth a TorchScript archive, .py generated source (+ .pth
# state_dict beside it); TensorFlow writes a SavedModel directory, so it needs --to tf
TARGETS = {".onnx": "onnx", ".pt": "pytorch", ".pth": "pytorch", ".py": "pytorch"}


@dataclass
class Conversion:
    target: str
    path: Path | None = None
    report: VerifyReport | None = None
    converted: object = None      # the model when it is in memory
    exporter: str = "graphscope IR"  # or torch.onnx (dynamo) for PyTorch -> ONNX
    fallback_reason: str | None = None  # why the dynamo exporter was not used

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
            atol: float = 1e-5, seed: int = 0, input="random", preprocess=None,
            report: str | os.PathLike | None = None, **load_options) -> Conversion:
    """Convert ``source`` (a path, live model or Graph) to ``to`` (default: ``output``'s
    suffix). ``verify`` (implied by ``report``, an HTML path) compares every layer on
    ``input`` (random, an image or a .npy file; ``preprocess`` for images)."""
    from .. import load
    from .from_tf import runnable_graph
    from .from_torch import IR, dynamo_export, exported_program_of, torch_kind
    graph = source if isinstance(source, Graph) else load(source, **load_options)
    target = target_for(output, to)
    invalid = [f"'{n.name}': {n.meta['shape_error']}" for _, n in graph.walk()
               if n.meta.get("shape_invalid")]
    if invalid:  # no framework could run it either; say where, before writing anything
        raise ShapeError(f"cannot convert a model whose shapes do not work out: node "
                         f"{'; node '.join(invalid[:3])}", file=graph.metadata.get("path"))
    export = None
    torch_source = source if torch_kind(source) else (
        exported_program_of(graph) if target == "onnx" else None)
    if target == "onnx" and torch_source is not None:  # PyTorch's own exporter first
        export = dynamo_export(torch_source, graph, opset)
        if export.model is not None:
            call = graph.metadata.get("torch_call")  # None arguments of the source call
            graph = load(export.model)
            if call:
                graph.metadata["torch_call"] = call
    graph = runnable_graph(graph, opset or 17)  # TensorFlow sources -> tf2onnx's ONNX
    try:
        model = WRITERS[target](graph, output, opset, seed)
    except GraphscopeError as exc:
        if export is not None and export.fallback_reason:  # both paths failed: say both
            exc.message = f"{exc.message}; before that, {export.fallback_reason}"
            exc.args = (exc.message,)
        raise
    result = Conversion(target, None if output is None else Path(output), None, model,
                        export.exporter if export else IR,
                        export.fallback_reason if export else None)
    if verify or report is not None:
        reference = source if torch_source is None else torch_source
        result.report = verify_conversion(graph, target, result.model, rtol, atol, seed,
                                          source=reference, input=input, preprocess=preprocess)
    if report is not None:
        from ..fileio import write_atomic
        from .report import report_html
        target_graph = load(result.model) if target == "onnx" else graph
        write_atomic(report, report_html(graph, target_graph, result.report,
                                         target_format=target, target_path=result.path))
    return result


def _onnx(graph: Graph, output, opset, seed):
    if output is None:
        return to_onnx_checked(graph, opset)
    from .onnx_file import write_onnx  # weights streamed; read back only if asked for
    write_onnx(graph, output, opset)
    return None


def _pytorch(graph: Graph, output, opset, seed):
    if output is not None and Path(output).suffix.lower() == ".py":
        from . import torch_source  # readable source + state_dict
        generated = torch_source.generate(graph, _class_name(graph))
        torch_source.write(generated, output)
        module = torch_source.instantiate(generated)
        module.graphscope_source = generated  # --verify reads forward()'s locals through it
        return module
    from ..runtime.torch import build_module
    model = build_module(graph)
    if output is not None:
        _save_torchscript(model, graph, output, seed)
    return model


def _class_name(graph: Graph) -> str:
    """'small_resnet' -> 'SmallResnet'; a name that is no identifier -> 'ConvertedModel'."""
    name = "".join(part[:1].upper() + part[1:] for part in
                   "".join(c if c.isalnum() else "_" for c in graph.name).split("_"))
    return name if name.isidentifier() and not name[0].isdigit() else "ConvertedModel"


def _tf(graph: Graph, output, opset, seed):
    from .to_tf import build_tf_module, save_saved_model
    model = build_tf_module(graph)
    if output is not None:
        save_saved_model(model, output)
    return model


WRITERS = {"onnx": _onnx, "pytorch": _pytorch, "tf": _tf}


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
    from ..fileio import atomic_output
    with atomic_output(output) as f:
        torch.jit.save(traced, f)


def verify_conversion(graph: Graph, target: str, model, rtol: float, atol: float,
                      seed: int = 0, source=None, input="random", preprocess=None
                      ) -> VerifyReport:
    """Run the source (its own framework where it can: see references.py) and the converted
    model on the same inputs; compare every intermediate value both expose."""
    from ..runtime.inputs import make_feeds
    from .references import reference_run
    feeds = make_feeds(graph, input, preprocess, seed=seed)
    reference, source_values = reference_run(graph, feeds, source)
    names = [v.name for n in graph.nodes for v in n.outputs]
    args = [feeds[v.name] for v in graph.inputs]
    if target == "onnx":
        from ..runtime.onnxruntime import OnnxRuntimeSession
        target_values = OnnxRuntimeSession(model, names).run(feeds)
    elif target == "tf":
        target_values = model.run(*args, capture=names)
    else:
        target_values = _torch_values(model, args, names)
    report = compare(graph, source_values, target_values, rtol, atol)
    report.reference = reference
    return report


def _torch_values(model, args, names) -> dict:
    """Every value a torch target exposes: the interpreter captures by name; a module built
    from generated source gives its forward()'s locals."""
    import torch
    tensors = [torch.from_numpy(a) for a in args]
    with torch.no_grad():
        generated = getattr(model, "graphscope_source", None)
        if generated is None:
            _, captured = model(*tensors, capture=names)
            return {k: v.numpy() for k, v in captured.items()}
        from .torch_source import run_capturing
        _, local = run_capturing(model, *tensors)
    return {value: local[name].numpy() for value, name in generated.local_of.items()
            if isinstance(local.get(name), torch.Tensor)}
