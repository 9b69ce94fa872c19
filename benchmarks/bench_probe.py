"""Cost of probing every layer of ResNet-50 against one plain forward pass (same backend,
same run). Usage: python benchmarks/bench_probe.py"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import graphscope  # noqa: E402
from graphscope.runtime.inputs import make_feeds  # noqa: E402
from graphscope.runtime.onnxruntime import OnnxRuntimeSession  # noqa: E402
from graphscope.runtime.report import render_probe_report  # noqa: E402
from tests.zoo.onnx_models import resnet50  # noqa: E402


def best(fn, n=3):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def main():
    graph = graphscope.load(resnet50())
    feeds = make_feeds(graph, "random")
    plain = OnnxRuntimeSession(graph)
    every = OnnxRuntimeSession(graph, [v.name for n in graph.nodes for v in n.outputs])
    plain.run(feeds), every.run(feeds)  # warm up
    t_plain = best(lambda: plain.run(feeds))
    t_every = best(lambda: every.run(feeds))
    t_plain_total = best(lambda: OnnxRuntimeSession(graph).run(feeds), 1)
    t_probe = best(lambda: graphscope.probe(graph), 1)
    result = graphscope.probe(graph)
    t_report = best(lambda: render_probe_report(result), 1)
    print(f"ResNet-50, {len(graph.nodes)} nodes, {len(result.layers)} probed values")
    print(f"plain forward (onnxruntime)          {t_plain:.3f} s")
    print(f"forward exposing every layer         {t_every:.3f} s   x{t_every / t_plain:.2f}")
    print(f"plain: export + session + forward    {t_plain_total:.3f} s")
    print(f"graphscope.probe (same, every layer, stats) {t_probe:.3f} s   "
          f"x{t_probe / t_plain_total:.2f}")
    print(f"report images + HTML                 {t_report:.3f} s")


if __name__ == "__main__":
    main()
