"""The `graphscope` command. Errors are formatted here, in one place."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__, progress
from .errors import GraphscopeError, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other bad input
        raise UsageError(message)


def parse_input_shape(text: str) -> tuple[str, tuple]:
    """'x=1,3,224,224' -> ('x', (1, 3, 224, 224)); a non-numeric dim stays a symbol ('N')."""
    name, sep, dims = text.partition("=")
    if not sep or not name or not dims:
        raise UsageError(f"--input-shape expects NAME=D1,D2,... (got '{text}')")
    shape = []
    for d in dims.split(","):
        d = d.strip()
        if d.isdigit():
            shape.append(int(d))
        elif d.isidentifier():
            shape.append(d)
        else:
            raise UsageError(f"--input-shape {text}: '{d}' is not a dimension "
                             f"(a non-negative integer or a symbol such as N)")
    return name, tuple(shape)


def _add_load_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model file or directory (SavedModel)")
    p.add_argument("--from", dest="format", metavar="FORMAT",
                   help="force the input format (see `graphscope formats`)")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=D1,D2,...",
                   help="override an input's shape (repeatable)")
    p.add_argument("--weights", metavar="FILE", help="weights file (Caffe .caffemodel, ...)")
    p.add_argument("--phase", choices=("train", "test", "all"), help="Caffe phase (default test)")
    p.add_argument("--model", dest="model_factory", metavar="PKG.MOD:FN",
                   help="PyTorch: build the module for a state_dict checkpoint")
    p.add_argument("--level", choices=("layers", "ops"), help="Keras: layer or op graph")
    p.add_argument("--signature", metavar="NAME", help="SavedModel signature")
    p.add_argument("--trust", action="store_true",
                   help="allow loading that may execute code from the model file")
    p.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                   help="run this plugin file first: layer types it registers are known "
                        "(repeatable; see docs/caffe.md)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="graphscope", description="Look inside neural networks: read Caffe, "
                "ONNX, PyTorch and TensorFlow/Keras models; draw and inspect them.")
    p.add_argument("--version", action="version", version=f"graphscope {__version__}")
    _add_global_options(p, on_subcommand=False)
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    r = sub.add_parser("render", help="draw a model (svg, png, pdf, dot, mermaid, json, html)")
    _add_load_options(r)
    r.add_argument("-o", "--output", metavar="OUT", help="output file (format from its suffix)")
    r.add_argument("--format", dest="out_format",
                   choices=("svg", "png", "pdf", "dot", "mermaid", "json", "html"))
    r.add_argument("--rankdir", choices=("TB", "BT", "LR", "RL"), default="TB")
    r.add_argument("--depth", type=int, metavar="N",
                   help="collapse namespaces deeper than N into one box each")
    r.add_argument("--theme", default="default", help="colour theme (default, caffe, ...)")
    r.add_argument("--blobs", action="store_true", help="draw tensors as nodes (Caffe style)")
    r.add_argument("--embed", action="store_true",
                   help="html: write a fragment (no <html> wrapper) to paste into a page")

    r.add_argument("more_models", nargs="*", metavar="MODEL",
                   help="more models: each is rendered into the folder given with -o DIR/")
    r.add_argument("--watch", action="store_true",
                   help="render again whenever a model file changes (Ctrl-C stops)")

    v = sub.add_parser("view", help="open a model in the HTML viewer (default browser)")
    _add_load_options(v)
    v.add_argument("--no-browser", action="store_true", help="only print the page's path")
    v.add_argument("--serve", action="store_true",
                   help="serve the page on 127.0.0.1 (for SSH port forwarding)")
    v.add_argument("--port", type=int, default=8080, help="--serve's port (0: any free one)")
    v.add_argument("--depth", type=int, metavar="N", help="namespaces folded below depth N")

    i = sub.add_parser("info", help="per-layer table: output shapes, params, MACs")
    _add_load_options(i)
    i.add_argument("--json", action="store_true", help="print the table as JSON")

    sub.add_parser("formats", help="formats read and written, and installed extras")

    t = sub.add_parser("train", help="training curves, histograms, images from logs "
                       "(TensorBoard, Caffe, CSV, JSON-lines) into one offline report")
    from .train.command import add_arguments as _train_arguments
    _train_arguments(t)

    cv = sub.add_parser("convert", help="convert a model to ONNX or PyTorch, verified layer "
                        "by layer with --verify")
    _add_load_options(cv)
    cv.add_argument("-o", "--output", required=True, metavar="DST",
                    help="output: .onnx; .pt for a TorchScript archive; .py for PyTorch "
                         "source (+ .pth state_dict); a directory with --to tf (SavedModel)")
    cv.add_argument("--to", choices=("onnx", "pytorch", "tf"), help="target (default: DST's suffix)")
    cv.add_argument("--opset", type=int, help="ONNX opset (default: the source's, or 17)")
    cv.add_argument("--verify", action="store_true",
                    help="run source and target on the same inputs and compare every layer")
    cv.add_argument("--report", metavar="REPORT.html",
                    help="HTML: both graphs side by side, the divergence marked (implies --verify)")
    cv.add_argument("--input", default="random", metavar="IMG|FILE.npy|random",
                    help="what --verify feeds the first input (default: seeded random)")
    cv.add_argument("--rtol", type=float, default=1e-4)
    cv.add_argument("--atol", type=float, default=1e-5)
    cv.add_argument("--seed", type=int, default=0)
    _add_preprocess_options(cv)
    _add_dataset_options(cv)

    ex = sub.add_parser("explain", help="saliency, integrated gradients, Grad-CAM, ... for "
                        "one prediction")
    _add_load_options(ex)
    ex.add_argument("--input", default="random", metavar="IMG|FILE.npy|random")
    ex.add_argument("--method", default="saliency",
                    help="comma-separated: saliency, deconvnet, guided-backprop, "
                         "integrated-gradients, smoothgrad, cam, gradcam, gradcam++, maximize")
    ex.add_argument("--target", default="top", help="class index, or 'top' (default)")
    ex.add_argument("--layer", help="layer for gradcam/gradcam++/maximize (default: last spatial)")
    ex.add_argument("--channel", type=int, help="maximize: channel of --layer")
    ex.add_argument("--steps", type=int, default=64, help="integrated-gradients steps")
    ex.add_argument("--iterations", type=int, default=200, help="maximize iterations")
    ex.add_argument("--grid", type=int, metavar="N",
                    help="maximize: the first N channels of --layer, tiled in one image")
    ex.add_argument("-o", "--output", metavar="OUT.png",
                    help="overlay PNG (the raw map goes beside it as .npy)")
    ex.add_argument("--html", metavar="REPORT.html", help="HTML report, one panel per method")
    ex.add_argument("--seed", type=int, default=0)
    _add_preprocess_options(ex)
    _add_dataset_options(ex)

    pr = sub.add_parser("probe", help="run the model and report every layer's activations")
    _add_load_options(pr)
    pr.add_argument("--input", default="random", metavar="IMG|FILE.npy|random",
                    help="what to feed the first input (default: seeded random)")
    pr.add_argument("--layers", metavar="PATTERN",
                    help="comma-separated globs or /regex/ on layer names, ops or outputs")
    pr.add_argument("-o", "--output", metavar="REPORT.html", help="HTML report")
    pr.add_argument("--json", dest="json_out", metavar="FILE", help="write the statistics as JSON")
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--top-k", type=int, default=5)
    pr.add_argument("--backend", choices=("onnxruntime", "torch"), default="onnxruntime",
                    help="run through onnxruntime (default; CUDA when available) or torch")
    _add_preprocess_options(pr)
    _add_dataset_options(pr, engines=True)
    _add_diff_parser(sub)
    for command in sub.choices.values():  # accepted before or after the subcommand
        _add_global_options(command, on_subcommand=True)
    return p


def _add_global_options(p: argparse.ArgumentParser, on_subcommand: bool) -> None:
    # on a subcommand, an option not given must not overwrite what the main parser set
    unset = argparse.SUPPRESS if on_subcommand else None
    g = p.add_argument_group("global options")
    g.add_argument("--debug", action="store_true",
                   default=argparse.SUPPRESS if on_subcommand else False,
                   help="show tracebacks on errors")
    g.add_argument("--quiet", "-q", action="store_true",
                   default=argparse.SUPPRESS if on_subcommand else False,
                   help="print no warnings and no progress (errors still print)")
    g.add_argument("--verbose", "-v", action="store_true",
                   default=argparse.SUPPRESS if on_subcommand else False,
                   help="print the time each stage takes")
    g.add_argument("--timeout", type=float, metavar="SECONDS", default=unset,
                   help="time limit for readers of untrusted files that run in a child "
                        "process, e.g. HDF5 (default 30; env GRAPHSCOPE_TIMEOUT)")
    g.add_argument("--max-memory", metavar="SIZE", default=unset,
                   help="memory limit for those readers and for declared tensor sizes, "
                        "e.g. 4G (default 2G; env GRAPHSCOPE_MAX_MEMORY)")


def _add_preprocess_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("image preprocessing")
    g.add_argument("--preset", choices=("plain", "imagenet", "caffe"),
                   help="defaults: caffe (BGR, 0..255, mean 104,117,123) for Caffe models, "
                        "plain (RGB, 0..1) otherwise")
    g.add_argument("--size", metavar="H,W", help="resize to this (default: the input's size)")
    g.add_argument("--mean", metavar="M1,M2,M3")
    g.add_argument("--std", metavar="S1,S2,S3")
    g.add_argument("--scale", type=float, help="multiply 0..255 pixels by this first")
    g.add_argument("--channel-order", choices=("RGB", "BGR"))
    g.add_argument("--layout", choices=("NCHW", "NHWC"))


def _add_dataset_options(p: argparse.ArgumentParser, engines: bool = False) -> None:
    from .dataset.command import add_dataset_options
    add_dataset_options(p, engines)


def _floats(text: str | None, what: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise UsageError(f"{what} expects comma-separated numbers (got '{text}')") from None


def _preprocess(args, graph):
    from .runtime.inputs import Preprocess
    preset = args.preset or ("caffe" if graph.metadata.get("format") == "caffe" else "plain")
    pre = {"plain": Preprocess, "imagenet": Preprocess.imagenet, "caffe": Preprocess.caffe}[preset]()
    if args.size:
        size = _floats(args.size, "--size")
        if len(size) != 2:
            raise UsageError("--size expects H,W")
        pre.size = (int(size[0]), int(size[1]))
    pre.mean = _floats(args.mean, "--mean") or pre.mean
    pre.std = _floats(args.std, "--std") or pre.std
    if args.scale is not None:
        pre.scale = args.scale
    pre.channel_order = args.channel_order or pre.channel_order
    pre.layout = args.layout or pre.layout
    return pre


def _load(args, forgiving: bool = False):
    """``forgiving`` (render, info): draw what is there, each liberty a warning."""
    from . import load
    if args.plugin:
        from .plugins import load_file
        for path in args.plugin:
            load_file(path)
    options = {"format": args.format,
               "input_shapes": dict(parse_input_shape(s) for s in args.input_shape) or None}
    for key, value in (("weights", args.weights), ("phase", args.phase),
                       ("model_factory", args.model_factory), ("level", args.level),
                       ("signature", args.signature)):
        if value is not None:
            options[key] = value
    if args.trust:
        options["trust"] = True
    if forgiving:
        options["forgiving"] = True
    from .progress import stage
    with stage(f"loading {Path(args.model).name}"):
        return load(args.model, **options)


def cmd_render(args) -> int:
    models = [args.model, *args.more_models]
    folder = _output_folder(args.output, len(models))
    bad = 0
    for model in models:
        try:  # lenet.onnx and lenet.prototxt into one folder: both kept, by full name
            print(_render_one(args, model, folder, _stem_name(model, models)))
        except GraphscopeError as exc:  # one bad model of several: say so, render the rest
            if len(models) == 1 and not args.watch:
                raise
            print(f"graphscope: error: {exc}", file=sys.stderr)
            bad += 1
    if args.watch:
        return _watch(args, models, folder)
    return 2 if bad else 0


def _output_folder(output: str | None, n_models: int) -> Path | None:
    """-o DIR/ (or an existing folder) renders each model into it as DIR/<name>.<format>."""
    if output and (output.endswith(("/", "\\")) or Path(output).is_dir()):
        Path(output).mkdir(parents=True, exist_ok=True)
        return Path(output)
    if n_models > 1 and output:
        raise UsageError(f"several models need -o to name a folder (ending in '/'), not "
                         f"'{output}'")
    return None


def _render_one(args, model: str, folder: Path | None, name: str | None = None) -> Path:
    """Render ``model``: to -o, or into ``folder`` as <name>.<format>, or beside it."""
    from .renderers import RENDERERS, format_for_path, render
    output = None if folder is not None else args.output
    fmt = args.out_format or (format_for_path(output) if output else "svg")
    suffix = RENDERERS[fmt][2]
    if output:
        out = output
    elif folder is not None:
        out = str(folder / ((name or Path(model).stem) + suffix))
    else:
        out = str(Path(model).with_suffix(suffix))
    if Path(out).resolve() == Path(model).resolve():
        raise UsageError(f"the output '{out}' would overwrite the model; pass -o")
    args.model = model
    graph = _load(args, forgiving=True)
    _warn(graph)
    options = {"rankdir": args.rankdir, "depth": args.depth, "theme": args.theme}
    if args.blobs:
        options["blobs"] = True
    if args.embed:
        options["embed"] = True
    from .progress import stage
    with stage(f"rendering {len(graph.nodes)} nodes as {fmt}"):
        return render(graph, out, format=fmt, **options)


def _stem_name(model: str, models: list[str]) -> str:
    stems = [Path(m).stem for m in models]
    return Path(model).name if stems.count(Path(model).stem) > 1 else Path(model).stem


def _watch(args, models: list[str], folder: Path | None, interval: float = 0.5) -> int:
    """Render a model again each time its file (or folder) changes, until interrupted."""
    import time

    def stamp(m):
        try:
            return Path(m).stat().st_mtime_ns
        except OSError:
            return None
    seen = {m: stamp(m) for m in models}
    print(f"graphscope: watching {len(models)} file(s); Ctrl-C stops", file=sys.stderr,
          flush=True)
    while True:
        time.sleep(interval)
        for m in models:
            now = stamp(m)
            if now == seen[m] or now is None:
                continue
            seen[m] = now
            try:
                print(_render_one(args, m, folder, _stem_name(m, models)), flush=True)
            except GraphscopeError as exc:  # keep watching: the user is mid-edit
                print(f"graphscope: error: {exc}", file=sys.stderr, flush=True)


def cmd_view(args) -> int:
    from .view import make_server, open_in_browser, write_page
    graph = _load(args, forgiving=True)
    _warn(graph)
    page = write_page(graph, depth=args.depth)
    if args.serve:
        server = make_server(page, args.port)
        host, port = server.server_address[:2]
        print(f"serving {page.name} at http://{host}:{port}/ (Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        finally:
            server.server_close()
        return 0
    print(page, flush=True)
    if not args.no_browser and not open_in_browser(page):
        print("graphscope: note: no browser could be started; open the path above",
              file=sys.stderr)
    return 0


def cmd_info(args) -> int:
    from .summary import info_json, summary_table
    graph = _load(args, forgiving=True)
    _warn(graph)
    sys.stdout.write(info_json(graph) if args.json else summary_table(graph))
    return 0


def cmd_train(args) -> int:
    from .train.command import run
    return run(args)


def cmd_convert(args) -> int:
    from .convert import convert
    graph = _load(args)
    _warn(graph)
    if args.dataset:  # --verify over every input of a dataset
        from .dataset.command import run_convert
        return run_convert(args, graph, _preprocess(args, graph))
    with progress.stage("converting" + (" and verifying" if args.verify else "")):
        result = convert(graph, to=args.to, output=args.output, opset=args.opset,
                         verify=args.verify, rtol=args.rtol, atol=args.atol, seed=args.seed,
                         input=args.input, preprocess=_preprocess(args, graph),
                         report=args.report)
    print(result.path)
    if result.fallback_reason:
        print(f"graphscope: note: {result.fallback_reason}; converted through graphscope's IR "
              f"instead", file=sys.stderr)
    if args.report:
        print(args.report)
    if result.report is not None:
        sys.stdout.write(result.report.table())
        if not result.report.ok:
            first = result.report.first_divergence
            raise GraphscopeError(f"verification failed: first divergence at '{first.node}' "
                                  f"({first.op}), max abs err {first.max_abs:.3e}",
                                  file=args.output)
    return 0


def cmd_explain(args) -> int:
    import io

    import numpy as np

    from .explain import explain
    from .explain.render import overlay_png, report_html
    from .fileio import write_atomic
    graph = _load(args)
    _warn(graph)
    pre = _preprocess(args, graph)
    if args.dataset:  # one map per input, and an index page
        from .dataset.command import run_explain
        return run_explain(args, graph, pre)
    results = []
    for method in [m.strip() for m in args.method.split(",") if m.strip()]:
        options = {"steps": args.steps} if method == "integrated-gradients" else {}
        if method == "maximize":
            options = {"iterations": args.iterations, "channel": args.channel,
                       "grid": args.grid}
        with progress.stage(f"explaining with {method}"):
            results.append(explain(graph, args.input, method=method, target=args.target,
                                   layer=args.layer, preprocess=pre, seed=args.seed, **options))
    out = args.output or (None if args.html else str(Path(args.model).with_suffix(".explain.png")))
    if out:
        for r in results:
            path = out if len(results) == 1 else str(Path(out).with_suffix(f".{r.method}.png"))
            print(write_atomic(path, overlay_png(r)))
            buf = io.BytesIO()
            np.save(buf, r.map)
            print(write_atomic(Path(path).with_suffix(".npy"), buf.getvalue()))
    if args.html:
        print(write_atomic(args.html, report_html(results, graph.name)))
    return 0


def cmd_probe(args) -> int:
    from .runtime.probes import probe
    graph = _load(args)
    _warn(graph)
    if args.dataset:  # statistics over every input, streamed, locally or on Ray
        from .dataset.command import run_probe
        return run_probe(args, graph, _preprocess(args, graph))
    with progress.stage(f"probing with {args.backend}"):
        result = probe(graph, args.input, layers=args.layers,
                       preprocess=_preprocess(args, graph), seed=args.seed, k=args.top_k,
                       backend=args.backend)
    from .runtime.report import render_probe_report
    return write_probe_results(args, result, render_probe_report, ".probe.html")


def write_probe_results(args, result, render, suffix: str) -> int:
    """A probe's warnings on stderr, then its --json document and its report (by default
    MODEL<suffix>), each written whole or not at all."""
    from .fileio import write_atomic
    for err in result.errors:
        if not progress.QUIET:
            print(f"graphscope: warning: {err}", file=sys.stderr)
    if args.json_out:
        import json
        write_atomic(args.json_out, json.dumps(result.to_dict(), indent=1) + "\n")
        print(args.json_out)
    if args.output or not args.json_out:
        out = args.output or str(Path(args.model).with_suffix(suffix))
        print(write_atomic(out, render(result)))
    return 0


def _add_diff_parser(sub) -> None:
    from .diff.command import add_parser
    add_parser(sub)


def cmd_diff(args) -> int:
    from .diff.command import run
    return run(args)


def cmd_formats(args) -> int:
    from .formats import formats_table
    sys.stdout.write(formats_table())
    return 0


def _apply_limits(args) -> None:
    from .bounded import parse_size, set_limits
    memory = getattr(args, "max_memory", None)
    set_limits(timeout=getattr(args, "timeout", None),
               memory=None if memory is None else parse_size(memory, "--max-memory"))


def _warn(graph) -> None:
    """The graph's warnings on stderr, identical ones collapsed (none with --quiet)."""
    from .messages import group_warnings
    if progress.QUIET:
        return
    for w in group_warnings(graph.metadata.get("warnings", [])):
        print(f"graphscope: warning: {w}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        args = build_parser().parse_args(argv)
        _apply_limits(args)
        progress.configure(quiet=args.quiet, verbose=args.verbose)
        if args.command is None:
            build_parser().print_help()
            return 2
        return {"render": cmd_render, "view": cmd_view, "info": cmd_info, "formats": cmd_formats,
                "train": cmd_train, "probe": cmd_probe,
                "convert": cmd_convert, "explain": cmd_explain,
                "diff": cmd_diff}[args.command](args)
    except GraphscopeError as exc:
        if debug:
            raise
        print(f"graphscope: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("graphscope: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # an internal fault: say so, and how to see more
        if debug:
            raise
        print(f"graphscope: internal error: {exc.__class__.__name__}: {exc} "
              f"(run with --debug for a traceback)", file=sys.stderr)
        return 1
