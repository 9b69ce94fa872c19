"""Mutators for fuzzing the readers: byte-level (flip, insert, delete, truncate, splice) and
structure-aware (protobuf fields, zip members, HDF5 attributes, JSON values, text lines).

Every mutator takes the seed's bytes and a ``random.Random`` and returns new bytes, so a run
is reproduced from its seed alone. Structure-aware mutators fall back to byte-level ones
where the structure cannot be parsed (a mutation of a mutation, say)."""
from __future__ import annotations

import io
import json
import random
import struct
import zipfile

INTERESTING = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff\xff\xff\x0f",
               b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x00\x00\x00\x80"]


# -- byte level ---------------------------------------------------------------------------------

def flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def overwrite(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    i = rng.randrange(len(out))
    piece = rng.choice(INTERESTING)
    out[i:i + len(piece)] = piece
    return bytes(out)


def insert(data: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(data) + 1)
    run = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    return data[:i] + run + data[i:]


def delete(data: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(data))
    return data[:i] + data[i + rng.randint(1, 64):]


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[:rng.randrange(1, max(2, len(data)))]


def splice(data: bytes, rng: random.Random) -> bytes:
    """A chunk of the file copied over another place: plausible bytes in the wrong spot."""
    n = rng.randint(2, 256)
    src, dst = rng.randrange(len(data)), rng.randrange(len(data))
    return data[:dst] + data[src:src + n] + data[dst + n:]


BYTE_MUTATORS = (flip, overwrite, insert, delete, truncate, splice)


def bytes_level(data: bytes, rng: random.Random) -> bytes:
    return rng.choice(BYTE_MUTATORS)(data, rng) if data else b"\x00"


# -- protobuf wire format -----------------------------------------------------------------------

def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError("bad varint")
        b = data[i]
        value |= (b & 0x7F) << shift
        i += 1
        shift += 7
        if not b & 0x80:
            return value, i


def _encode_varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        out.append(b | (0x80 if value else 0))
        if not value:
            return bytes(out)


def proto_fields(data: bytes, start: int = 0, end: int | None = None, depth: int = 0,
                 out: list | None = None) -> list:
    """Every field found by a recursive walk: (tag_start, value_start, value_end, wire type).
    Length-delimited values are walked too when they parse as messages."""
    end = len(data) if end is None else end
    out = [] if out is None else out
    i = start
    found = []
    while i < end:
        at = i
        key, i = _varint(data, i)
        wt = key & 7
        if key >> 3 == 0:
            raise ValueError("field 0")
        if wt == 0:
            _, i = _varint(data, i)
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        elif wt == 2:
            n, j = _varint(data, i)
            i = j + n
            found.append((at, j, i, wt))
            if i > end:
                raise ValueError("overrun")
            continue
        else:
            raise ValueError("wire type")
        if i > end:
            raise ValueError("overrun")
        found.append((at, at, i, wt))
    out.extend(found)
    if depth < 6:
        for at, s, e, wt in found:
            if wt == 2 and e - s > 1:
                try:
                    proto_fields(data, s, e, depth + 1, out)
                except ValueError:
                    pass  # a string or packed array, not a message
    return out


def protobuf(data: bytes, rng: random.Random) -> bytes:
    """Mutate one field: its value (huge, zero, negative varints), its length prefix, its
    payload, or drop or repeat it."""
    try:
        fields = proto_fields(data)
    except ValueError:
        fields = []
    if not fields:
        return bytes_level(data, rng)
    at, s, e, wt = rng.choice(fields)
    action = rng.randrange(5)
    if action == 0 and wt == 0:
        _, vstart = _varint(data, at)
        value = rng.choice([0, 1, (1 << 63) - 1, (1 << 64) - 1, 1 << 40, -1, 2**31])
        return data[:vstart] + _encode_varint(value) + data[e:]
    if action == 1 and wt == 2:  # a length that lies
        _, lstart = _varint(data, at)
        n = rng.choice([0, e - s + 1, e - s - 1, 1 << 31, rng.randrange(1 << 20)])
        return data[:lstart] + _encode_varint(max(n, 0)) + data[s:]
    if action == 2 and wt == 2 and e > s:
        return data[:s] + bytes_level(data[s:e], rng) + data[e:]
    if action == 3:
        return data[:at] + data[e:]
    return data[:e] + data[at:e] + data[e:]


# -- zip archives (.keras, .pt, .pt2, .pth) -----------------------------------------------------

def zip_member(data: bytes, rng: random.Random, inner=None) -> bytes:
    """A well-formed zip whose one member is mutated (by ``inner`` for the member's kind), or
    whose central directory lies about a member (size, name)."""
    try:
        zin = zipfile.ZipFile(io.BytesIO(data))
        infos = zin.infolist()
        members = [(i, zin.read(i)) for i in infos]
    except Exception:
        return bytes_level(data, rng)
    if not members:
        return bytes_level(data, rng)
    if rng.random() < 0.2:
        return _zip_lie(data, rng)
    k = rng.randrange(len(members))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zout:
        for j, (info, body) in enumerate(members):
            if j == k:
                mutate = inner or member_mutator(info.filename)
                body = mutate(body, rng) if body else b"\x00"
            zout.writestr(info, body)
    return out.getvalue()


def _zip_lie(data: bytes, rng: random.Random) -> bytes:
    """Patch one central-directory entry: a huge declared size, or a name that is not UTF-8."""
    out = bytearray(data)
    at = out.rfind(b"PK\x01\x02")
    if at < 0:
        return bytes_level(data, rng)
    if rng.random() < 0.5:  # uncompressed size field at +24 (4 bytes): 4 GB - 1
        out[at + 24:at + 28] = struct.pack("<I", 0xFFFFFFFF - rng.randrange(16))
    else:
        name_len = struct.unpack("<H", out[at + 28:at + 30])[0]
        if name_len:
            out[at + 46] = 0xFF
    return bytes(out)


def member_mutator(name: str):
    if name.endswith(".json"):
        return json_value
    if name.endswith(".h5"):
        return bytes_level
    return bytes_level


# -- JSON ---------------------------------------------------------------------------------------

ODD_VALUES = [None, -1, 0, 2**63, 1e308, float("nan"), "", "x" * 1000, [], {}, [[[[[]]]]],
              True, [1, 2, 3] * 10, {"class_name": "Lambda", "config": {}}]


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


def json_value(data: bytes, rng: random.Random) -> bytes:
    """Replace or delete one value anywhere in the document."""
    try:
        doc = json.loads(data)
    except Exception:
        return text_lines(data, rng)
    paths = [p for p in _paths(doc) if p]
    if not paths:
        return bytes_level(data, rng)
    path = rng.choice(paths)
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    if rng.random() < 0.3 and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = rng.choice(ODD_VALUES)
    return json.dumps(doc).encode()


# -- text (prototxt, CSV, logs, JSON lines) -----------------------------------------------------

def text_lines(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    i = rng.randrange(len(lines))
    action = rng.randrange(7)
    if action == 0:
        del lines[i]
    elif action == 1:
        lines.insert(i, lines[rng.randrange(len(lines))])
    elif action == 2:
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif action == 3:  # a number made extreme
        import re
        lines[i] = re.sub(rb"\d+", lambda m: rng.choice([b"0", b"-1", b"99999999999999999999",
                                                         b"1e400", b"nan"]), lines[i], count=1)
    elif action == 4:
        lines[i] = b"{" * rng.choice([10, 1000, 100000]) + lines[i]
    elif action == 5:
        lines[i] = lines[i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    else:
        return bytes_level(data, rng)
    return b"\n".join(lines)


# -- HDF5 ---------------------------------------------------------------------------------------

def hdf5_attribute(data: bytes, rng: random.Random) -> bytes:
    """Rewrite one attribute of an HDF5 file (Keras keeps its config in attributes) through
    h5py: a JSON attribute gets a JSON mutation, others a value of the wrong kind."""
    import tempfile

    import h5py
    import numpy as np
    with tempfile.NamedTemporaryFile(suffix=".h5") as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            with h5py.File(tmp.name, "r+") as f:
                found = []
                f.visititems(lambda name, obj: found.extend((obj, k) for k in obj.attrs))
                found.extend((f, k) for k in f.attrs)
                if not found:
                    raise ValueError("no attributes")
                obj, key = rng.choice(found)
                value = obj.attrs[key]
                if isinstance(value, (bytes, str)) and str(value)[:1] in "{[":
                    raw = value.encode() if isinstance(value, str) else value
                    obj.attrs[key] = json_value(raw, rng).decode("utf-8", "replace")
                elif rng.random() < 0.3:
                    del obj.attrs[key]
                else:
                    obj.attrs[key] = rng.choice([np.int64(-1), "", "\udcff".encode(
                        "utf-8", "surrogateescape"), np.zeros((3, 3)), "x" * 100])
        except Exception:
            return bytes_level(data, rng)
        with open(tmp.name, "rb") as f:
            return f.read()


# -- per format ---------------------------------------------------------------------------------

KINDS = {
    "protobuf": (protobuf, bytes_level),
    "zip": (zip_member, bytes_level),
    "hdf5": (hdf5_attribute, bytes_level),
    "json": (json_value, text_lines, bytes_level),
    "text": (text_lines, bytes_level),
    "binary": (bytes_level,),
}


def mutate(data: bytes, kind: str, rng: random.Random) -> bytes:
    """One mutation of ``data``: structure-aware for its kind most of the time, byte-level
    otherwise; now and then two mutations stacked."""
    mutators = KINDS[kind]
    out = rng.choice(mutators)(data, rng)
    if rng.random() < 0.15:
        out = rng.choice(mutators)(out, rng)
    return out
