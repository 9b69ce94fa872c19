"""Start-up as a user feels it: `graphscope --help` and `graphscope info` on a 500-node ONNX
file, as processes, against `python -c "import onnx"` in the same run (best of N each).

Usage: python benchmarks/bench_startup.py [--repeat 7] [--nodes 500]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import onnx  # noqa: E402

from tests.zoo.onnx_models import chain  # noqa: E402


def best_of(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--nodes", type=int, default=500)
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "chain.onnx"
        onnx.save(chain(args.nodes), str(model))
        cases = {
            "python -c 'import onnx' (baseline)": [py, "-c", "import onnx"],
            "graphscope --help": [py, "-m", "graphscope", "--help"],
            f"graphscope info ({args.nodes}-node ONNX)": [py, "-m", "graphscope", "info",
                                                          str(model)],
            "python -c 'import torch' (for scale)": [py, "-c", "import torch"],
        }
        results = {name: best_of(cmd, args.repeat) for name, cmd in cases.items()}
    base = results["python -c 'import onnx' (baseline)"]
    for name, t in results.items():
        print(f"{name:42s} {t:6.3f} s  {t / base:5.2f}x import onnx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
