"""Progress for long work, on stderr, only where a person is watching (stderr is a terminal).

Two shapes: ``stage("importing TensorFlow")`` for a step of unknown length (a status line,
cleared when it ends), and ``task("probing", total=n)`` for counted work (a tqdm bar with
rate and time left). Nothing is drawn in pipes, files or CI, nor with ``--quiet``; with
``--verbose`` every stage's time is printed when it ends, terminal or not.
"""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager

QUIET = False    # --quiet: no progress, no warnings
VERBOSE = False  # --verbose: each stage's time on stderr


def configure(quiet: bool = False, verbose: bool = False) -> None:
    global QUIET, VERBOSE
    QUIET, VERBOSE = quiet, verbose and not quiet


def interactive() -> bool:
    try:
        return not QUIET and sys.stderr.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stderr
        return False


@contextmanager
def stage(name: str):
    """A status line while the block runs ('importing TensorFlow...')."""
    started = time.perf_counter()
    shown = interactive()
    if shown:
        sys.stderr.write(f"\r\x1b[2Kgraphscope: {name}...")
        sys.stderr.flush()
    try:
        yield
    finally:
        if shown:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
        _report_time(name, started)


def _report_time(name: str, started: float) -> None:
    if VERBOSE:
        print(f"graphscope: {name}: {time.perf_counter() - started:.2f} s", file=sys.stderr)


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass


@contextmanager
def task(name: str, total: int | float | None = None, unit: str = "it", scale: bool = False):
    """A progress bar for counted work: ``with task("reading", total=n) as bar: bar.update()``.
    ``scale``: show units with k/M prefixes (bytes)."""
    started = time.perf_counter()
    if not interactive():
        try:
            yield _Silent()
        finally:
            _report_time(name, started)
        return
    from tqdm import tqdm
    cols, rows = _terminal_size()
    bar = tqdm(total=total, desc=f"graphscope: {name}", unit=unit, unit_scale=scale,
               file=sys.stderr, leave=False, ncols=min(cols, 120), nrows=rows,
               mininterval=0.2)
    try:
        yield bar
    finally:
        bar.close()
        _report_time(name, started)


def _terminal_size() -> tuple[int, int]:
    """stderr's terminal size; a terminal that reports 0 (a fresh pty, some CI runners)
    counts as 100x24, since tqdm draws nothing on a terminal with no rows."""
    import os
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
        return size.columns or 100, size.lines or 24
    except (OSError, ValueError, AttributeError):
        return 100, 24
