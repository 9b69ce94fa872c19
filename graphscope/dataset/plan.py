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
from .clamp import clamps_of_probed_values
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
    clamps: dict[str, tuple] = field(default_factory=dict)  # value: (probed input, lo, hi)

    def feeds(self, x: np.ndarray) -> dict[str, np.ndarray]:
        feeds = {self.loader.name: x}
        for i, (name, (dtype, shape)) in enumerate(self.others.items(), 1):
            rng = np.random.default_rng(self.seed + i)
            dims = tuple(d if isinstance(d, int) else x.shape[0] for d in shape)
            feeds[name] = np.asarray(rng.standard_normal(dims), dtype=dtype)
        return feeds

    def stats(self) -> DatasetStats:
        return DatasetStats(self.layers, self.clamps)


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
    # a Relu or Clip made from its input is not fetched, unless the model outputs it anyway
    # (the part extracted before an unrunnable op outputs only what it is given)
    derived = clamps_of_probed_values(graph, set(names),
                                      set() if blocked else {v.name for v in graph.outputs})
    fetched = [name for name in names if name not in derived]
    model = to_onnx(extract(graph, runnable, fetched) if blocked else graph)
    declared = {o.name for o in model.graph.output}
    for name in fetched:
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
                     errors, derived)


def make_session(model: bytes, threads: int | None = None):
    """An onnxruntime session over ``model``; ``threads`` caps its intra-op threads."""
    ort = require("onnxruntime", "onnx", "running models")
    from ..runtime.onnxruntime import _first_line, providers
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # onnxruntime's threads otherwise spin between parallel sections, taking the cores from
    # the statistics computed meanwhile (ResNet-50 engine / plain loop 1.52 against 1.60)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(model, opts, providers=providers())
    except Exception as exc:  # ORT raises its own exception types
        raise UnsupportedError(f"onnxruntime cannot run this graph: {_first_line(exc)}") from None


class BatchRunner:
    """Batches of a plan run in one onnxruntime session, every exposed value returned.

    From the second batch on, onnxruntime writes the values into the first batch's arrays
    (IOBinding) instead of fresh ones: fresh output buffers cost a page fault per 4 KiB page
    (ResNet-50 at batch 4, every layer: 57,000 faults and 8% of the run, measured). So a
    batch's arrays hold until the next batch runs: callers are done with each batch first.
    A batch of another size (the last, smaller one) runs on fresh arrays."""

    def __init__(self, plan: ProbePlan, threads: int | None = None):
        self.plan = plan
        self.session = make_session(plan.model, threads)
        self.names = [o.name for o in self.session.get_outputs()]
        self.inputs = {i.name for i in self.session.get_inputs()}
        self._size = None   # the first batch's size: the kept arrays' batch
        self._kept = None   # (binding, arrays)
        self._reuse = True  # off for good once a value's shape changes between batches

    def run(self, x: np.ndarray, stats: DatasetStats | None = None) -> dict:
        """Run one batch (and fold its values into ``stats`` when given); returns the
        arrays by value name."""
        from ..runtime.onnxruntime import _first_line
        feeds = {k: v for k, v in self.plan.feeds(x).items() if k in self.inputs}
        try:
            arrays = self._run(feeds, x.shape[0])
        except Exception as exc:  # ORT raises its own exception types
            raise GraphscopeError(f"onnxruntime failed: {_first_line(exc)}") from None
        if stats is not None:
            stats.update(arrays, x.shape[0])
        return arrays

    def _run(self, feeds: dict, n: int) -> dict:
        if not (self._reuse and self._kept and n == self._size):
            arrays = self.session.run(self.names, feeds)
            if self._reuse and self._size is None and _bindable(arrays):
                self._size = n
                try:
                    self._kept = self._bind(arrays)
                except Exception:  # a type onnxruntime will not bind: fresh arrays
                    self._reuse = False
            return dict(zip(self.names, arrays))
        binding, arrays = self._kept
        for name, value in feeds.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(value))
        try:
            self.session.run_with_iobinding(binding)
        except Exception:  # a value's shape differs from the first batch's: fresh arrays
            self._reuse = False
            return self._run(feeds, n)
        written = binding.get_outputs()
        # onnxruntime writes into the bound arrays; should it hand back others, use those
        return {name: a if v.data_ptr() == a.ctypes.data else v.numpy()
                for name, a, v in zip(self.names, arrays, written)}

    def _bind(self, arrays: list) -> tuple:
        binding = self.session.io_binding()
        for name, a in zip(self.names, arrays):
            binding.bind_output(name, "cpu", 0, a.dtype, list(a.shape), a.ctypes.data)
        return binding, arrays


def _bindable(arrays: list) -> bool:
    """Numeric, contiguous and not empty: arrays onnxruntime can write into."""
    return all(isinstance(a, np.ndarray) and a.dtype.kind in "biuf" and a.size
               and a.flags.c_contiguous for a in arrays)
