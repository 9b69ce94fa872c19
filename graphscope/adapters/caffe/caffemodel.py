"""Binary .caffemodel (a NetParameter) read and written from Caffe's field numbers alone.

Reading scans the message structure only: each blob's float data is remembered as an
(offset, count) into the file and turned into an array when a weight is first asked for.

Field numbers (caffe.proto):
  NetParameter:       name 1, layers 2 (V1), input 3, input_dim 4, input_shape 8, layer 100
  LayerParameter:     name 1, type 2, bottom 3, top 4, blobs 7
  V1LayerParameter:   bottom 2, top 3, name 4, type 5 (enum), blobs 6
  BlobProto:          num 1, channels 2, height 3, width 4, data 5 (packed float),
                      shape 7, double_data 8
  BlobShape:          dim 1 (packed int64)
"""
from __future__ import annotations

from pathlib import Path

from ... import protowire as wire
from ...errors import ParseError


class BlobRecord:
    """One blob of one layer: its shape as the file gives it and where its data lies."""

    __slots__ = ("shape", "legacy", "shaped", "chunks", "dtype", "file")

    def __init__(self, file):
        self.file = file
        self.shape: tuple[int, ...] = ()
        self.legacy = [1, 1, 1, 1]
        self.shaped = False  # True when the file gives a BlobShape (new style)
        self.chunks: list[tuple[int, int]] = []  # (offset, element count)
        self.dtype = "<f4"

    def shape_str(self) -> str:
        return "x".join(map(str, self.shape))

    def matches(self, shape) -> bool:
        """Caffe's ShapeEquals: exact, or old 4-d num/channels/height/width padded with 1s."""
        shape = tuple(shape)
        if self.shape == shape:
            return True
        return not self.shaped and tuple(self.legacy) == (1,) * (4 - len(shape)) + shape

    def count(self) -> int:
        return sum(n for _, n in self.chunks)

    def array(self, shape=None):
        import numpy as np
        if len(self.chunks) == 1:  # packed data, as Caffe writes it: one read
            (o, n), = self.chunks
            a = np.fromfile(self.file, dtype=self.dtype, count=n, offset=o)
        else:  # unpacked values (or none): one read of the span that holds them all
            size = np.dtype(self.dtype).itemsize
            lo = min((o for o, _ in self.chunks), default=0)
            hi = max((o + n * size for o, n in self.chunks), default=0)
            with open(self.file, "rb") as f:
                f.seek(lo)
                block = f.read(hi - lo)
            a = np.concatenate([np.frombuffer(block, self.dtype, n, o - lo)
                                for o, n in self.chunks] or [np.zeros(0, self.dtype)])
        a = a.astype("float32", copy=False)
        want = tuple(shape if shape is not None else self.shape)
        n = 1
        for d in want:
            n *= d
        if a.size != n:
            raise ParseError(f"blob data has {a.size} values, its shape needs {n} "
                             f"(truncated caffemodel?)", file=self.file)
        return a.reshape(want)


def _fields(buf, start: int, end: int, file):
    return wire.fields(buf, start, end, file, "caffemodel")


def read_caffemodel(path) -> dict[str, list[BlobRecord]]:
    """Layer name -> its blobs (V2 `layer` and V1 `layers` both)."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise ParseError("no such caffemodel file", file=file)
    out: dict[str, list[BlobRecord]] = {}
    with open(path, "rb") as f:
        buf = wire.FileWindow(f)  # field headers are read; blob data stays in the file
        if not len(buf):
            raise ParseError("caffemodel is empty", file=file)
        for field, wt, s, e in _fields(buf, 0, len(buf), file):
            if field in (100, 2) and wt == 2:
                name, blobs = _layer(buf, s, e, file, v1=field == 2)
                if blobs:
                    out[name] = blobs
    return out


def _layer(buf, start, end, file, v1: bool):
    name_field, blobs_field = (4, 6) if v1 else (1, 7)
    name, blobs = "", []
    for field, wt, s, e in _fields(buf, start, end, file):
        if field == name_field and wt == 2:
            name = bytes(buf[s:e]).decode("utf-8", "replace")
        elif field == blobs_field and wt == 2:
            blobs.append(_blob(buf, s, e, file))
    return name, blobs


def _blob(buf, start, end, file) -> BlobRecord:
    rec = BlobRecord(file)
    for field, wt, s, e in _fields(buf, start, end, file):
        if 1 <= field <= 4 and wt == 0:
            rec.legacy[field - 1] = s
        elif field == 5 and wt == 2:
            rec.chunks.append((s, (e - s) // 4))
        elif field == 5 and wt == 5:
            rec.chunks.append((s, 1))
        elif field == 8 and wt == 2:
            rec.dtype = "<f8"
            rec.chunks.append((s, (e - s) // 8))
        elif field == 7 and wt == 2:
            dims = []
            for f2, wt2, s2, e2 in _fields(buf, s, e, file):
                if f2 == 1 and wt2 == 2:
                    j = s2
                    while j < e2:
                        d, j = wire.read_varint(buf, j, e2, file, "caffemodel")
                        dims.append(d)
                elif f2 == 1 and wt2 == 0:
                    dims.append(s2)
            rec.shape = tuple(dims)
            rec.shaped = True
    if not rec.shaped:
        rec.shape = tuple(rec.legacy)
    return rec


# -- writing (tests, and anyone who needs a caffemodel for OpenCV) ----------------------------
def encode_blob(array, legacy: bool = False) -> bytes:
    import numpy as np
    a = np.asarray(array, dtype="<f4")
    out = b""
    if legacy:
        dims = (1,) * (4 - a.ndim) + tuple(a.shape)
        for f, d in zip((1, 2, 3, 4), dims):
            out += wire.key(f, wire.VARINT) + wire.varint(int(d))
    else:
        out += wire.len_field(7, wire.len_field(1, b"".join(wire.varint(int(d)) for d in a.shape)))
    return out + wire.len_field(5, a.tobytes())


def write_caffemodel(path, layers, v1: bool = False) -> None:
    """``layers``: [(name, type, [arrays])]. V1 writes `layers` with legacy 4-d blobs; its
    type field is left out (readers match layers by name)."""
    out = bytearray()
    for name, type_, arrays in layers:
        body = b""
        if v1:
            body += wire.len_field(4, name.encode())
            for a in arrays:
                body += wire.len_field(6, encode_blob(a, legacy=True))
            out += wire.len_field(2, body)
        else:
            body += wire.len_field(1, name.encode()) + wire.len_field(2, type_.encode())
            for a in arrays:
                body += wire.len_field(7, encode_blob(a))
            out += wire.len_field(100, body)
    from ...fileio import write_atomic
    write_atomic(path, bytes(out))
