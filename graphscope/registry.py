"""Handler tables keyed by op name (shape rules, MAC rules, backend implementations)."""
from __future__ import annotations

from typing import Callable


def keyed_registry(table: dict) -> Callable:
    """A decorator factory that files a function under one or more keys of ``table``:
    ``rule = keyed_registry(RULES)`` then ``@rule("Conv", "ConvTranspose")``."""
    def register(*keys: str):
        def deco(fn):
            for key in keys:
                table[key] = fn
            return fn
        return deco
    return register
