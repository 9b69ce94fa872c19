"""probe_dataset(): every chosen layer's statistics over a whole dataset, streamed, on the
local engine or on Ray."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from .. import progress
from ..errors import UsageError
from ..ir.graph import Graph
from .stats import DatasetStats

ENGINES = ("local", "ray")


@dataclass
class DatasetProbe:
    graph: Graph
    stats: DatasetStats
    dataset: str
    engine: str
    batch: int
    seconds: float
    errors: list[str] = field(default_factory=list)

    @property
    def inputs(self) -> int:
        return self.stats.inputs

    @property
    def rate(self) -> float:
        """Inputs per second (loading and statistics included)."""
        return self.inputs / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self, channels: bool = True, histogram: bool = True) -> dict:
        doc = {"dataset": {"source": self.dataset, "inputs": self.inputs, "engine": self.engine,
                           "batch": self.batch},
               "layers": [{"name": st.name, "node": st.node, "op": st.op,
                           "shape": None if st.shape is None else ["N", *st.shape],
                           "stats": st.to_dict(channels, histogram)}
                          for st in self.stats.layers.values()]}
        if self.errors:
            doc["errors"] = list(self.errors)
        return doc


def probe_dataset(model, dataset: str, layers: str | None = None, preprocess=None,
                  batch: int = 16, engine: str = "local", address: str | None = None,
                  workers: int = 2, threads: int | None = None, seed: int = 0,
                  **load_options) -> DatasetProbe:
    """Run ``model`` over every input ``dataset`` names (a folder, glob, .txt list or
    .npy/.npz file; see sources.items) and merge each chosen layer's statistics.
    ``engine``: local (one onnxruntime session, ``threads`` intra-op threads, default all
    cores) or ray (``workers`` actors of ``threads or 1`` thread each; ``address`` joins a
    cluster). Progress, with inputs/s, shows on a terminal."""
    from .. import load
    from ..convert.from_tf import runnable_graph
    from .plan import make_plan
    from .sources import items, loader_for
    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, not '{engine}'")
    if batch < 1:
        raise UsageError(f"--batch must be at least 1 (got {batch})")
    graph = model if isinstance(model, Graph) else load(model, **load_options)
    graph = runnable_graph(graph)  # Keras files run through tf2onnx's ONNX
    loader = loader_for(graph, preprocess)
    source = items(dataset, len(loader.shape) - 1)
    plan = make_plan(graph, layers, loader, batch, seed)
    started = time.perf_counter()
    with progress.task(f"probing {len(source)} inputs ({engine})", total=len(source),
                       unit="input") as bar:
        if engine == "local":
            from .local import run_local
            stats = run_local(plan, source, bar.update, threads)
        else:
            from .ray_engine import run_ray
            stats = run_ray(plan, source, bar.update, workers, address, threads or 1)
    return DatasetProbe(graph, stats, dataset, engine, plan.batch,
                        time.perf_counter() - started, plan.errors)
