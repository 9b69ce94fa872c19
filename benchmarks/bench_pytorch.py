"""Loading a 100-block transformer: graphscope.load(module) against torch.export alone (the
capture it builds on) and against torchview's draw_graph on the same model, if installed.

    .venv/bin/python benchmarks/bench_pytorch.py [--blocks 100] [--repeat 3]

Prints the best of --repeat runs for each and the ratios. The issue asks for our load to cost
well under twice torch.export alone.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

import graphscope  # noqa: E402
from tests.zoo.torch_models import TransformerStack  # noqa: E402


def best(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def startup(repeat: int) -> None:
    """`graphscope info x.pt2` against `python -c "import torch; torch.export.load(x)"`, both
    as fresh processes (a user's wait), on a tiny Hugging Face BERT; best of ``repeat``, wall
    and CPU (user + sys: what a shared machine disturbs least). The issue asks for <= 1.5x.

    torch.export.load alone cannot read the archive saved the default way in a fresh process
    (its output class, a transformers ModelOutput, is not registered there: it fails, after
    doing most of the work), so the baseline loads the same model exported with
    return_dict=False (a tuple output: the same graph, which torch reads alone); graphscope is
    timed on both archives."""
    import tempfile
    try:
        from tests.zoo import hf_models
        model, inputs = hf_models.build("bert")
    except ImportError:
        print("transformers          not installed - start-up comparison skipped")
        return
    with tempfile.TemporaryDirectory() as d:
        default, plain = Path(d) / "bert.pt2", Path(d) / "bert_tuple.pt2"
        torch.export.save(torch.export.export(model, inputs, strict=False), str(default))
        model.config.return_dict = False
        torch.export.save(torch.export.export(model, inputs, strict=False), str(plain))
        cmds = {"torch.export.load (tuple output)":
                [sys.executable, "-c", f"import torch; torch.export.load({str(plain)!r})"],
                "graphscope info (tuple output)":
                [sys.executable, "-m", "graphscope", "info", str(plain)],
                "graphscope info (saved the default way)":
                [sys.executable, "-m", "graphscope", "info", str(default)]}
        from timing import best_process
        times = {label: best_process(cmd, repeat) for label, cmd in cmds.items()}
    base_wall, base_cpu = times["torch.export.load (tuple output)"]
    for label, (wall, cpu) in times.items():
        print(f"{label:42s} wall {wall:7.2f} s ({wall / base_wall:.2f}x)   "
              f"CPU {cpu:7.2f} s ({cpu / base_cpu:.2f}x)")
    print("(target: graphscope info <= 1.5x torch.export.load)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--startup-only", action="store_true",
                    help="only the .pt2 start-up comparison (processes)")
    args = ap.parse_args()
    startup(args.repeat)
    if args.startup_only:
        return
    torch.manual_seed(0)
    model = TransformerStack(args.blocks).eval()
    x = torch.randn(1, 16, 64)

    # interleaved, best of each; and, per load, its time over that load's own export call,
    # which a busy machine disturbs least (both halves run under the same load)
    t_export = t_ours = float("inf")
    inner = []
    export = torch.export.export
    spent = {}

    def timed_export(*a, **k):
        t = time.perf_counter()
        try:
            return export(*a, **k)
        finally:
            spent["export"] = time.perf_counter() - t

    for _ in range(args.repeat):
        t, ep = best(lambda: export(model, (x,)), 1)
        t_export = min(t_export, t)
        torch.export.export = timed_export
        try:
            t, graph = best(lambda: graphscope.load(model, example_inputs=(x,)), 1)
        finally:
            torch.export.export = export
        t_ours = min(t_ours, t)
        inner.append(t / spent["export"])
    aten_nodes = sum(1 for n in ep.graph.nodes if n.op == "call_function")
    print(f"model: {args.blocks}-block transformer, {aten_nodes} ATen nodes, "
          f"{len(graph.nodes)} IR nodes, {graph.totals()['params']:,} params")
    print(f"torch.export alone      {t_export:8.3f} s")
    print(f"graphscope.load         {t_ours:8.3f} s   ratio to export: {t_ours / t_export:.2f}x")
    inner.sort()
    print(f"load / its own export call (median of {len(inner)}): {inner[len(inner) // 2]:.2f}x")
    try:
        from torchview import draw_graph
    except ImportError:
        print("torchview               not installed (pip install torchview) - skipped")
        return
    t_tv, _ = best(lambda: draw_graph(model, input_data=x, depth=99, save_graph=False),
                   args.repeat)
    print(f"torchview.draw_graph    {t_tv:8.3f} s   ours / torchview: {t_ours / t_tv:.2f}x")


if __name__ == "__main__":
    main()
