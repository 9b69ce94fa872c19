"""Write a graph as an .onnx file with its weights streamed, one tensor at a time.

Building a whole onnx.ModelProto, inferring its shapes, checking it and serialising it holds
the weights in memory several times over (about 7x the model at the peak). Here the model is
built and checked without its large weights (the skeleton), then the file is written as the
skeleton's bytes followed by each large weight, read from the source and encoded straight to
the file. The bytes are the one GraphProto protobuf would write (lengths are computed up
front from shapes and dtypes), so every ONNX reader sees a plain model.

Past protobuf's 2 GiB limit (or with external_data=True), the weights go to DST.data beside
the model as ONNX external data, and the model keeps only where they lie.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import protowire as wire
from ..errors import UnsupportedError
from ..fileio import atomic_output
from ..ir.graph import Graph

MODEL_GRAPH, GRAPH_INITIALIZER = 7, 5
TENSOR_RAW_DATA = 9
STREAM_MIN_BYTES = 1 << 16  # smaller weights stay in the skeleton, where shape inference sees them
PROTOBUF_LIMIT = 2 ** 31 - 2 ** 24  # a little under 2 GiB, for the skeleton's own bytes
ALIGN = 4096  # external data offsets, page-aligned so that readers can mmap them


def write_onnx(graph: Graph, path, opset: int | None = None,
               external_data: bool | None = None):
    """Write ``graph`` to ``path``; returns the skeleton (the model without its large weights,
    shapes inferred, passed onnx.checker's full check). ``external_data``: None decides by
    size; True/False force it."""
    from .to_onnx import onnx_dtype
    path = Path(path)
    streamed = {name: v for name, v in graph.weights.items()
                if (v.consumers or v in graph.outputs) and v.data is not None
                and _nbytes(v) >= STREAM_MIN_BYTES and onnx_dtype(v.data.dtype) is not None}
    skeleton = checked_skeleton(graph, opset, streamed)
    total = sum(_nbytes(v) for v in streamed.values())
    if external_data is None:
        external_data = total > PROTOBUF_LIMIT
    if external_data:
        _write_external(skeleton, streamed, path)
    else:
        _write_inline(skeleton, streamed, path)
    return skeleton


def checked_skeleton(graph: Graph, opset: int | None, left_out: dict):
    """The model without the ``left_out`` weights; shape inference and the full check run on a
    copy where those weights are typed graph inputs, which is all either needs of them."""
    import onnx
    from onnx import helper

    from .to_onnx import onnx_dtype, to_onnx
    skeleton = to_onnx(graph, opset, leave_out=set(left_out))
    probe = onnx.ModelProto()
    probe.CopyFrom(skeleton)
    for name, v in left_out.items():
        probe.graph.input.append(helper.make_tensor_value_info(
            name, onnx_dtype(v.data.dtype), list(v.data.shape)))
    try:
        probe = onnx.shape_inference.infer_shapes(probe, strict_mode=True)
        onnx.checker.check_model(probe, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise UnsupportedError(f"the exported ONNX does not pass onnx.checker: "
                               f"{str(exc).strip().splitlines()[0]}") from None
    skeleton.graph.value_info.extend(probe.graph.value_info)
    return skeleton


def _nbytes(v) -> int:
    return v.data.size * np.dtype(v.data.dtype).itemsize


def _header(name: str, v, external: tuple[str, int, int] | None = None) -> bytes:
    """The TensorProto's fields but raw_data: the data follows (or lies in the data file)."""
    from onnx import TensorProto

    from .to_onnx import onnx_dtype
    t = TensorProto(name=name, data_type=onnx_dtype(v.data.dtype), dims=list(v.data.shape))
    if external is not None:
        location, offset, length = external
        t.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", str(offset)),
                           ("length", str(length))):
            entry = t.external_data.add()
            entry.key, entry.value = key, value
    return t.SerializeToString()


def _raw(v) -> memoryview:
    """The weight's bytes, little-endian as ONNX stores them; read now, not kept."""
    a = np.asarray(v.data.read())
    a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
    return memoryview(a).cast("B")


def _write_inline(skeleton, streamed: dict, path: Path) -> None:
    head, graph_bytes = _split(skeleton)
    entries = []  # (name, header, raw size, tensor size): all but the data itself
    for name, v in streamed.items():
        header = _header(name, v)
        n = _nbytes(v)
        entries.append((name, header, n,
                        len(header) + len(wire.len_prefix(TENSOR_RAW_DATA, n)) + n))
    graph_len = len(graph_bytes) + sum(len(wire.len_prefix(GRAPH_INITIALIZER, size)) + size
                                       for *_, size in entries)
    with atomic_output(path) as f:
        f.write(head)
        f.write(wire.len_prefix(MODEL_GRAPH, graph_len))
        f.write(graph_bytes)
        for (name, header, n, size), v in zip(entries, streamed.values()):
            f.write(wire.len_prefix(GRAPH_INITIALIZER, size))
            f.write(header)
            f.write(wire.len_prefix(TENSOR_RAW_DATA, n))
            raw = _raw(v)
            if len(raw) != n:
                raise UnsupportedError(f"weight '{name}' has {len(raw)} bytes, its shape "
                                       f"needs {n}")
            f.write(raw)


def _write_external(skeleton, streamed: dict, path: Path) -> None:
    data_name = path.name + ".data"
    headers, offset = [], 0
    with atomic_output(path.parent / data_name) as f:
        for name, v in streamed.items():
            raw = _raw(v)
            f.write(raw)
            headers.append(_header(name, v, (data_name, offset, len(raw))))
            offset += len(raw)
            pad = -offset % ALIGN
            f.write(b"\0" * pad)
            offset += pad
    head, graph_bytes = _split(skeleton)
    inits = b"".join(wire.len_field(GRAPH_INITIALIZER, h) for h in headers)
    with atomic_output(path) as f:
        f.write(head)
        f.write(wire.len_field(MODEL_GRAPH, graph_bytes + inits))


def _split(skeleton) -> tuple[bytes, bytes]:
    """(the model's fields but its graph, the graph's own bytes)."""
    import onnx
    head = onnx.ModelProto()
    head.CopyFrom(skeleton)
    head.ClearField("graph")
    return head.SerializeToString(), skeleton.graph.SerializeToString()

