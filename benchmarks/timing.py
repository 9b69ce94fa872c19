"""Timing helpers shared by the benchmark scripts (imported as ``from timing import ...``:
a script's own folder is first on sys.path)."""
from __future__ import annotations

import resource
import subprocess
import time


def best_of(fn, repeat: int = 3):
    """(best wall seconds of ``repeat`` calls of ``fn``, the last call's result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def best_process(cmd: list, repeat: int = 3, cwd=None) -> tuple[float, float]:
    """(best wall seconds, best CPU seconds: user + sys of the process and its children) of
    ``repeat`` fresh runs of ``cmd``. On a shared machine wall time mostly measures the
    other processes; CPU time does not."""
    best = cpu_best = float("inf")
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=cwd)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best, cpu_best = min(best, wall), min(cpu_best, cpu)
    return best, cpu_best
