"""Diff speed and memory on big generated graphs, as ratios against loading both sides.

  load:   graphscope.load of A and B (ONNX files: parse, validate, shapes, stats)
  diff:   graphscope.diff of the two loaded Graphs (matching + comparison), best of 3
  pairs:  A against a copy with a block inserted (names kept: the name phase does most of it)
          and against a copy with every node and value renamed (structure only)
  memory: tracemalloc's peak during the diff, per node, at several sizes (linear: flat)

The issue's bound: diff <= 3x the time to load both. Usage:
  python benchmarks/bench_diff.py [--nodes 10000] [--sizes 2500,5000,10000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import onnx  # noqa: E402

import graphscope  # noqa: E402
from tests.zoo import diff_models as dm  # noqa: E402
from tests.zoo.onnx_models import chain  # noqa: E402
from timing import best_of  # noqa: E402


def pair_files(n: int, tmp: Path):
    m = chain(n)
    inserted = dm.block_inserted(m, m.graph.node[len(m.graph.node) // 2].name, 8)
    paths = {"a": tmp / f"a{n}.onnx", "inserted": tmp / f"ins{n}.onnx",
             "renamed": tmp / f"ren{n}.onnx"}
    onnx.save(m, str(paths["a"]))
    onnx.save(inserted, str(paths["inserted"]))
    onnx.save(dm.renamed(inserted), str(paths["renamed"]))
    return paths


def speed(n: int, tmp: Path) -> None:
    paths = pair_files(n, tmp)
    for kind in ("inserted", "renamed"):
        t_load, (ga, gb) = best_of(lambda: (graphscope.load(str(paths["a"])),
                                            graphscope.load(str(paths[kind]))))
        t_diff, r = best_of(lambda: graphscope.diff(ga, gb))
        s = r.summary
        print(f"{kind:9s} {len(ga.nodes):6d}+{len(gb.nodes):6d} nodes: load both {t_load:6.2f} s"
              f"  diff {t_diff:6.2f} s  ratio {t_diff / t_load:5.2f}x (bound 3x)  "
              f"[{s['pairs']} pairs, {s['only_a']} only A, {s['only_b']} only B]")


def memory(sizes, tmp: Path) -> None:
    for n in sizes:
        paths = pair_files(n, tmp)
        ga, gb = graphscope.load(str(paths["a"])), graphscope.load(str(paths["renamed"]))
        tracemalloc.start()
        graphscope.diff(ga, gb)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"memory {n:6d} nodes: diff peak {peak / 2**20:7.1f} MiB, "
              f"{peak / (len(ga.nodes) + len(gb.nodes)):7.0f} bytes per node")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=10000)
    ap.add_argument("--sizes", default="2500,5000,10000")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        speed(args.nodes, Path(d))
        memory([int(x) for x in args.sizes.split(",")], Path(d))


if __name__ == "__main__":
    main()
