"""Warnings as the user reads them: identical ones collapsed into one line with a count.

A fork prototxt can produce the same warning for hundreds of layers ("unknown field
'bn_param' ignored"); the user needs it once, with the first place and how many more. Two
warnings are the same when they differ only in their location (``file:line:col:``) and in
the layer or node they name (``layer 'conv1':``)."""
from __future__ import annotations

import re

_LOCATION = re.compile(r"^[^\s:]+(?::\d+(?::\d+)?)?: ")  # a path with no spaces
_SUBJECT = re.compile(r"^(?:layer|node|op|module|value|weight|input|output) '[^']*'(?::| )\s*")


def _key(message: str) -> str:
    rest = _LOCATION.sub("", message, count=1)
    return _SUBJECT.sub("", rest, count=1)


def group_warnings(messages: list[str]) -> list[str]:
    """One line per kind of warning, in the order each kind first appears; a kind seen more
    than once gets ``(and N more like it)``."""
    order: list[str] = []
    first: dict[str, str] = {}
    count: dict[str, int] = {}
    for m in messages:
        k = _key(m)
        if k not in first:
            order.append(k)
            first[k] = m
            count[k] = 0
        count[k] += 1
    return [first[k] + (f" (and {count[k] - 1} more like it)" if count[k] > 1 else "")
            for k in order]
