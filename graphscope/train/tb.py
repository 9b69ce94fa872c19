"""TensorBoard event files, read with the tensorboard package's own record reader.

Scalars, histograms and images, whether written by TF1-style summaries / torch.utils.tensorboard
(simple_value, histo, image) or by TF2's tf.summary (tensors tagged with a plugin name).
"""
from __future__ import annotations

import os
import sys

import numpy as np

from ..errors import ParseError, require
from ..progress import task
from .runs import Histogram, Image, Run, make_series

# Below this many bytes, reading with tensorboard's pure-Python fallback beats importing
# TensorFlow (seconds) just to use its C++ record reader.
_TF_READER_MIN_BYTES = 16 << 20


def is_event_file(path: str) -> bool:
    return "tfevents" in os.path.basename(path)


def _records(path: str, total_bytes: int):
    """Serialized Event records, read by tensorboard's own record reader: its loader (which
    uses TensorFlow's C++ reader) when TF is loaded already or the input is big enough to
    pay for importing TF; otherwise the pure-Python reader that loader falls back to without
    TF, used directly so that the choice is not made for the whole process."""
    if _use_tf(total_bytes):
        from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
        yield from RawEventFileLoader(path).Load()
        return
    from tensorboard.compat.tensorflow_stub import errors
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New
    reader = PyRecordReader_New(path.encode(), 0, b"", None)
    while True:
        try:
            reader.GetNext()
        except (errors.OutOfRangeError, errors.DataLossError):
            return              # end, or a truncated / corrupt record (reported by caller)
        yield reader.record()


def _use_tf(total_bytes: int) -> bool:
    return "tensorflow" in sys.modules or (total_bytes >= _TF_READER_MIN_BYTES and _has_tf())


def _has_tf() -> bool:
    import importlib.util
    return importlib.util.find_spec("tensorflow") is not None


def read_event_files(paths: list[str], name: str, source: str) -> Run:
    """Merge the event files of one run (one directory) into a Run, in file order."""
    require("tensorboard", "train", "Reading TensorBoard event files")
    total = sum(os.path.getsize(p) for p in paths)
    run = Run(name=name, source=source)
    acc = _Accumulator()
    for path in sorted(paths):
        _read_one(path, total, acc, run)
    acc.finish(run)
    return run


class _Accumulator:
    def __init__(self):
        self.scalars = {}     # tag -> (steps, values, times) lists
        self.groups = {}      # tuple of tags -> (steps, times, rows): events of scalars only
        self.columns = {}     # tag -> [(steps, values, times) arrays] from _bulk_scalars
        self.histograms = {}
        self.images = {}
        self.plugin = {}      # tag -> plugin name (TF2 writes metadata only on first write)

    def finish(self, run: Run) -> None:
        pieces = {}
        for tag, (s, v, t) in self.scalars.items():
            pieces.setdefault(tag, []).append((np.asarray(s, np.int64), np.asarray(v), t))
        for tag, parts in self.columns.items():
            pieces.setdefault(tag, []).extend(parts)
        for tags, (s, t, rows) in self.groups.items():
            steps, matrix = np.asarray(s, np.int64), np.asarray(rows, np.float64)
            times = np.asarray(t, np.float64)
            for j, tag in enumerate(tags):
                pieces.setdefault(tag, []).append((steps, matrix[:, j], times))
        for tag, parts in pieces.items():
            run.scalars[tag] = make_series(np.concatenate([p[0] for p in parts]),
                                           np.concatenate([p[1] for p in parts]),
                                           np.concatenate([p[2] for p in parts]))
        for tag, hs in self.histograms.items():
            run.histograms[tag] = _last_per_step(hs)
        for tag, ims in self.images.items():
            run.images[tag] = _last_per_step(ims)


def _last_per_step(items):
    by_step = {}
    for it in items:
        by_step[it.step] = it
    return [by_step[s] for s in sorted(by_step)]


_BATCH = 50_000


def _read_one(path: str, total: int, acc: _Accumulator, run: Run) -> None:
    size = os.path.getsize(path)
    consumed = records = shown = 0
    bulk = _use_tf(total)      # TF is loaded: decode plain-scalar events in bulk with it
    batch = []
    with task(f"reading {os.path.basename(path)}", total=size, unit="B", scale=True) as bar:
        for raw in _records(path, total):
            consumed += len(raw) + 16          # length, crc, data, crc
            records += 1
            if bulk:
                batch.append(raw)
                if len(batch) == _BATCH:
                    _batch(batch, records - len(batch), path, acc)
                    batch = []
            else:
                _event(raw, records, path, acc)
            if records % 4096 == 0:
                bar.update(consumed - shown)
                shown = consumed
        bar.update(consumed - shown)
    if batch:
        _batch(batch, records - len(batch), path, acc)
    if records == 0 and size:
        raise ParseError("not a TensorBoard event file (no readable record)", file=path)
    if consumed < size:
        run.warnings.append(f"{path}: truncated or corrupt event file: stopped at byte "
                            f"{consumed} of {size} after {records} records; kept those")


def _batch(raws, first, path, acc) -> None:
    """Events whose values are all simple scalars are decoded together, in C++, by TF's
    decode_proto op with TF's own Event descriptor; the rest one by one."""
    rest = _bulk_scalars(raws, acc)
    for i in rest:
        _event(raws[i], first + i + 1, path, acc)


