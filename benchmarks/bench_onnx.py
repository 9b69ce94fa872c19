"""ONNX load, info and render speed on big generated graphs, as ratios against baselines.

  floor:      onnx.load + a plain Python walk over every node's inputs and outputs
  process:    `graphscope info` as a process against the floor as a process (the issue's
              measure: <= 3x), wall and CPU time, best of 3
  graphscope: load into the IR (validate, shapes, stats) + the info table / DOT source
  dot:        Graphviz `dot -Tsvg` alone on our DOT, next to our full SVG render

Usage: python benchmarks/bench_onnx.py [--nodes 20000] [--svg-nodes 2000]
"""
from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import onnx  # noqa: E402

import graphscope  # noqa: E402
from graphscope.summary import summary_table  # noqa: E402
from tests.zoo.onnx_models import chain  # noqa: E402
from timing import best_of  # noqa: E402


def floor(path):
    model = onnx.load(str(path), load_external_data=False)
    edges = 0
    for node in model.graph.node:
        edges += len(node.input) + len(node.output)
    return edges


def cli(*args):
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "graphscope", *map(str, args)], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


FLOOR_PROCESS = """import sys, onnx
model = onnx.load(sys.argv[1], load_external_data=False)
edges = 0
for node in model.graph.node:
    edges += len(node.input) + len(node.output)
"""


def process_cost(argv, repeat=3):
    """(wall s, CPU s) of a child process, best of ``repeat``. CPU time (user + sys) is the
    steadier figure on a shared machine; both are printed."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    return best_wall, best_cpu


def info_vs_floor(path) -> float:
    """`graphscope info` against `python -c onnx.load + walk`, both as processes (interpreter
    start and imports included on both sides). Returns the CPU ratio."""
    fw, fc = process_cost([sys.executable, "-c", FLOOR_PROCESS, str(path)])
    iw, ic = process_cost([sys.executable, "-m", "graphscope", "info", str(path)])
    print(f"process: onnx.load + walk      wall {fw:6.2f} s  cpu {fc:6.2f} s")
    print(f"process: graphscope info       wall {iw:6.2f} s  cpu {ic:6.2f} s   "
          f"ratio wall x{iw / fw:.2f}, cpu x{ic / fc:.2f} (goal <= x3)")
    return ic / fc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=20000)
    ap.add_argument("--svg-nodes", type=int, default=2000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    big = tmp / "big.onnx"
    onnx.save(chain(args.nodes), str(big))
    print(f"graph: {args.nodes} nodes, {big.stat().st_size / 1e6:.1f} MB")

    t_floor, _ = best_of(lambda: floor(big))
    t_load, graph = best_of(lambda: graphscope.load(big))
    t_table, _ = best_of(lambda: summary_table(graph))
    t_dot, _ = best_of(lambda: graph.render("dot"))
    t_onnx_si, _ = best_of(lambda: onnx.shape_inference.infer_shapes(
        onnx.load(str(big), load_external_data=False)))
    print(f"floor (onnx.load + walk)     {t_floor:7.3f} s")
    print(f"peer: onnx.load + onnx.shape_inference {t_onnx_si:7.3f} s")
    print(f"graphscope load (IR+passes)  {t_load:7.3f} s   x{t_load / t_floor:.2f} of floor, "
          f"x{t_load / t_onnx_si:.2f} of onnx shape inference")
    print(f"  + info table               {t_table:7.3f} s")
    print(f"  + DOT source               {t_dot:7.3f} s")
    info_vs_floor(big)
    t_info_cli = cli("info", big)
    t_dot_cli = cli("render", big, "-o", tmp / "big.dot")
    print(f"`graphscope info` (process)  {t_info_cli:7.3f} s   x{t_info_cli / t_floor:.2f} of floor")
    print(f"`graphscope render --format dot` (process) {t_dot_cli:7.3f} s   "
          f"x{t_dot_cli / t_floor:.2f} of floor")

    if shutil.which("dot"):
        small = tmp / "small.onnx"
        onnx.save(chain(args.svg_nodes), str(small))
        g = graphscope.load(small)
        dot_src = g.render("dot")
        t_ours, _ = best_of(lambda: g.render("svg"), repeat=1)
        t_gv, _ = best_of(lambda: subprocess.run(["dot", "-Tsvg"], input=dot_src.encode(),
                                                 capture_output=True, check=True), repeat=1)
        print(f"SVG at {args.svg_nodes} nodes: graphscope {t_ours:.2f} s, dot -Tsvg alone "
              f"{t_gv:.2f} s   x{t_ours / t_gv:.2f} of dot")


if __name__ == "__main__":
    main()
