"""`graphscope diff A B`: the parser's options and the command (kept out of cli.py)."""
from __future__ import annotations

import sys


def add_parser(sub) -> None:
    d = sub.add_parser("diff", help="what changed between two models (any two formats)")
    d.add_argument("model_a", metavar="A", help="first model (file, directory)")
    d.add_argument("model_b", metavar="B", help="second model")
    d.add_argument("-o", "--output", metavar="REPORT.html",
                   help="side-by-side HTML report")
    d.add_argument("--json", dest="json_out", metavar="DIFF.json", help="write the diff as JSON")
    d.add_argument("--weights", dest="compare_weights", action="store_true",
                   help="compare matched weight tensors (max abs / rel difference)")
    d.add_argument("--rtol", type=float, default=None,
                   help="weights are equal when max |a-b| <= RTOL * max |a| (default 1e-4)")
    d.add_argument("--exit-code", action="store_true",
                   help="exit 3 when the models differ, 0 when they do not")
    d.add_argument("--rankdir", choices=("TB", "BT", "LR", "RL"), default="TB",
                   help="report: drawing direction of both panes")
    d.add_argument("--depth", type=int, metavar="N",
                   help="report: collapse namespaces deeper than N (default: a readable depth)")
    d.add_argument("--limit", type=int, default=40, metavar="N",
                   help="show at most N changed pairs and N nodes per side on stdout")
    for side in ("a", "b"):
        up = side.upper()
        d.add_argument(f"--from-{side}", dest=f"format_{side}", metavar="FORMAT",
                       help=f"force {up}'s input format")
        d.add_argument(f"--weights-{side}", dest=f"weights_{side}", metavar="FILE",
                       help=f"{up}'s weights file (Caffe .caffemodel, ...)")
        d.add_argument(f"--input-shape-{side}", dest=f"input_shape_{side}", action="append",
                       default=[], metavar="NAME=D1,D2,...",
                       help=f"override an input shape of {up}")
        d.add_argument(f"--model-{side}", dest=f"model_factory_{side}", metavar="PKG.MOD:FN",
                       help=f"PyTorch: build {up}'s module for a state_dict checkpoint")
    d.add_argument("--input-shape", action="append", default=[], metavar="NAME=D1,D2,...",
                   help="override an input's shape on both sides (repeatable)")
    d.add_argument("--trust", action="store_true",
                   help="allow loading that may execute code from the model files")


def _options(args, side: str) -> dict:
    from ..cli import parse_input_shape
    shapes = dict(parse_input_shape(s) for s in args.input_shape)
    shapes.update(parse_input_shape(s) for s in getattr(args, f"input_shape_{side}"))
    options = {"format": getattr(args, f"format_{side}"), "input_shapes": shapes or None}
    for key in ("weights", "model_factory"):
        value = getattr(args, f"{key}_{side}")
        if value is not None:
            options[key] = value
    if args.trust:
        options["trust"] = True
    return options


def run(args) -> int:
    from . import diff
    from .compare import RTOL
    from .result import EXIT_DIFFERENT
    result = diff(args.model_a, args.model_b, weights=args.compare_weights,
                  rtol=RTOL if args.rtol is None else args.rtol,
                  load_a=_options(args, "a"), load_b=_options(args, "b"))
    sys.stdout.write(result.text(limit=args.limit))
    if args.json_out:
        from ..fileio import write_atomic
        write_atomic(args.json_out, result.to_json() + "\n")
        print(args.json_out)
    if args.output:
        result.render_html(args.output, rankdir=args.rankdir, depth=args.depth)
        print(args.output)
    if args.exit_code and not result.identical:
        return EXIT_DIFFERENT
    return 0
