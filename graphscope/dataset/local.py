"""The local engine: batches streamed through one onnxruntime session (all the machine's
cores), the next batch read by a thread while the current one runs. Only one batch is held
at a time, so memory does not grow with the number of inputs."""
from __future__ import annotations

import queue
import threading

from .plan import BatchRunner, ProbePlan
from .sources import Item, batches
from .stats import DatasetStats

_DONE = object()


def prefetch(source: list[Item], loader, batch: int, depth: int = 2):
    """``sources.batches`` read ahead by a thread (image decoding overlaps inference)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read():
        try:
            for chunk in batches(source, loader, batch):
                while not stop.is_set():
                    try:
                        q.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(exc)

    thread = threading.Thread(target=read, name="graphscope-dataset-reader", daemon=True)
    thread.start()
    try:
        while True:
            got = q.get()
            if got is _DONE:
                return
            if isinstance(got, BaseException):
                raise got
            yield got
    finally:
        stop.set()


def run_local(plan: ProbePlan, source: list[Item], on_batch=None, threads: int | None = None
              ) -> DatasetStats:
    """Statistics of every planned value over ``source``; ``on_batch(n)`` after each batch.
    A batch's statistics are computed by a pool of threads, one layer each at a time (numpy
    releases the GIL), while onnxruntime runs the next batch; at most two batches of
    activations are alive at once."""
    import os
    from concurrent.futures import ThreadPoolExecutor
    runner = BatchRunner(plan, threads)
    stats = plan.stats()
    pending: list = []
    with ThreadPoolExecutor(os.cpu_count() or 2, thread_name_prefix="graphscope-stats") as pool:
        try:
            for chunk, x in prefetch(source, plan.loader, plan.batch):
                arrays = runner.run(x)
                for f in pending:
                    f.result()
                pending = [pool.submit(st.update, arrays[name])
                           for name, st in stats.layers.items() if name in arrays]
                stats.inputs += len(chunk)
                if on_batch is not None:
                    on_batch(len(chunk))
            for f in pending:
                f.result()
        finally:
            for f in pending:
                f.cancel()
    return stats
