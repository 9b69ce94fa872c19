"""Caffe adapter speed: prototxt parse throughput, a 5,000-layer net to shapes, and the time
to a rendered SVG next to Graphviz `dot` alone on the same graph.

    .venv/bin/python benchmarks/bench_caffe.py

Peers measured in the same run: OpenCV's C++ Caffe importer (cv2.dnn.readNetFromCaffe, when
installed) for parsing, and `dot -Tsvg` for drawing.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import graphscope  # noqa: E402
from graphscope.adapters.caffe.prototxt import parse  # noqa: E402
from tests.zoo import caffe_models  # noqa: E402


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    d = Path(tempfile.mkdtemp(prefix="bench_caffe_"))
    big = d / "chain5000.prototxt"
    big.write_text(caffe_models.chain(5000))
    text = big.read_text()
    mb = len(text.encode()) / 1e6
    layers = text.count("layer {")

    t_parse = best(lambda: parse(text, str(big)))
    print(f"prototxt parse: {mb:.2f} MB, {layers} layers in {t_parse:.3f} s "
          f"= {mb / t_parse:.1f} MB/s")
    try:
        import cv2
        t_cv = best(lambda: cv2.dnn.readNetFromCaffe(str(big)))
        print(f"  OpenCV readNetFromCaffe (C++ parse + net setup): {t_cv:.3f} s; "
              f"ours / OpenCV = {t_parse / t_cv:.2f}x")
    except ImportError:
        print("  (cv2 not installed: no parse peer)")

    t_load = best(lambda: graphscope.load(big))
    g = graphscope.load(big)
    print(f"5,000-layer prototxt -> graph with every shape and stat: {t_load:.3f} s "
          f"({len(g.nodes)} nodes); parse is {t_parse / t_load:.0%} of it")
    t_forgiving = best(lambda: graphscope.load(big, forgiving=True))
    print(f"  the same, read forgivingly (render/info): {t_forgiving:.3f} s "
          f"= {t_forgiving / t_load:.2f}x strict")
    corpus = sorted((ROOT.parent / "shared" / "corpus" / "caffe").glob("*/*.prototxt"))
    if corpus:
        t_corpus = best(lambda: [graphscope.load(p, forgiving=True) for p in corpus], repeat=1)
        size = sum(p.stat().st_size for p in corpus) / 1e6
        print(f"corpus: {len(corpus)} real prototxts ({size:.1f} MB), all read forgivingly, "
              f"in {t_corpus:.2f} s ({size / t_corpus:.1f} MB/s, parse + every shape)")

    if shutil.which("dot") is None:
        print("dot not installed: no SVG timing")
        return
    for name, make in (("squeezenet_v1.0", caffe_models.squeezenet_v10),
                       ("googlenet", caffe_models.googlenet),
                       ("chain1000", lambda: caffe_models.chain(1000))):
        p = d / f"{name}.prototxt"
        p.write_text(make())
        dot_file = d / f"{name}.dot"
        graphscope.load(p).render(str(dot_file))
        svg = d / f"{name}.svg"
        t_ours = best(lambda: graphscope.load(p).render(str(svg)), repeat=3)
        t_dot = best(lambda: subprocess.run(["dot", "-Tsvg", str(dot_file), "-o", str(d / "x.svg")],
                                            check=True), repeat=3)
        print(f"{name}: prototxt -> SVG {t_ours:.3f} s; dot alone on the same graph "
              f"{t_dot:.3f} s; ratio {t_ours / t_dot:.2f}x (our overhead "
              f"{t_ours - t_dot:+.3f} s)")
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
