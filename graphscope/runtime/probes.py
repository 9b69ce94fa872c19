"""Activation probes: run a model once and keep every chosen layer's output with its stats."""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import UsageError
from ..ir.extract import descendants, extract
from ..ir.graph import Graph, Node
from .inputs import Preprocess, make_feeds

ORT_DOMAINS = ("", "ai.onnx", "com.microsoft", "ai.onnx.ml")


@dataclass
class LayerProbe:
    name: str            # the probed value's name
    node: str            # the node that produced it
    op: str
    shape: tuple
    stats: dict
    array: np.ndarray = field(repr=False)

    def to_dict(self) -> dict:
        return {"name": self.name, "node": self.node, "op": self.op, "shape": list(self.shape),
                "stats": self.stats}


@dataclass
class ProbeResult:
    graph: Graph
    input: dict
    layers: list[LayerProbe]
    top_k: list[tuple[int, float]] | None = None
    errors: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> LayerProbe:
        for p in self.layers:
            if p.name == name or p.node == name:
                return p
        raise KeyError(name)

    def to_dict(self) -> dict:
        doc = {"input": self.input, "layers": [p.to_dict() for p in self.layers]}
        if self.top_k is not None:
            doc["top_k"] = [{"class": c, "score": s} for c, s in self.top_k]
        if self.errors:
            doc["errors"] = list(self.errors)
        return doc


def activation_stats(a: np.ndarray) -> dict:
    if not a.size:
        return {"min": 0.0, "max": 0.0, "mean": 0.0, "std": 0.0, "zero_fraction": 0.0}
    # float64 accumulators without a float64 copy of the activation
    stats = {"min": float(a.min()), "max": float(a.max()), "mean": float(a.mean(dtype=np.float64)),
             "std": float(a.std(dtype=np.float64)),
             "zero_fraction": float(np.count_nonzero(a == 0) / a.size)}
    if a.ndim == 4 and a.shape[1] > 0:
        dead = np.all(a == 0, axis=(0, 2, 3))
        stats["dead_channels"] = int(dead.sum())
        stats["dead_channel_fraction"] = float(dead.mean())
    return stats


def select_nodes(graph: Graph, pattern: str | None) -> list[Node]:
    """Nodes whose name, op or output name matches any comma-separated glob (or /regex/)."""
    if not pattern:
        return list(graph.nodes)
    tests = []
    for part in (p.strip() for p in pattern.split(",") if p.strip()):
        if len(part) > 1 and part.startswith("/") and part.endswith("/"):
            rx = re.compile(part[1:-1])
            tests.append(lambda s, rx=rx: rx.search(s) is not None)
        else:
            tests.append(lambda s, g=part: fnmatch.fnmatchcase(s, g) or s == g)
    chosen = [n for n in graph.nodes
              if any(t(s) for t in tests for s in (n.name, n.op, *(v.name for v in n.outputs)))]
    if not chosen:
        raise UsageError(f"--layers '{pattern}' matches no layer (try a glob such as 'conv*' or "
                         f"an op name such as 'Conv')")
    return chosen


def _unrunnable(graph: Graph) -> list[Node]:
    from ..convert.to_onnx import LOWERINGS, has_onnx_form
    return [n for n in graph.nodes if not has_onnx_form(n.op) or
            (n.op not in LOWERINGS and "." in n.op and n.op.rsplit(".", 1)[0] not in ORT_DOMAINS)]


def top_k(scores: np.ndarray, k: int = 5) -> list[tuple[int, float]] | None:
    """Top classes of a [1, C] output (softmax applied unless it already is a distribution)."""
    if scores.ndim != 2 or scores.shape[0] < 1 or scores.shape[1] < 2:
        return None
    s = scores[0].astype(np.float64)
    if not (np.all(s >= 0) and abs(s.sum() - 1) < 1e-3):
        e = np.exp(s - s.max())
        s = e / e.sum()
    idx = np.argsort(-s)[:k]
    return [(int(i), float(s[i])) for i in idx]