def _bulk_scalars(raws, acc) -> list:
    import tensorflow as tf
    decode = tf.io.decode_proto
    try:
        _, (step, wall, summ) = decode(tf.constant(raws), "tensorflow.Event",
                                       ["step", "wall_time", "summary"],
                                       [tf.int64, tf.float64, tf.string])
        sizes, (values,) = decode(tf.reshape(summ, [-1]), "tensorflow.Summary", ["value"],
                                  [tf.string])
        nval = sizes.numpy()[:, 0]
        flat = tf.boolean_mask(values, tf.sequence_mask(nval, tf.shape(values)[1]))
        vsizes, (tags, simple) = decode(flat, "tensorflow.Summary.Value",
                                        ["tag", "simple_value"], [tf.string, tf.float32])
    except tf.errors.OpError:
        return list(range(len(raws)))     # let the per-event path say what is wrong
    has_simple = vsizes.numpy()[:, 1] == 1
    step, wall = step.numpy()[:, 0], wall.numpy()[:, 0]
    # an event takes the bulk path when it has values and every one is a simple scalar
    owner = np.repeat(np.arange(len(raws)), nval)
    n_simple = np.bincount(owner[has_simple], minlength=len(raws))
    ok_event = (nval > 0) & (n_simple == nval)
    ok_value = ok_event[owner]
    if not ok_value.any():
        return list(np.flatnonzero(~ok_event & (nval > 0)))
    uniq, idx = tf.unique(tf.boolean_mask(tags[:, 0], ok_value))
    idx = idx.numpy()
    vals = simple.numpy()[:, 0][ok_value].astype(np.float64)
    own = owner[ok_value]
    order = np.argsort(idx, kind="stable")
    bounds = np.searchsorted(idx[order], np.arange(len(uniq.numpy()) + 1))
    for k, tag in enumerate(uniq.numpy()):
        sel = order[bounds[k]:bounds[k + 1]]
        e = own[sel]
        acc.columns.setdefault(tag.decode("utf-8", "replace"), []).append(
            (step[e], vals[sel], wall[e]))
    # events with other kinds of values (histograms, images, tensors) go one by one
    return list(np.flatnonzero(~ok_event & (nval > 0)))


def _event(raw, number, path, acc) -> None:
    from tensorboard.compat.proto import event_pb2
    try:
        event = event_pb2.Event.FromString(raw)
    except Exception:
        raise ParseError(f"record {number} is not an Event", file=path) from None
    if not event.HasField("summary"):
        return
    step, wall = event.step, event.wall_time
    values = event.summary.value
    # Fast path for the bulk of a long run: an event of simple scalars whose tags were
    # seen together before (one tag per event from torch, many from TF1 merged summaries);
    # one pass over the values, as each access to a repeated element costs a wrapper
    pairs = [(v.tag, v.simple_value) for v in values]
    tags = tuple([p[0] for p in pairs])
    group = acc.groups.get(tags)
    if group is not None and values[0].WhichOneof("value") == "simple_value":
        group[0].append(step)
        group[1].append(wall)
        group[2].append([p[1] for p in pairs])
        return
    if tags and len(set(tags)) == len(tags) and all(
            v.WhichOneof("value") == "simple_value" for v in values):
        acc.groups[tags] = ([step], [wall], [[p[1] for p in pairs]])
        return
    for value in values:
        tag = value.tag
        kind = value.WhichOneof("value")
        if kind == "simple_value":
            lists = acc.scalars.setdefault(tag, ([], [], []))
            lists[0].append(step)
            lists[1].append(value.simple_value)
            lists[2].append(wall)
        elif kind == "histo":
            acc.histograms.setdefault(tag, []).append(_from_histo(value.histo, step, wall))
        elif kind == "image":
            acc.images.setdefault(tag, []).append(
                Image(step, value.image.encoded_image_string, wall))
        elif kind == "tensor":
            name = value.metadata.plugin_data.plugin_name
            if name:
                acc.plugin[tag] = name
            _from_tensor(acc.plugin.get(tag, ""), tag, value.tensor, step, wall, acc)


def _from_histo(h, step, wall) -> Histogram:
    limits = list(h.bucket_limit)
    counts = list(h.bucket)
    # HistogramProto stores right edges only; the first bucket starts at the data minimum
    # (torch writes an empty first bucket whose right edge is the real left edge).
    left = min(h.min, limits[0]) if limits else h.min
    if len(counts) > 1 and counts[0] == 0 and left == limits[0]:
        return Histogram(step, limits, counts[1:], wall)   # drop that zero-width bucket
    return Histogram(step, [left] + limits, counts, wall)


def _from_tensor(plugin, tag, tensor, step, wall, acc) -> None:
    from tensorboard.util import tensor_util
    if plugin == "scalars":
        arr = tensor_util.make_ndarray(tensor)
        lists = acc.scalars.setdefault(tag, ([], [], []))
        lists[0].append(step)
        lists[1].append(float(arr.reshape(-1)[0]))
        lists[2].append(wall)
    elif plugin == "histograms":
        arr = np.asarray(tensor_util.make_ndarray(tensor), dtype=np.float64).reshape(-1, 3)
        if len(arr):
            edges = [float(arr[0, 0])] + arr[:, 1].tolist()
            counts = arr[:, 2].tolist()
        else:
            edges, counts = [], []
        acc.histograms.setdefault(tag, []).append(Histogram(step, edges, counts, wall))
    elif plugin == "images":
        arr = tensor_util.make_ndarray(tensor).reshape(-1)
        # [width, height, image 1, image 2, ...]; keep each image as its own tag
        for i, blob in enumerate(arr[2:]):
            key = tag if len(arr) == 3 else f"{tag}/{i}"
            acc.images.setdefault(key, []).append(Image(step, bytes(blob), wall))
