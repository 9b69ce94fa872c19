"""CSV and JSON-lines metric files: Keras CSVLogger, Lightning's CSVLogger, one's own.

One row per logged point. The step column is the first of STEP_COLUMNS present; every other
numeric column is a scalar tag. Empty cells (Lightning logs train and val on separate rows)
are skipped.
"""
from __future__ import annotations

import csv
import math

from ..errors import ParseError
from ..fileio import parse_json
from .runs import Run, make_series

STEP_COLUMNS = ("step", "global_step", "iteration", "iter", "epoch")
TIME_COLUMNS = ("wall_time", "time", "timestamp")


def read_csv(path: str, name: str) -> Run:
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise ParseError("empty CSV file", file=path, line=1)
        header = [h.strip() for h in header]
        rows = ((i, dict(zip(header, row))) for i, row in enumerate(reader, 2))
        return _build(path, name, header, rows)


def read_jsonl(path: str, name: str) -> Run:
    def rows():
        with open(path, encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                obj = parse_json(line, path, "the line", line=i)
                if not isinstance(obj, dict):
                    raise ParseError("each line must be a JSON object", file=path, line=i)
                yield i, obj
    it = rows()
    first = next(it, None)
    if first is None:
        raise ParseError("empty JSON-lines file", file=path)

    def chain():
        yield first
        yield from it
    return _build(path, name, list(first[1]), chain())


def _build(path, name, header, rows) -> Run:
    step_col = next((c for c in STEP_COLUMNS if c in header), None)
    if step_col is None:
        raise ParseError(f"no step column: expected one of {', '.join(STEP_COLUMNS)} "
                         f"(columns: {', '.join(map(str, header)) or 'none'})", file=path, line=1)
    time_col = next((c for c in TIME_COLUMNS if c in header), None)
    has_epoch = "epoch" in header and step_col != "epoch"
    points = {}
    for lineno, row in rows:
        step = _number(row.get(step_col))
        if step is None:
            continue
        if not math.isfinite(step) or step != int(step) or abs(step) >= 2**63:
            raise ParseError(f"step '{row.get(step_col)}' is not an integer step", file=path,
                             line=lineno)
        t = _number(row.get(time_col)) if time_col else None
        for key, cell in row.items():
            if key in (step_col, time_col) or (key == "epoch" and not has_epoch):
                continue
            v = _number(cell)
            if v is not None:
                points.setdefault(str(key), []).append((int(step), v, t))
    run = Run(name=name, source=path)
    for tag, pts in points.items():
        steps, values, times = zip(*pts)
        run.scalars[tag] = make_series(steps, values,
                                       times if all(x is not None for x in times) else None)
    if not run.scalars:
        raise ParseError(f"no numeric columns besides '{step_col}'", file=path)
    return run


def _number(cell):
    if cell is None or isinstance(cell, bool):
        return None
    if isinstance(cell, (int, float)):
        return float(cell)
    if not isinstance(cell, str):
        return None
    cell = cell.strip()
    if not cell:
        return None
    try:
        v = float(cell)
    except ValueError:
        return None        # a text column (e.g. a phase name): not a scalar
    return v
