"""Training visualisation: read TensorBoard event files, Caffe logs, CSV and JSON-lines metric
files into Runs; draw them into one offline HTML report, PNGs or JSON (`graphscope train`)."""
from __future__ import annotations

import os

from typing import TYPE_CHECKING

from ..errors import GraphscopeError, ParseError

if TYPE_CHECKING:
    from .runs import Run

__all__ = ["load_runs", "load_run", "Run", "Series", "Histogram", "Image"]


def __getattr__(name):  # numpy loads with the readers, not with the CLI's parser
    if name in ("Run", "Series", "Histogram", "Image"):
        from . import runs
        return getattr(runs, name)
    raise AttributeError(name)

_TABLE_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
_LOG_SUFFIXES = (".log", ".txt", ".out", ".err")


def load_run(path: str, name: str | None = None) -> Run:
    """Read one log file (event file, Caffe log, CSV, JSON-lines) into a Run."""
    from . import caffe_log, tabular, tb
    path = os.fspath(path)
    name = name or os.path.splitext(os.path.basename(path))[0]
    if not os.path.isfile(path):
        raise ParseError("no such file", file=path)
    if tb.is_event_file(path):
        return tb.read_event_files([path], name, path)
    kind = _TABLE_SUFFIXES.get(os.path.splitext(path)[1].lower())
    if kind == "csv":
        return tabular.read_csv(path, name)
    if kind == "jsonl":
        return tabular.read_jsonl(path, name)
    return caffe_log.read_caffe_log(path, name)


def load_runs(paths) -> tuple[list[Run], list[GraphscopeError]]:
    """Read every log under ``paths`` (files or directories). Returns the runs that could be
    read and one error per file that could not, so that one bad file does not hide the rest."""
    runs, errors = [], []
    for target in map(os.fspath, paths):
        try:
            if os.path.isdir(target):
                runs.extend(_load_dir(target, errors))
            else:
                runs.append(load_run(target))
        except GraphscopeError as exc:
            errors.append(exc)
        except OSError as exc:
            errors.append(ParseError(exc.strerror or str(exc), file=target))
    _unique_names(runs)
    return runs, errors


def _load_dir(root: str, errors: list) -> list[Run]:
    from . import caffe_log, tb
    events, others = {}, []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            p = os.path.join(dirpath, fn)
            if tb.is_event_file(fn):
                events.setdefault(dirpath, []).append(p)
            elif os.path.splitext(fn)[1].lower() in _TABLE_SUFFIXES:
                others.append(p)
            elif fn.lower().endswith(_LOG_SUFFIXES) and _sniff_caffe(p, caffe_log):
                others.append(p)
    runs = []
    base = os.path.basename(os.path.normpath(root))
    for d, files in sorted(events.items()):
        rel = os.path.relpath(d, root)
        name = base if rel == "." else rel.replace(os.sep, "/")
        try:
            runs.append(tb.read_event_files(files, name, d))
        except GraphscopeError as exc:
            errors.append(exc)
    for p in others:
        try:
            rel = os.path.splitext(os.path.relpath(p, root))[0].replace(os.sep, "/")
            runs.append(load_run(p, name=rel))
        except GraphscopeError as exc:
            errors.append(exc)
    if not runs and not errors:
        errors.append(ParseError("no event files, Caffe logs, CSV or JSON-lines files found",
                                 file=root))
    return runs


def _sniff_caffe(path, caffe_log) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return caffe_log.looks_like_caffe_log(f.read(65536))
    except OSError:
        return False


def _unique_names(runs) -> None:
    seen = {}
    for run in runs:
        n = seen.get(run.name, 0)
        seen[run.name] = n + 1
        if n:
            run.name = f"{run.name}#{n + 1}"
