"""Peak memory of converting a ~100 MB ONNX model through the IR (to ONNX and to PyTorch),
as multiples of the model's size, next to onnx.load alone. Each case runs in a fresh process.
Usage: python benchmarks/bench_convert.py [--mb 100]"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "onnx.load alone": "import onnx; onnx.load(sys.argv[1])",
    "graphscope.load (structure)": "import graphscope; graphscope.load(sys.argv[1])",
    "convert -> ONNX": "import graphscope; graphscope.convert(sys.argv[1], to='onnx', "
                       "output=sys.argv[2] + '.onnx')",
    "convert -> PyTorch module": "import graphscope; graphscope.convert(sys.argv[1], to='pytorch')",
}


def big_model(mb: int) -> onnx.ModelProto:
    width = 1024
    layers = max(1, mb * 2 ** 20 // (width * width * 4))
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(layers):
        inits.append(numpy_helper.from_array(rng.standard_normal((width, width), np.float32),
                                             f"w{i}"))
        nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"h{i}"], name=f"mm{i}"))
        x = f"h{i}"
    g = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", 1, [1, width])],
                          [helper.make_tensor_value_info(x, 1, [1, width])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def peak_growth_mb(code: str, *args: str) -> float:
    """Peak RSS during ``code`` minus the RSS before it, with every import done first.
    VmHWM, not ru_maxrss: a child's ru_maxrss starts from its parent's RSS at fork time."""
    wrapper = ("import sys; sys.path.insert(0, %r)\n"
               "import numpy, onnx, onnxruntime, torch, graphscope, graphscope.runtime.torch\n"
               "kb = lambda key: int(next(l for l in open('/proc/self/status') "
               "if l.startswith(key)).split()[1]) / 1024\n"
               "before = kb('VmRSS')\n%s\n"
               "print(kb('VmHWM') - before)"
               % (str(ROOT), code))
    out = subprocess.run([sys.executable, "-c", wrapper, *args], check=True,
                         capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=100)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    path = tmp / "big.onnx"
    onnx.save(big_model(args.mb), str(path))
    size = path.stat().st_size / 2 ** 20
    print(f"model {size:.0f} MB")
    for label, code in CASES.items():
        grow = peak_growth_mb(code, str(path), str(tmp / "out"))
        print(f"{label:30s} peak memory growth {grow:7.0f} MB   x{grow / size:.2f} of the model")


if __name__ == "__main__":
    main()
