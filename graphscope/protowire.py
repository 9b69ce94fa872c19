"""Protocol Buffers wire format, read and written by field number: for the large files
(.caffemodel, .onnx) whose weights we scan or stream instead of parsing into memory.

A message is a run of fields; each field is a key varint (field number << 3 | wire type)
followed by a varint (type 0), 8 bytes (type 1), a length-prefixed run (type 2) or 4 bytes
(type 5). https://protobuf.dev/programming-guides/encoding/
"""
from __future__ import annotations

import os

from .errors import ParseError

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5


def read_varint(buf, i: int, end: int, file, what: str = "file") -> tuple[int, int]:
    """(value, next index) of the varint at buf[i]."""
    result = shift = 0
    while True:
        if i >= end:
            raise ParseError(f"truncated {what} (a number runs past byte {end})", file=file)
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ParseError(f"corrupt {what} (bad varint at byte {i})", file=file)


def fields(buf, start: int, end: int, file, what: str = "file"):
    """Yield (field, wire_type, value_or_start, stop) for each field in buf[start:end]:
    for a varint the value itself, for the others where its bytes start."""
    for field, wt, _, v, stop in spans(buf, start, end, file, what):
        yield field, wt, v, stop


def spans(buf, start: int, end: int, file, what: str = "file"):
    """Like fields(), with where each field's key starts: (field, wt, at, value_or_start,
    stop); buf[at:stop] is the whole field, to copy it unchanged."""
    i = start
    while i < end:
        at = i
        k, i = read_varint(buf, i, end, file, what)
        field, wt = k >> 3, k & 7
        if wt == VARINT:
            v, i = read_varint(buf, i, end, file, what)
            yield field, wt, at, v, i
            continue
        if wt == LEN:
            n, i = read_varint(buf, i, end, file, what)
        elif wt in (FIXED32, FIXED64):
            n = 4 if wt == FIXED32 else 8
        else:
            raise ParseError(f"not a {what} (protobuf wire type {wt} at byte {at})", file=file)
        if i + n > end:
            raise ParseError(f"truncated {what} (field {field} needs {n} bytes at byte {i}, "
                             f"only {end - i} left)", file=file)
        yield field, wt, at, i, i + n
        i += n


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if not n:
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def key(field: int, wire_type: int) -> bytes:
    return varint(field << 3 | wire_type)


def len_prefix(field: int, length: int) -> bytes:
    """The key and length that precede a length-delimited field of ``length`` bytes."""
    return key(field, LEN) + varint(length)


def len_field(field: int, payload: bytes) -> bytes:
    return len_prefix(field, len(payload)) + payload


class FileWindow:
    """A file indexed like bytes (buf[i], buf[a:b]) through a small read window, so that
    walking the fields reads their headers, not the weights between them. (A memory map
    would do, but the kernel maps megabytes around each touched page: the RSS grows.)"""

    WINDOW = 1 << 16

    def __init__(self, f):
        self.f = f
        self.size = os.fstat(f.fileno()).st_size
        self.start, self.data = 0, b""

    def __len__(self) -> int:
        return self.size

    def _read(self, start: int, n: int) -> bytes:
        self.f.seek(start)
        return self.f.read(n)

    def __getitem__(self, i):
        if isinstance(i, slice):
            a, b = i.start or 0, min(i.stop, self.size)
            if self.start <= a and b <= self.start + len(self.data):
                return self.data[a - self.start:b - self.start]
            return self._read(a, b - a)
        if not self.start <= i < self.start + len(self.data):
            self.start, self.data = i, self._read(i, self.WINDOW)
        return self.data[i - self.start]
