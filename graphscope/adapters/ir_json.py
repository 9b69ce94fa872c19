"""graphscope's own IR JSON (what `render --format json` writes) read back as a model."""
from __future__ import annotations

from pathlib import Path

from ..ir.serialize import FORMAT as IR_FORMAT, from_json

FORMAT = "ir-json"
DESCRIPTION = "graphscope IR JSON"
SUFFIXES = (".json",)
EXTRA = None


def match(source) -> bool:
    if not isinstance(source, Path) or source.suffix.lower() != ".json" or not source.is_file():
        return False
    with open(source, "rb") as f:
        head = f.read(4096)
    return IR_FORMAT.encode() in head


def load(source: Path, **options):
    graph = from_json(source.read_text(encoding="utf-8"), file=str(source))
    graph.metadata["path"] = str(source)
    return graph
