"""The `--dataset` forms of `probe`, `convert --verify` and `explain` (called from cli.py)."""
from __future__ import annotations

import sys
from pathlib import Path

from .. import progress
from ..errors import GraphscopeError, UsageError


def add_dataset_options(p, engines: bool = False) -> None:
    g = p.add_argument_group("datasets")
    g.add_argument("--dataset", metavar="DIR|GLOB|LIST.txt|FILE.npy",
                   help="run over every input: a folder of images/.npy/.npz, a glob, a text "
                        "file listing paths, or one .npy/.npz with a leading sample axis")
    g.add_argument("--batch", type=int, default=16, help="inputs per run (default 16)")
    if engines:
        g.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local (onnxruntime on this machine's cores) or ray (Ray Data "
                            "actors; needs the [ray] extra)")
        g.add_argument("--address", metavar="HOST:PORT|auto",
                       help="--engine ray: join this Ray cluster (default: start a local Ray)")
        g.add_argument("--workers", type=int, default=2,
                       help="--engine ray: actors, each holding one onnxruntime session")


def _summary(what: str, n: int, seconds: float) -> None:
    if not progress.QUIET:
        rate = n / seconds if seconds > 0 else float("inf")
        print(f"graphscope: {what} {n} inputs in {seconds:.1f} s ({rate:.1f} inputs/s)",
              file=sys.stderr)


def run_probe(args, graph, preprocess) -> int:
    from ..cli import write_probe_results
    from .probe import probe_dataset
    from .report import render_dataset_report
    if args.backend != "onnxruntime":
        raise UsageError("--dataset runs on onnxruntime (--engine local or ray); leave out "
                         "--backend torch")
    result = probe_dataset(graph, args.dataset, layers=args.layers, preprocess=preprocess,
                           batch=args.batch, engine=args.engine, address=args.address,
                           workers=args.workers, seed=args.seed)
    _summary("probed", result.inputs, result.seconds)
    # written only once every input is in: an interrupt leaves nothing
    return write_probe_results(args, result, render_dataset_report, ".dataset.html")


def run_convert(args, graph, preprocess) -> int:
    import time

    from ..convert import convert
    from ..convert.from_tf import runnable_graph
    from .sources import items, loader_for
    from .verify import verify_dataset
    if args.report:
        raise UsageError("--report draws one input's comparison; leave it out with --dataset")
    with progress.stage("converting"):
        result = convert(graph, to=args.to, output=args.output, opset=args.opset)
    print(result.path)
    ran = runnable_graph(graph, args.opset or 17)  # the graph convert ran
    loader = loader_for(ran, preprocess)
    source = items(args.dataset, len(loader.shape) - 1)
    started = time.perf_counter()
    with progress.task(f"verifying on {len(source)} inputs", total=len(source),
                       unit="input") as bar:
        report = verify_dataset(ran, result.target, result.model, source, loader, args.batch,
                                args.rtol, args.atol, on_batch=bar.update)
    _summary("verified on", report.inputs, time.perf_counter() - started)
    sys.stdout.write(report.table())
    if not report.ok:
        first = report.worst_divergence
        where = "" if first is None else f", first divergence at '{first.node}' ({first.op})"
        raise GraphscopeError(f"verification failed on {report.failed} of {report.inputs} "
                              f"inputs; worst {report.worst}{where}", file=args.output)
    return 0


def run_explain(args, graph, preprocess) -> int:
    import time

    from .explain import explain_dataset
    from .sources import items, loader_for
    if args.html:
        raise UsageError("with --dataset the page is OUT_DIR/index.html; leave out --html")
    methods = [m.strip() for m in args.method.split(",") if m.strip()]
    if len(methods) != 1:
        raise UsageError("--dataset explains with one --method at a time")
    out = args.output or str(Path(args.model).with_suffix("")) + ".explain"
    loader = loader_for(graph, preprocess)
    source = items(args.dataset, len(loader.shape) - 1)
    options = {"steps": args.steps} if methods[0] == "integrated-gradients" else {}
    if methods[0] == "maximize":
        options = {"iterations": args.iterations, "channel": args.channel, "grid": args.grid}
    started = time.perf_counter()
    with progress.task(f"explaining {len(source)} inputs", total=len(source),
                       unit="input") as bar:
        explain_dataset(graph, source, loader, out, methods[0], args.target, args.layer,
                        on_input=bar.update, **options)
    _summary("explained", len(source), time.perf_counter() - started)
    print(Path(out) / "index.html")
    return 0
