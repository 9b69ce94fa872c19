"""Each explanation method's time relative to one forward+backward pass of the same model
(the torch interpreter over the IR), measured in the same run.
Usage: python benchmarks/bench_explain.py"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import graphscope  # noqa: E402
from graphscope.explain.api import Explainer  # noqa: E402
from graphscope.explain.methods import run  # noqa: E402
from tests.zoo.onnx_models import small_resnet  # noqa: E402
from timing import best_of  # noqa: E402


def main():
    graph = graphscope.load(small_resnet(batch=1, size=64))
    ex = Explainer(graph)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype("float32"))
    base, _ = best_of(lambda: ex.input_grad(x, 0))
    print(f"small ResNet 64x64: one forward+backward {base * 1000:.1f} ms")
    for method, opts in [("saliency", {}), ("deconvnet", {}), ("guided-backprop", {}),
                         ("integrated-gradients", {"steps": 64}), ("smoothgrad", {"samples": 25}),
                         ("cam", {}), ("gradcam", {}), ("gradcam++", {}),
                         ("maximize", {"iterations": 50})]:
        t, _ = best_of(lambda: run(ex, method, x, 0, None, **opts), 1)
        print(f"{method:22s} {t * 1000:8.1f} ms   x{t / base:6.1f} of forward+backward")


if __name__ == "__main__":
    main()
