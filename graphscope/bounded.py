"""Run a reader where it can be stopped: a child process with a time limit and a memory limit.

Some readers call into C libraries that may never return on a hostile file (HDF5 walking a
corrupt attribute table) or allocate without limit; Python's signals cannot interrupt them.
``run_bounded("pkg.mod:function", *args)`` runs the function in a fresh interpreter whose
address space is capped (``resource.setrlimit``) and stops it at the time limit. The limit is
the child's CPU time (RLIMIT_CPU), so a busy machine that gives the child less of a core does
not fail a large but sound file; a child that blocks without using CPU is killed at a
wall-clock backstop (WALL_FACTOR times the limit, plus WALL_EXTRA_S). The function's return
value must be JSON; a GraphscopeError it raises comes back as the same class.

The limits default to 30 s and 2 GiB; users raise them with ``--timeout`` / ``--max-memory``
or the environment variables GRAPHSCOPE_TIMEOUT (seconds) and GRAPHSCOPE_MAX_MEMORY
(bytes, or with a K/M/G suffix).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from . import errors
from .errors import ParseError, UsageError

ENV_TIMEOUT = "GRAPHSCOPE_TIMEOUT"
ENV_MAX_MEMORY = "GRAPHSCOPE_MAX_MEMORY"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_MEMORY = 2 << 30
WALL_FACTOR, WALL_EXTRA_S = 2, 5.0  # the wall-clock backstop for a child that blocks
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str, what: str = ENV_MAX_MEMORY) -> int:
    """'2G' -> 2147483648; '512M', '100000' (bytes)."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1:] if t[-1:] in _UNITS and t[-1:] else ""
    try:
        value = float(t[:-1] if unit else t) * _UNITS[unit]
    except ValueError:
        raise UsageError(f"{what}: '{text}' is not a size (e.g. 2G, 512M)") from None
    if value <= 0:
        raise UsageError(f"{what}: '{text}' must be positive")
    return int(value)


def timeout_s() -> float:
    text = os.environ.get(ENV_TIMEOUT)
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{ENV_TIMEOUT}: '{text}' is not a number of seconds") from None
    if value <= 0:
        raise UsageError(f"{ENV_TIMEOUT}: '{text}' must be positive")
    return value


def max_memory() -> int:
    text = os.environ.get(ENV_MAX_MEMORY)
    return parse_size(text) if text else DEFAULT_MAX_MEMORY


def set_limits(timeout: float | None = None, memory: int | None = None) -> None:
    """What --timeout / --max-memory set, for this process and the children it starts."""
    if timeout is not None:
        if timeout <= 0:
            raise UsageError("--timeout must be positive")
        os.environ[ENV_TIMEOUT] = repr(float(timeout))
    if memory is not None:
        os.environ[ENV_MAX_MEMORY] = str(memory)


def run_bounded(target: str, *args, what: str, file: str | None = None):
    """``target`` ("module:function") called with ``args`` (JSON values) in a child process
    under the time and memory limits; its JSON result. Errors name ``file`` and ``what``."""
    limit_s, memory = timeout_s(), max_memory()
    request = json.dumps({"target": target, "args": args, "memory": memory, "cpu": limit_s})
    too_slow = ParseError(f"{what} did not finish within {limit_s:g} s; the file may be "
                          f"corrupt (raise the limit with --timeout or {ENV_TIMEOUT})", file=file)
    try:
        proc = subprocess.run([sys.executable, "-c", "from graphscope.bounded import _child;"
                               "_child()"], input=request.encode(), capture_output=True,
                              timeout=limit_s * WALL_FACTOR + WALL_EXTRA_S, env=_child_env())
    except subprocess.TimeoutExpired:
        raise too_slow from None
    if proc.returncode == -signal.SIGXCPU:  # its CPU time ran out
        raise too_slow
    lines = proc.stdout.decode("utf-8", "replace").strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        if proc.returncode < 0 or any("MemoryError" in t for t in tail[-3:]):
            raise ParseError(f"{what} needed more than {memory / 2**30:.3g} GiB of memory or "
                             f"crashed (signal {-proc.returncode if proc.returncode < 0 else 0}; "
                             f"raise the limit with --max-memory or {ENV_MAX_MEMORY})",
                             file=file)
        raise ParseError(f"{what} failed: {tail[-1] if tail else f'exit {proc.returncode}'}",
                         file=file)
    reply = json.loads(lines[-1])
    if "error" in reply:
        cls = getattr(errors, reply["error"]["class"], ParseError)
        if not (isinstance(cls, type) and issubclass(cls, errors.GraphscopeError)):
            cls = ParseError
        message = reply["error"]["message"]
        if reply["error"].get("raw"):  # a library's exception: say what it was doing
            message = f"{what} failed ({message})"
        raise cls(message, file=file)
    return reply["result"]


def _child_env() -> dict:
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _child() -> None:
    """The child's side: cap memory, run the target, print one JSON line."""
    import importlib
    import math
    import resource
    request = json.loads(sys.stdin.read())
    memory = int(request["memory"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = max(1, math.ceil(float(request["cpu"])))  # SIGXCPU at the soft limit
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    module, _, name = request["target"].partition(":")
    try:
        result = getattr(importlib.import_module(module), name)(*request["args"])
        print(json.dumps({"result": result}))
    except errors.GraphscopeError as exc:
        print(json.dumps({"error": {"class": type(exc).__name__, "message": exc.message}}))
    except MemoryError:
        print("MemoryError", file=sys.stderr)
        sys.exit(3)
    except Exception as exc:  # noqa: BLE001 - a library's failure on the file: report it
        text = str(exc).splitlines()[0] if str(exc) else ""
        print(json.dumps({"error": {"class": "ParseError", "raw": True,
                                    "message": f"{exc.__class__.__name__}: {text}"}}))
