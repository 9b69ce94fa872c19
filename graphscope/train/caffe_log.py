"""The text that `caffe train` prints (glog lines from solver.cpp / sgd_solver.cpp).

Series: train/avg_loss (the displayed loss: the solver's average over its last `average_loss`
iterations), train/<output> (Train net output #k, as Caffe's tools/extra/parse_log.py reads),
test/<output> (Test net output #k of test net 0; test<n>/<output> for net n), lr.
A resumed run whose iteration numbers go back drops the points at or after the restart
iteration, as TensorBoard does when a run restarts from a checkpoint.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from ..errors import ParseError
from .runs import Run, make_series

_GLOG = re.compile(r"^[IWEF](\d\d)(\d\d) (\d\d):(\d\d):(\d\d(?:\.\d+)?)\s+\d+\s+\S+:\d+\]")
_ITER_LOSS = re.compile(r"Iteration (\d+)(?: \([^)]*\))?, loss = (\S+)")
_ITER_LR = re.compile(r"Iteration (\d+), lr = (\S+)")
_TESTING = re.compile(r"Iteration (\d+), Testing net \(#(\d+)\)")
_OUTPUT = re.compile(r"(Train|Test) net output #(\d+): (\S+) = (\S+)")

# cheap pre-filter: every line we use contains one of these words
_KEYWORDS = ("Iteration", "net output")


def looks_like_caffe_log(head: str) -> bool:
    return bool(_ITER_LOSS.search(head) or _TESTING.search(head) or "solver.cpp" in head)


def read_caffe_log(path: str, name: str) -> Run:
    points = {}            # tag -> list of (step, value, time)
    last_iter = -1
    test_iter, test_net = None, 0
    year_offset, last_time = 0.0, None
    found = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            if not any(k in line for k in _KEYWORDS):
                continue
            t = None
            g = _GLOG.match(line)
            if g:
                mo, dd, hh, mi, ss = g.groups()
                t = _glog_seconds(int(mo), int(dd), int(hh), int(mi), float(ss))
                if t is not None:
                    if last_time is not None and t + year_offset < last_time - 86400:
                        year_offset += 366 * 86400      # the log crossed New Year
                    t += year_offset
                    last_time = t

            def number(text, m, group):
                try:
                    return float(text)
                except ValueError:
                    raise ParseError(f"'{text}' is not a number", file=path, line=lineno,
                                     col=m.start(group) + 1) from None

            def add(tag, step, value):
                points.setdefault(tag, []).append((step, value, t))

            def at(iteration):
                nonlocal last_iter
                if iteration >= 2**63:
                    raise ParseError(f"iteration {iteration} is out of range", file=path,
                                     line=lineno)
                if iteration < last_iter:      # resumed / restarted run: drop the overlap
                    for tag in points:
                        points[tag] = [p for p in points[tag] if p[0] < iteration]
                last_iter = iteration

            m = _TESTING.search(line)
            if m:
                test_iter, test_net = int(m.group(1)), int(m.group(2))
                at(test_iter)
                found = True
                continue
            m = _ITER_LOSS.search(line)
            if m:
                it = int(m.group(1))
                at(it)
                add("train/avg_loss", it, number(m.group(2), m, 2))
                found = True
                continue
            m = _ITER_LR.search(line)
            if m:
                it = int(m.group(1))
                at(it)
                add("lr", it, number(m.group(2), m, 2))
                found = True
                continue
            m = _OUTPUT.search(line)
            if m:
                phase, _, out, val = m.groups()
                if phase == "Train":
                    if last_iter < 0:
                        continue
                    add(f"train/{out}", last_iter, number(val, m, 4))
                else:
                    if test_iter is None:
                        continue
                    prefix = "test" if test_net == 0 else f"test{test_net}"
                    add(f"{prefix}/{out}", test_iter, number(val, m, 4))
                found = True
    if not found:
        raise ParseError("no Caffe training lines ('Iteration N, loss = X' or "
                         "'Test net output #k: name = X') found", file=path)
    run = Run(name=name, source=path)
    for tag, pts in points.items():
        if not pts:  # every point of the tag was before a restart that dropped them
            continue
        steps, values, times = zip(*pts)
        has_time = all(x is not None for x in times)
        run.scalars[tag] = make_series(steps, values, times if has_time else None)
    return run


def _glog_seconds(month, day, hh, mm, ss):
    # glog prints no year; 2000 is a leap year so 02-29 parses
    try:
        return datetime(2000, month, day, hh, mm, tzinfo=timezone.utc).timestamp() + ss
    except ValueError:
        return None
