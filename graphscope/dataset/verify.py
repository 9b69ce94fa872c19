"""`convert --verify --dataset`: the source (run as `convert --verify` runs it) and the
converted model on every input of a dataset, compared per layer: max and mean absolute error
over all inputs, the top-1 agreement of the first output, and the worst input (largest error
at the outputs) with its first layer beyond tolerance."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..convert.verify import HINTS, LayerDiff, compare
from ..ir.graph import Graph


@dataclass
class LayerError:
    name: str
    node: str
    op: str
    max_abs: float = 0.0
    abs_sum: float = 0.0
    count: int = 0

    @property
    def mean_abs(self) -> float:
        return self.abs_sum / self.count if self.count else 0.0


@dataclass
class DatasetVerify:
    layers: dict[str, LayerError]
    inputs: int = 0
    top1_agree: int = 0
    top1_compared: int = 0
    failed: int = 0                         # inputs with a layer beyond tolerance
    worst: str | None = None                # the input with the largest output error
    worst_error: float = -1.0
    worst_divergence: LayerDiff | None = None
    reference: str = "onnxruntime"
    rtol: float = 1e-4
    atol: float = 1e-5
    names: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    @property
    def top1_rate(self) -> float | None:
        return self.top1_agree / self.top1_compared if self.top1_compared else None

    def table(self) -> str:
        rows = [f"source run by {self.reference}; {self.inputs} inputs, "
                f"{len(self.layers)} values compared",
                f"{'layer':<40} {'op':<20} {'max abs err':>12} {'mean abs err':>12}"]
        for d in self.layers.values():
            rows.append(f"{d.node[-40:]:<40} {d.op[:20]:<20} {d.max_abs:12.3e} "
                        f"{d.mean_abs:12.3e}")
        if self.top1_rate is not None:
            rows.append(f"top-1 agreement: {self.top1_agree}/{self.top1_compared} "
                        f"({100 * self.top1_rate:.2f}%)")
        rows.append(f"inputs beyond tolerance (rtol {self.rtol:g}, atol {self.atol:g}): "
                    f"{self.failed}/{self.inputs}")
        if self.worst is not None:
            first = self.worst_divergence
            where = "no layer beyond tolerance" if first is None else (
                f"first divergence {first.node} ({first.op}), max abs err {first.max_abs:.3e}; "
                f"likely cause: {HINTS.get(first.op, 'this layer weights or attributes')}")
            rows.append(f"worst input: {self.worst} (output max abs err "
                        f"{self.worst_error:.3e}): {where}")
        return "\n".join(rows) + "\n"


def _sample(arrays: dict, i: int, n: int) -> dict:
    """Input i's part of a batch run: values with the batch as first axis are sliced."""
    return {k: (v[i:i + 1] if getattr(v, "ndim", 0) and v.shape[0] == n and n > 1 else v)
            for k, v in arrays.items()}


def verify_dataset(graph: Graph, target: str, model, source_items, loader, batch: int = 8,
                   rtol: float = 1e-4, atol: float = 1e-5, source=None, on_batch=None
                   ) -> DatasetVerify:
    """``graph``: the graph convert ran (runnable form); ``model``: what it produced."""
    from ..convert.api import _torch_values
    from ..convert.references import reference_run
    from ..runtime.onnxruntime import OnnxRuntimeSession
    from .local import prefetch
    names = [v.name for n in graph.nodes for v in n.outputs]
    session = OnnxRuntimeSession(model, names) if target == "onnx" else None
    first = graph.inputs[0].type.shape[0] if graph.inputs[0].type.shape else 1
    batch = first if isinstance(first, int) else batch
    report = DatasetVerify({}, rtol=rtol, atol=atol)
    outputs = [v.name for v in graph.outputs]
    for chunk, x in prefetch(source_items, loader, batch):
        feeds = {loader.name: x}
        for i, v in enumerate(graph.inputs[1:], 1):  # other inputs: seeded draws, as probe
            rng = np.random.default_rng(i)
            dims = tuple(d if isinstance(d, int) else x.shape[0] for d in v.type.shape)
            feeds[v.name] = np.asarray(rng.standard_normal(dims), dtype=v.type.dtype)
        report.reference, src = reference_run(graph, feeds, source)
        args = [feeds[v.name] for v in graph.inputs]
        if session is not None:
            tgt = session.run(feeds)
        elif target == "tf":
            tgt = model.run(*args, capture=names)
        else:
            tgt = _torch_values(model, args, names)
        n = x.shape[0]
        for i, item in enumerate(chunk):
            a, b = _sample(src, i, n), _sample(tgt, i, n)
            _accumulate(report, graph, a, b, item.name, outputs)
        if on_batch is not None:
            on_batch(len(chunk))
    return report


def _accumulate(report: DatasetVerify, graph, a: dict, b: dict, name: str, outputs) -> None:
    diff = compare(graph, a, b, report.rtol, report.atol)
    report.inputs += 1
    for d in diff.layers:
        err = report.layers.get(d.name)
        if err is None:
            err = report.layers[d.name] = LayerError(d.name, d.node, d.op)
        x, y = np.asarray(a[d.name], np.float64), np.asarray(b[d.name], np.float64)
        if x.shape != y.shape:
            err.max_abs = float("inf")
            continue
        e = np.abs(x - y)
        err.max_abs = max(err.max_abs, float(e.max()) if e.size else 0.0)
        err.abs_sum += float(e.sum())
        err.count += e.size
    if not diff.ok:
        report.failed += 1
    out_err = max((d.max_abs for d in diff.layers if d.name in outputs), default=0.0)
    if out_err > report.worst_error:
        report.worst, report.worst_error = name, out_err
        report.worst_divergence = diff.first_divergence
    if outputs and outputs[0] in a and outputs[0] in b:
        s, t = np.asarray(a[outputs[0]]), np.asarray(b[outputs[0]])
        if s.size > 1 and s.shape == t.shape:
            report.top1_compared += 1
            report.top1_agree += int(np.argmax(s.reshape(-1)) == np.argmax(t.reshape(-1)))
