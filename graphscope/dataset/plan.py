"""What every engine runs: the model as ONNX bytes with the probed values exposed as outputs,
the values to accumulate, how to load an input and how many inputs go in one run. A plan is
picklable, so that a Ray worker builds its own onnxruntime session from it."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import GraphscopeError, UnsupportedError, require
from ..ir.extract import descendants, extract
from ..ir.graph import Graph
from ..runtime.probes import _unrunnable, select_nodes
from .sources import Loader
from .stats import DatasetStats


@dataclass
class ProbePlan:
    model: bytes                        # serialized ONNX, probed values as extra outputs
    layers: list[tuple[str, str, str]]  # (value, node, op) in graph order
    loader: Loader
    batch: int                          # inputs per run
    others: dict[str, tuple[str, tuple]] = field(default_factory=dict)  # other inputs: random
    seed: int = 0
    errors: list[str] = field(default_factory=list)

    def feeds(self, x: np.ndarray) -> dict[str, np.ndarray]:
        feeds = {self.loader.name: x}
        for i, (name, (dtype, shape)) in enumerate(self.others.items(), 1):
            rng = np.random.default_rng(self.seed + i)
            dims = tuple(d if isinstance(d, int) else x.shape[0] for d in shape)
            feeds[name] = np.asarray(rng.standard_normal(dims), dtype=dtype)
        return feeds

    def stats(self) -> DatasetStats:
        return DatasetStats(self.layers)


def make_plan(graph: Graph, layers: str | None, loader: Loader, batch: int, seed: int = 0
              ) -> ProbePlan:
    """As `probe` does: the chosen layers that onnxruntime can reach, the rest named."""
    import onnx

    from ..convert.to_onnx import to_onnx
    chosen = select_nodes(graph, layers)
    roots = _unrunnable(graph)
    blocked = descendants(graph, roots)
    errors = [f"node '{n.name}' ({n.op}): onnxruntime cannot run this op; the layers after it "
              f"are not probed" for n in roots]
    runnable = [n for n in graph.nodes if id(n) not in blocked]
    wanted = [(v.name, n.name, n.op) for n in chosen if id(n) not in blocked for v in n.outputs]
    if not wanted:
        raise UnsupportedError("no chosen layer can run in onnxruntime" +
                               (f": {errors[0]}" if errors else ""))
    names = [w[0] for w in wanted]
    model = to_onnx(extract(graph, runnable, names) if blocked else graph)
    declared = {o.name for o in model.graph.output}
    for name in names:
        if name not in declared:
            model.graph.output.append(onnx.ValueInfoProto(name=name))
    first = loader.shape[0] if loader.shape else 1
    if isinstance(first, int):  # a fixed batch dimension: that many inputs per run
        if batch != first and first == 1:
            errors.append(f"input '{loader.name}' has a fixed batch of 1: inputs run one at a "
                          f"time (a model exported with a symbolic batch runs --batch at once)")
        batch = first
    others = {v.name: (v.type.dtype or "float32", tuple(v.type.shape or ()))
              for v in graph.inputs[1:]}
    return ProbePlan(model.SerializeToString(), wanted, loader, max(1, batch), others, seed,
                     errors)


def make_session(model: bytes, threads: int | None = None):
    """An onnxruntime session over ``model``; ``threads`` caps its intra-op threads."""
    ort = require("onnxruntime", "onnx", "running models")
    from ..runtime.onnxruntime import _first_line, providers
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(model, opts, providers=providers())
    except Exception as exc:  # ORT raises its own exception types
        raise UnsupportedError(f"onnxruntime cannot run this graph: {_first_line(exc)}") from None


def run_batch(session, plan: ProbePlan, x: np.ndarray, stats: DatasetStats | None = None
              ) -> dict:
    """Run one batch (and fold its values into ``stats`` when given); returns the arrays."""
    from ..runtime.onnxruntime import _first_line
    names = [o.name for o in session.get_outputs()]
    inputs = {i.name for i in session.get_inputs()}
    feeds = {k: v for k, v in plan.feeds(x).items() if k in inputs}
    try:
        arrays = dict(zip(names, session.run(names, feeds)))
    except Exception as exc:
        raise GraphscopeError(f"onnxruntime failed: {_first_line(exc)}") from None
    if stats is not None:
        stats.update(arrays, x.shape[0])
    return arrays
