"""Start-up as a user feels it: `graphscope --help` and `graphscope info` on a 500-node ONNX
file, as processes, against `python -c "import onnx"` in the same run (best of N each).

Usage: python benchmarks/bench_startup.py [--repeat 7] [--nodes 500]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import onnx  # noqa: E402

from tests.zoo.onnx_models import chain  # noqa: E402
from timing import best_process  # noqa: E402


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
        results = {name: best_process(cmd, args.repeat, ROOT)[0] for name, cmd in cases.items()}
    base = results["python -c 'import onnx' (baseline)"]
    for name, t in results.items():
        print(f"{name:42s} {t:6.3f} s  {t / base:5.2f}x import onnx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
