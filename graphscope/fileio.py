"""File helpers shared by every reader and writer: atomic output (write to a temporary file
beside the target, then rename) and JSON from untrusted files (one clean error)."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_output(path: str | os.PathLike):
    """Yield a binary file that becomes ``path`` when the block ends without an exception;
    readers see either the old file or the whole new one, never a half-written file (also on
    a crash or a failed render). For output written piece by piece (streamed weights)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically (see atomic_output)."""
    with atomic_output(path) as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)


def parse_json(text, file: str | None = None, what: str = "JSON", line: int | None = None):
    """``json.loads`` for text from a file: any failure (syntax, nesting deep enough to
    exhaust the recursion limit, bytes that are not UTF-8) is a ParseError at its place."""
    import json

    from .errors import ParseError
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"{what} is not valid JSON: {exc.msg}", file=file,
                         line=exc.lineno if line is None else line, col=exc.colno) from None
    except RecursionError:
        raise ParseError(f"{what} is nested too deeply", file=file, line=line) from None
    except (ValueError, TypeError) as exc:  # undecodable bytes, a non-text value
        raise ParseError(f"{what} is not valid JSON ({type(exc).__name__}: {exc})", file=file,
                         line=line) from None
