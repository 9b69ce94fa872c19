"""The `graphscope` command. Errors are formatted here, in one place."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
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


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="graphscope", description="Look inside neural networks: read Caffe, "
                "ONNX, PyTorch and TensorFlow/Keras models; draw and inspect them.")
    p.add_argument("--version", action="version", version=f"graphscope {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
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

    i = sub.add_parser("info", help="per-layer table: output shapes, params, MACs")
    _add_load_options(i)
    i.add_argument("--json", action="store_true", help="print the table as JSON")

    sub.add_parser("formats", help="formats read and written, and installed extras")
    return p


def _load(args):
    from . import load
    options = {"format": args.format,
               "input_shapes": dict(parse_input_shape(s) for s in args.input_shape) or None}
    for key, value in (("weights", args.weights), ("phase", args.phase),
                       ("model_factory", args.model_factory), ("level", args.level),
                       ("signature", args.signature)):
        if value is not None:
            options[key] = value
    if args.trust:
        options["trust"] = True
    return load(args.model, **options)


def cmd_render(args) -> int:
    from .renderers import RENDERERS, format_for_path, render
    fmt = args.out_format or (format_for_path(args.output) if args.output else "svg")
    out = args.output or str(Path(args.model).with_suffix(RENDERERS[fmt][2]))
    if Path(out).resolve() == Path(args.model).resolve():
        raise UsageError(f"the output '{out}' would overwrite the model; pass -o")
    graph = _load(args)
    _warn(graph)
    options = {"rankdir": args.rankdir, "depth": args.depth, "theme": args.theme}
    if args.blobs:
        options["blobs"] = True
    path = render(graph, out, format=fmt, **options)
    print(path)
    return 0


def cmd_info(args) -> int:
    from .summary import info_json, summary_table
    graph = _load(args)
    _warn(graph)
    sys.stdout.write(info_json(graph) if args.json else summary_table(graph))
    return 0


def cmd_formats(args) -> int:
    from .formats import formats_table
    sys.stdout.write(formats_table())
    return 0


def _warn(graph) -> None:
    for w in graph.metadata.get("warnings", []):
        print(f"graphscope: warning: {w}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            build_parser().print_help()
            return 2
        return {"render": cmd_render, "info": cmd_info, "formats": cmd_formats}[args.command](args)
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
