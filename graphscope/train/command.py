"""`graphscope train LOG_OR_DIR... [-o report.html] [--smooth 0.6] [--x step|time|epoch]
[--png DIR] [--json FILE]`."""
from __future__ import annotations

import json
import sys

from ..errors import UsageError
from ..fileio import write_atomic
from ..messages import group_warnings


def add_arguments(t) -> None:
    t.add_argument("logs", nargs="+", metavar="LOG_OR_DIR",
                   help="event files, Caffe logs, CSV/JSON-lines files, or directories of them")
    t.add_argument("-o", "--output", metavar="OUT",
                   help="HTML report (default train_report.html unless --png/--json only)")
    t.add_argument("--smooth", type=float, default=0.6, metavar="W",
                   help="TensorBoard smoothing weight in [0, 1) (default 0.6)")
    t.add_argument("--x", choices=("step", "time", "epoch"), default="step",
                   help="x axis: step, wall time since start, or epoch")
    t.add_argument("--png", metavar="DIR", help="also write each chart as a PNG into DIR")
    t.add_argument("--json", metavar="FILE", help="also write the parsed series as JSON")


def run(args) -> int:
    from . import load_runs
    if not 0.0 <= args.smooth < 1.0:
        raise UsageError(f"--smooth must be in [0, 1) (got {args.smooth:g})")
    runs, errors = load_runs(args.logs)
    for exc in errors:       # every bad file is reported; the others are still drawn
        print(f"graphscope: error: {exc}", file=sys.stderr)
    bad = bool(errors)
    for r in runs:
        bad = bad or bool(r.warnings)  # a truncated file is bad input too, though its data
        for w in ([] if getattr(args, "quiet", False) else group_warnings(r.warnings)):
            print(f"graphscope: warning: {w}", file=sys.stderr)  # is kept
    if runs:
        if args.json:
            doc = {"runs": [r.to_json() for r in runs]}
            print(write_atomic(args.json, json.dumps(doc, separators=(",", ":")) + "\n"))
        if args.png:
            from .png import write_pngs
            for p in write_pngs(runs, args.png, args.smooth, args.x):
                print(p)
        if args.output or not (args.png or args.json):
            from .report import render_html
            out = args.output or "train_report.html"
            print(write_atomic(out, render_html(runs, args.smooth, args.x)))
    return 2 if bad or not runs else 0
