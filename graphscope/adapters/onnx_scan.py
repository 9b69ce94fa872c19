"""An .onnx file's structure, without its large weights in memory.

onnx.load parses the whole file, weights included, into memory (and reading it needs the
file's bytes besides: twice the model at the peak). Here the file is walked field by field:
every field is kept except the `raw_data` of large top-level initializers, which is
remembered as (offset, length) and read from the file when that weight is asked for. Drawing
or counting a 1 GB model then reads a few megabytes.

Field numbers (onnx.proto): ModelProto.graph 7; GraphProto.initializer 5;
TensorProto dims 1, data_type 2, name 8, raw_data 9.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import protowire as wire
from ..ir.shapes import ONNX_DTYPES

MODEL_GRAPH, GRAPH_INITIALIZER, TENSOR_NAME, TENSOR_RAW_DATA = 7, 5, 8, 9
STRIP_MIN_BYTES = 4096  # smaller tensors stay in the proto: not worth a file read each
WHAT = "ONNX file"
# numpy dtypes the raw bytes map onto directly (little-endian, as ONNX stores them)
RAW_DTYPES = {code: np.dtype(name).newbyteorder("<").str for code, name in ONNX_DTYPES.items()
              if name not in ("string", "bfloat16")}


@dataclass(frozen=True)
class RawSpan:
    """Where a stripped initializer's bytes lie in the file."""
    path: str
    offset: int
    length: int

    def read_array(self, header):
        """The weight as a numpy array; ``header`` is its TensorProto without raw_data."""
        dtype = RAW_DTYPES.get(header.data_type)
        shape = tuple(header.dims)
        if dtype is not None:  # one read, straight into the array
            count = self.length // np.dtype(dtype).itemsize
            return np.fromfile(self.path, dtype=dtype, count=count,
                               offset=self.offset).reshape(shape)
        from onnx import TensorProto, numpy_helper  # bfloat16, float8, int4: onnx decodes
        t = TensorProto()
        t.CopyFrom(header)
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            t.raw_data = f.read(self.length)
        return numpy_helper.to_array(t)


def read_structure(path: Path):
    """(onnx.ModelProto without the large initializers' raw_data, {initializer name: RawSpan}).
    Raises ParseError when the file is not protobuf."""
    import onnx
    file = str(path)
    spans: dict[str, RawSpan] = {}
    kept = bytearray()
    with open(path, "rb") as f:
        buf = wire.FileWindow(f)
        for field, wt, at, s, e in wire.spans(buf, 0, len(buf), file, WHAT):
            if field == MODEL_GRAPH and wt == wire.LEN:
                kept += wire.len_field(MODEL_GRAPH, _graph_without_raw(buf, s, e, file, spans))
            else:
                kept += buf[at:e]
    model = onnx.ModelProto()
    model.ParseFromString(bytes(kept))
    return model, spans


def _graph_without_raw(buf, start: int, end: int, file: str, spans: dict) -> bytes:
    out = bytearray()
    for field, wt, at, s, e in wire.spans(buf, start, end, file, WHAT):
        if field == GRAPH_INITIALIZER and wt == wire.LEN:
            out += wire.len_field(GRAPH_INITIALIZER, _tensor_header(buf, s, e, file, spans))
        else:
            out += buf[at:e]
    return bytes(out)


def _tensor_header(buf, start: int, end: int, file: str, spans: dict) -> bytes:
    """The TensorProto's bytes without a large raw_data, whose place goes into ``spans``."""
    out, name, raw = bytearray(), None, None
    for field, wt, at, s, e in wire.spans(buf, start, end, file, WHAT):
        if field == TENSOR_RAW_DATA and wt == wire.LEN and e - s >= STRIP_MIN_BYTES:
            raw = (s, e - s)
            continue
        if field == TENSOR_NAME and wt == wire.LEN:
            name = bytes(buf[s:e]).decode("utf-8", "replace")
        out += buf[at:e]
    if raw is None:
        return bytes(out)
    if name is None or name in spans:  # unnamed or repeated: keep it whole, as it was
        return bytes(buf[start:end])
    spans[name] = RawSpan(file, *raw)
    return bytes(out)
