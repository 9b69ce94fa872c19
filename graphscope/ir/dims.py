"""Arithmetic on dimensions that are ints, symbols (str) or unknown (None).

Ints give ints; a symbol gives a readable expression ('N', '2*N', '(H+1)/2'); None wins.
"""
from __future__ import annotations

from .graph import Dim


def _term(d: Dim) -> str:
    s = str(d)
    return f"({s})" if any(c in s for c in "+-/ ") and not s.startswith("(") else s


def _sym(op: str, a: Dim, b: Dim) -> Dim:
    return f"{_term(a)}{op}{_term(b)}"


def add(a: Dim, b: Dim) -> Dim:
    if a is None or b is None:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    if b == 0:
        return a
    if a == 0:
        return b
    return _sym("+", a, b)


def sub(a: Dim, b: Dim) -> Dim:
    if a is None or b is None:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return a - b
    if b == 0:
        return a
    return _sym("-", a, b)


def mul(a: Dim, b: Dim) -> Dim:
    if a is None or b is None:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    if a == 1:
        return b
    if b == 1:
        return a
    if isinstance(b, int):  # write constants first: 2*N
        a, b = b, a
    return _sym("*", a, b)


def floordiv(a: Dim, b: Dim) -> Dim:
    if a is None or b is None:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return a // b
    if b == 1:
        return a
    return f"floor({a}/{_term(b)})"


def ceildiv(a: Dim, b: Dim) -> Dim:
    if a is None or b is None:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return -(-a // b)
    if b == 1:
        return a
    return f"ceil({a}/{_term(b)})"


def product(dims) -> Dim:
    out: Dim = 1
    for d in dims:
        out = mul(out, d)
    return out


def numel(shape, symbol_value: int = 1) -> int | None:
    """Element count with each symbolic dim taken as ``symbol_value``; None if any unknown."""
    if shape is None:
        return None
    n = 1
    for d in shape:
        if d is None:
            return None
        n *= d if isinstance(d, int) else _symbolic_size(d, symbol_value)
    return n


def _symbolic_size(d: str, symbol_value: int) -> int:
    """'16*16*N' (a flattened NHW) counts 256 * N; other expressions count as one symbol."""
    parts = str(d).split("*")
    if len(parts) > 1 and all(p.isdigit() or p.isidentifier() for p in parts):
        n = 1
        for p in parts:
            n *= int(p) if p.isdigit() else symbol_value
        return n
    return symbol_value


def broadcast(*shapes) -> tuple | None:
    """numpy broadcasting of several shapes (None entries are unknown shapes)."""
    if any(s is None for s in shapes):
        return None
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        known = [d for d in dims if d != 1]
        if not known:
            out.append(1)
            continue
        ints = {d for d in known if isinstance(d, int)}
        if len(ints) > 1:
            from ..errors import ShapeError
            raise ShapeError(f"cannot broadcast shapes {' and '.join(map(str, shapes))}")
        if ints:
            out.append(ints.pop())
        elif any(d is None for d in known):
            out.append(None)
        else:
            out.append(known[0])
    return tuple(out)
