"""Load + render a synthetic TensorBoard run (default 1,000,000 steps x 20 scalars) with
`graphscope train`'s code, next to the tensorboard package's own loader (EventAccumulator,
keeping every point) on the same file.

    .venv/bin/python benchmarks/bench_train.py [--steps 1000000] [--tags 20]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--tags", type=int, default=20)
    ap.add_argument("--dir", help="keep the event file here (default: a temporary directory)")
    args = ap.parse_args()

    from tests.zoo.train_logs import synthetic_event_file
    d = args.dir or tempfile.mkdtemp(prefix="bench_train_")
    path = os.path.join(d, "run", "events.out.tfevents.bench")
    if not os.path.exists(path):
        t = time.perf_counter()
        synthetic_event_file(path, args.steps, args.tags)
        print(f"wrote {os.path.getsize(path) / 1e6:.0f} MB ({args.steps} steps x {args.tags} "
              f"scalars) in {time.perf_counter() - t:.1f}s")

    # Both readers use TensorFlow's C++ record reader for a file this size (tensorboard does
    # whenever TF is installed); its import is timed once, apart, and not counted for either.
    t = time.perf_counter()
    import tensorflow  # noqa: F401
    print(f"import tensorflow: {time.perf_counter() - t:.1f}s (a cold `graphscope train` "
          f"on a file over 16 MB pays it once)")

    from graphscope.train import load_runs
    from graphscope.train.report import render_html
    t0 = time.perf_counter()
    runs, errors = load_runs([os.path.dirname(path)])
    t1 = time.perf_counter()
    html = render_html(runs, smoothing=0.6)
    t2 = time.perf_counter()
    assert not errors and len(runs[0].scalars) == args.tags
    assert all(len(s) == args.steps for s in runs[0].scalars.values())
    ours_load, ours_render = t1 - t0, t2 - t1
    print(f"graphscope: load {ours_load:.2f}s + render {ours_render:.2f}s "
          f"= {ours_load + ours_render:.2f}s (HTML {len(html) / 1e6:.1f} MB)")

    from tensorboard.backend.event_processing import event_accumulator as ea
    t0 = time.perf_counter()
    acc = ea.EventAccumulator(path, size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
    acc.Reload()
    n = sum(len(acc.Scalars(tag)) for tag in acc.Tags()["scalars"])
    tb = time.perf_counter() - t0
    assert n == args.steps * args.tags, n
    print(f"tensorboard EventAccumulator (keep all): load {tb:.2f}s")
    print(f"ratio: tensorboard load / graphscope load = {tb / ours_load:.1f}x; "
          f"tensorboard load / graphscope load+render = {tb / (ours_load + ours_render):.1f}x")


if __name__ == "__main__":
    main()
