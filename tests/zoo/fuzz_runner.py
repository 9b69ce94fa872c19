"""Run `graphscope` on mutated files and sort what happens into outcomes.

A worker process (``python -m tests.zoo.fuzz_runner``) runs the CLI's ``main`` in-process on
one case after another (one framework import per format, not per case). The supervisor gives
each case a deadline and watches the worker's resident memory; a worker that overruns either
is killed and replaced, and the case is counted as a hang or as out of memory. Outcomes:

- ``ok``: exit 0;  ``error``: exit 2 with a one-line ``graphscope: error:`` message (clean);
- ``internal``: exit 1, an exception escaping ``main``, or a malformed error message;
- ``hang``: no answer within the deadline;  ``oom``: over the memory limit;
- ``crash``: the worker died (a segfault in a C library).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import random
import selectors
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.zoo.fuzz_mutate import mutate
from tests.zoo.fuzz_seeds import FORMATS

ROOT = Path(__file__).resolve().parents[2]
CLEAN = ("ok", "error")


@dataclass
class Report:
    fmt: str
    counts: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)  # (case path, outcome, message)
    seconds: float = 0.0
    peak_rss: int = 0

    @property
    def bad(self) -> int:
        return sum(n for k, n in self.counts.items() if k not in CLEAN)


def make_case(fmt: str, seed: Path, index: int, seed_value: int, out_dir: Path) -> Path:
    """Write mutation ``index`` of ``seed`` (deterministic in seed_value and index)."""
    rng = random.Random(f"{fmt}:{seed_value}:{index}")
    spec = FORMATS[fmt]
    out_dir.mkdir(parents=True, exist_ok=True)
    if seed.is_dir():  # a SavedModel: one member mutated in a copy of the folder
        case = out_dir / f"case{index:05d}"
        if case.exists():
            shutil.rmtree(case)
        shutil.copytree(seed, case)
        member = rng.choice(sorted(m for m in spec.members if (seed / m).exists()))
        target = case / member
        target.write_bytes(mutate(target.read_bytes(), spec.members[member], rng))
        return case
    case = out_dir / f"case{index:05d}{seed.suffix}"
    case.write_bytes(mutate(seed.read_bytes(), spec.kind, rng))
    return case


class Worker:
    """One `python -m tests.zoo.fuzz_runner` process, fed one command line at a time."""

    def __init__(self, env: dict):
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.zoo.fuzz_runner"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, cwd=ROOT, env=env,
                                     start_new_session=True)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.peak_rss = 0

    def rss(self) -> int:
        """Resident bytes of the worker and its children (bounded readers run there)."""
        total = 0
        for pid in _tree(self.proc.pid):
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    def run(self, args: list[str], deadline_s: float, max_rss: int) -> tuple[str, str]:
        self.proc.stdin.write((json.dumps(args) + "\n").encode())
        self.proc.stdin.flush()
        start = time.monotonic()
        while True:
            if self.sel.select(timeout=0.05):
                line = self.proc.stdout.readline()
                if not line:
                    return "crash", f"worker died (exit {self.proc.wait()})"
                reply = json.loads(line)
                self.peak_rss = max(self.peak_rss, self.rss())
                return reply["outcome"], reply["message"]
            rss = self.rss()
            self.peak_rss = max(self.peak_rss, rss)
            if rss > max_rss:
                return "oom", f"resident memory {rss / 2**20:.0f} MiB"
            if time.monotonic() - start > deadline_s:
                return "hang", f"no answer within {deadline_s:.0f} s"

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.wait()


def _tree(pid: int) -> list[int]:
    pids, i = [pid], 0
    while i < len(pids):
        try:
            with open(f"/proc/{pids[i]}/task/{pids[i]}/children") as f:
                pids.extend(int(p) for p in f.read().split())
        except OSError:
            pass
        i += 1
    return pids


def worker_env(reader_timeout_s: float = 10.0) -> dict:
    return dict(os.environ, GRAPHSCOPE_TIMEOUT=str(reader_timeout_s), PYTHONPATH=str(ROOT))


def read_once(fmt: str, path: Path, seed: Path, scratch: Path,
              deadline_s: float = 120.0) -> tuple[str, str]:
    """(outcome, message) of reading one file of format ``fmt`` as the fuzzer does."""
    worker = Worker(worker_env())
    try:
        return worker.run(FORMATS[fmt].args(path, seed, scratch), deadline_s, 2 << 30)
    finally:
        worker.close()


def fuzz(fmt: str, seed: Path, cases: int, work: Path, seed_value: int = 0,
         deadline_s: float = 30.0, max_rss: int = 2 << 30, reader_timeout_s: float = 10.0,
         keep_failures: Path | None = None) -> Report:
    """Run ``cases`` mutations of ``seed`` through the CLI; returns the counts per outcome."""
    env = worker_env(reader_timeout_s)
    report = Report(fmt)
    started = time.monotonic()
    worker = Worker(env)
    try:
        for i in range(cases):
            case = make_case(fmt, seed, i, seed_value, work / "cases")
            scratch = work / "scratch"
            scratch.mkdir(parents=True, exist_ok=True)
            args = FORMATS[fmt].args(case, seed, scratch)
            outcome, message = worker.run(args, deadline_s, max_rss)
            report.counts[outcome] += 1
            if outcome not in CLEAN:
                report.peak_rss = max(report.peak_rss, worker.peak_rss)
                worker.close()
                worker = Worker(env)
                kept = case
                if keep_failures is not None:
                    keep_failures.mkdir(parents=True, exist_ok=True)
                    kept = keep_failures / f"{fmt}-{case.name}"
                    (shutil.copytree if case.is_dir() else shutil.copy)(case, kept)
                report.failures.append((str(kept), outcome, message))
            if case.is_dir():
                shutil.rmtree(case, ignore_errors=True)
            else:
                case.unlink(missing_ok=True)
    finally:
        report.peak_rss = max(report.peak_rss, worker.peak_rss)
        worker.close()
    report.seconds = time.monotonic() - started
    return report


# -- the worker side ----------------------------------------------------------------------------

def _classify(rc, stderr: str) -> tuple[str, str]:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("graphscope: error:")]
    if rc == 0:
        return "ok", ""
    if rc == 2 and errors and not any(ln.startswith("Traceback") for ln in lines):
        return "error", errors[-1]
    return "internal", (lines[-1] if lines else f"exit {rc}")


def _serve() -> None:
    from graphscope.cli import main
    out = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # C libraries that print go nowhere; replies go on ``out``
    for line in sys.stdin:
        args = json.loads(line)
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                rc = main(args)
            outcome, message = _classify(rc, err.getvalue())
        except BaseException as exc:  # noqa: BLE001 - anything escaping main is a bug
            outcome, message = "internal", f"{exc.__class__.__name__}: {exc}"[:500]
        out.write(json.dumps({"outcome": outcome, "message": message[:500]}) + "\n")
        out.flush()


if __name__ == "__main__":
    _serve()