BACKENDS = ("onnxruntime", "torch")


def probe(model, input="random", layers: str | None = None, preprocess: Preprocess | None = None,
          seed: int = 0, k: int = 5, backend: str = "onnxruntime", **load_options) -> ProbeResult:
    """Run ``model`` (a Graph, a path or a live model) once on ``input`` and return the output,
    with statistics, of every layer matching ``layers`` (all by default). ``backend`` is
    onnxruntime (default) or torch (the IR's torch interpreter)."""
    from .. import load
    from ..convert.from_tf import runnable_graph
    if backend not in BACKENDS:
        raise UsageError(f"backend must be one of {', '.join(BACKENDS)}, not '{backend}'")
    graph = model if isinstance(model, Graph) else load(model, **load_options)
    graph = runnable_graph(graph)  # Keras files run through tf2onnx's ONNX
    if backend == "torch":
        return _probe_torch(graph, input, layers, preprocess, seed, k)
    chosen = select_nodes(graph, layers)
    errors = []
    blocked_roots = _unrunnable(graph)
    blocked = descendants(graph, blocked_roots)
    for n in blocked_roots:
        errors.append(f"node '{n.name}' ({n.op}): onnxruntime cannot run this op; "
                      f"the layers after it are not probed")
    runnable = [n for n in graph.nodes if id(n) not in blocked]
    wanted = [v.name for n in chosen if id(n) not in blocked for v in n.outputs]
    final = [v.name for v in graph.outputs if v.producer is None or id(v.producer) not in blocked]
    names = list(dict.fromkeys(wanted + final))
    feeds = make_feeds(graph, input, preprocess, seed)
    arrays: dict[str, np.ndarray] = {}
    if names:
        from .onnxruntime import OnnxRuntimeSession
        session = OnnxRuntimeSession(extract(graph, runnable, names) if blocked else graph, names)
        arrays = session.run(feeds)
    return _result(graph, chosen, set(wanted), arrays, feeds, input, k, errors)


def _probe_torch(graph: Graph, input, layers, preprocess, seed: int, k: int) -> ProbeResult:
    """The same probe through the torch interpreter (framework ops decomposed as `convert`
    does), one forward pass capturing every chosen value."""
    import torch

    from .torch import build_module, torch_runnable
    graph = torch_runnable(graph)
    chosen = select_nodes(graph, layers)
    wanted = [v.name for n in chosen for v in n.outputs]
    feeds = make_feeds(graph, input, preprocess, seed)
    module = build_module(graph).eval()
    with torch.no_grad():
        outs, captured = module(*[torch.from_numpy(np.ascontiguousarray(feeds[v.name]))
                                  for v in graph.inputs], capture=wanted)
    arrays = {name: t.numpy() for name, t in captured.items()}
    for v, t in zip(graph.outputs, outs):
        arrays.setdefault(v.name, t.numpy())
    return _result(graph, chosen, set(wanted), arrays, feeds, input, k, [])


def _result(graph, chosen, wanted, arrays, feeds, input, k, errors) -> ProbeResult:
    probes = []
    for n in chosen:
        for v in n.outputs:
            if v.name in arrays and v.name in wanted:
                a = np.asarray(arrays[v.name])
                probes.append(LayerProbe(v.name, n.name, n.op, tuple(a.shape),
                                         activation_stats(a) if a.dtype.kind in "fiub" else {}, a))
    first = graph.inputs[0] if graph.inputs else None
    info = {} if first is None else {
        "name": first.name, "shape": list(feeds[first.name].shape),
        "source": input if isinstance(input, str) else "array",
        "stats": activation_stats(np.asarray(feeds[first.name], dtype=np.float64))}
    tk = None
    if graph.outputs and graph.outputs[0].name in arrays:
        tk = top_k(np.asarray(arrays[graph.outputs[0].name]), k)
    return ProbeResult(graph, info, probes, tk, errors)
