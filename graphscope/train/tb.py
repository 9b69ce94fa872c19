"""TensorBoard event files, read with the tensorboard package's own record reader.

Scalars, histograms and images, whether written by TF1-style summaries / torch.utils.tensorboard
(simple_value, histo, image) or by TF2's tf.summary (tensors tagged with a plugin name).
"""
from __future__ import annotations

import os
import sys

import numpy as np

from ..errors import ParseError, require
from .runs import Histogram, Image, Run, make_series

# Below this many bytes, reading with tensorboard's pure-Python fallback beats importing
# TensorFlow (seconds) just to use its C++ record reader.
_TF_READER_MIN_BYTES = 16 << 20


def is_event_file(path: str) -> bool:
    return "tfevents" in os.path.basename(path)


def _prepare_backend(total_bytes: int) -> None:
    """tensorboard reads records with TensorFlow's C++ reader when TF is importable, else with
    its stub. Pick the stub for small inputs unless TF is loaded already."""
    require("tensorboard", "train", "Reading TensorBoard event files")
    if "tensorflow" not in sys.modules and total_bytes < _TF_READER_MIN_BYTES:
        import tensorboard.compat.notf  # noqa: F401  (a flag: "don't import TF")


def read_event_files(paths: list[str], name: str, source: str) -> Run:
    """Merge the event files of one run (one directory) into a Run, in file order."""
    _prepare_backend(sum(os.path.getsize(p) for p in paths))
    run = Run(name=name, source=source)
    acc = _Accumulator()
    for path in sorted(paths):
        _read_one(path, acc, run)
    acc.finish(run)
    return run


class _Accumulator:
    def __init__(self):
        self.scalars = {}     # tag -> (steps, values, times) lists
        self.histograms = {}
        self.images = {}
        self.plugin = {}      # tag -> plugin name (TF2 writes metadata only on first write)

    def finish(self, run: Run) -> None:
        for tag, (s, v, t) in self.scalars.items():
            run.scalars[tag] = make_series(s, v, t)
        for tag, hs in self.histograms.items():
            run.histograms[tag] = _last_per_step(hs)
        for tag, ims in self.images.items():
            run.images[tag] = _last_per_step(ims)


def _last_per_step(items):
    by_step = {}
    for it in items:
        by_step[it.step] = it
    return [by_step[s] for s in sorted(by_step)]


def _read_one(path: str, acc: _Accumulator, run: Run) -> None:
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto import event_pb2

    size = os.path.getsize(path)
    consumed = records = 0
    parse = event_pb2.Event.FromString
    scalars, plugin = acc.scalars, acc.plugin
    try:
        loader = RawEventFileLoader(path)
    except Exception as exc:
        raise ParseError(f"cannot open event file: {exc}", file=path) from None
    for raw in loader.Load():
        consumed += len(raw) + 16          # length, crc, data, crc
        records += 1
        try:
            event = parse(raw)
        except Exception:
            raise ParseError(f"record {records} is not an Event", file=path) from None
        if not event.HasField("summary"):
            continue
        step, wall = event.step, event.wall_time
        for value in event.summary.value:
            tag = value.tag
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                lists = scalars.get(tag)
                if lists is None:
                    lists = scalars[tag] = ([], [], [])
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
                    plugin[tag] = name
                _from_tensor(plugin.get(tag, ""), tag, value.tensor, step, wall, acc)
    if consumed < size:
        run.warnings.append(f"{path}: truncated or corrupt event file: stopped at byte "
                            f"{consumed} of {size} after {records} records; kept those")


def _from_histo(h, step, wall) -> Histogram:
    limits = list(h.bucket_limit)
    counts = list(h.bucket)
    # HistogramProto stores right edges only; the first bucket starts at the data minimum
    # (torch writes an empty first bucket whose right edge is the real left edge).
    left = min(h.min, limits[0]) if limits else h.min
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
