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


def import_optional(name: str):
    """Import the module ``name`` if it exists; None if that very module is absent. A module
    that exists but fails to import (a missing dependency inside it) still raises."""
    import importlib
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None
