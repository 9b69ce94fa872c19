"""The Ray engine, on Ray Data: the inputs become a Ray dataset (one row per input, by index);
``map_batches`` runs batches on a pool of actors that each hold one onnxruntime session and
return that batch's statistics (a few KB per layer, never the activations); the driver merges
them as they arrive. A local Ray is started (and stopped) unless one is running or
``address`` names a cluster to join."""
from __future__ import annotations

import logging
import pickle
import time

import numpy as np

from ..errors import UsageError, require
from .plan import BatchRunner, ProbePlan
from .sources import Item, stack
from .stats import DatasetStats


class _ProbeWorker:
    """One Ray actor: a session built once, then a batch of input indices at a time."""

    def __init__(self, refs, threads: int):
        import ray
        self.plan, self.items = ray.get(refs)  # inside a list, so Ray did not resolve them
        self.runner = BatchRunner(self.plan, threads)

    def __call__(self, batch: dict) -> dict:
        started = time.time()
        index = batch["index"]
        x = stack([self.plan.loader.load(self.items[int(i)]) for i in index])
        stats = self.plan.stats()
        for start in range(0, len(index), self.plan.batch):  # a fixed model batch
            self.runner.run(x[start:start + self.plan.batch], stats)
        state = np.empty(1, dtype=object)
        state[0] = pickle.dumps(stats, protocol=pickle.HIGHEST_PROTOCOL)
        return {"state": state, "inputs": np.array([len(index)]),
                "span": np.array([[started, time.time()]])}  # when this actor worked on it


def start(address: str | None = None, workers: int = 2):
    """Ray, running: already initialised, joined at ``address``, or a local one with
    ``workers`` CPUs. Returns (ray module, whether this call started it)."""
    ray = require("ray", "ray", "--engine ray")
    if ray.is_initialized():
        return ray, False
    import os
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")  # Ray's C++ warnings on stderr
    try:
        ray.init(address=address, num_cpus=None if address else workers,
                 include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                 configure_logging=True)
    except ConnectionError as exc:
        raise UsageError(f"cannot join the Ray cluster at '{address}': {exc}") from None
    return ray, True


def run_ray(plan: ProbePlan, source: list[Item], on_batch=None, workers: int = 2,
            address: str | None = None, threads: int = 1, spans: list | None = None
            ) -> DatasetStats:
    """``spans``: if a list, each batch's (start, end) wall time in its actor is added."""
    ray, started = start(address, workers)
    try:
        import ray.data
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # graphscope draws its own, with inputs/s
        ctx.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        refs = [ray.put(plan), ray.put(source)]
        # Ray's batch: inputs per actor call, whole model batches, at least 16 so that the
        # statistics sent back per call weigh little against the work
        per_call = plan.batch * -(-16 // plan.batch)
        # rows made on the driver (no read tasks: every CPU goes to the actors), in enough
        # blocks that every actor gets work; from_items builds them in the driver's process
        # (from_numpy ran a task per block: seconds before the first batch, measured)
        blocks = min(-(-len(source) // per_call), 16 * workers)
        rows = ray.data.from_items([{"index": i} for i in range(len(source))],
                                   override_num_blocks=max(1, blocks))
        out = rows.map_batches(_ProbeWorker, batch_size=per_call,
                               compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1,
                               fn_constructor_kwargs={"refs": refs, "threads": threads},
                               batch_format="numpy")
        stats = plan.stats()
        for b in out.iter_batches(batch_size=None, batch_format="numpy"):
            for state, n, span in zip(b["state"], b["inputs"], b["span"]):
                stats.merge(pickle.loads(state))
                if spans is not None:
                    spans.append((float(span[0]), float(span[1])))
                if on_batch is not None:
                    on_batch(int(n))
        return stats
    finally:
        if started:
            ray.shutdown()
