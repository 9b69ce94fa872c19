"""The in-memory form of a training log: runs of scalar series, histograms and images."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Series:
    """One scalar tag: parallel arrays, sorted by step (later writes win on equal steps)."""
    steps: np.ndarray            # int64
    values: np.ndarray           # float64
    times: np.ndarray | None = None   # wall-clock seconds, when the log has them

    def __len__(self) -> int:
        return len(self.steps)


@dataclass
class Histogram:
    step: int
    edges: list            # len(counts) + 1 bin edges
    counts: list
    time: float | None = None


@dataclass
class Image:
    step: int
    png: bytes             # encoded image as written (PNG/JPEG/GIF)
    time: float | None = None


@dataclass
class Run:
    name: str
    source: str
    scalars: dict = field(default_factory=dict)      # tag -> Series
    histograms: dict = field(default_factory=dict)   # tag -> [Histogram]
    images: dict = field(default_factory=dict)       # tag -> [Image]
    warnings: list = field(default_factory=list)

    def to_json(self) -> dict:
        """The --json document for this run (issue 11's schema)."""
        return {
            "name": self.name,
            "source": self.source,
            "scalars": {tag: [[int(s), _num(v)] for s, v in zip(ser.steps.tolist(),
                                                                ser.values.tolist())]
                        for tag, ser in sorted(self.scalars.items())},
            "histograms": {tag: [{"step": h.step, "edges": [_num(e) for e in h.edges],
                                  "counts": [_num(c) for c in h.counts]} for h in hs]
                           for tag, hs in sorted(self.histograms.items())},
        }


def _num(v):
    v = float(v)
    if v != v or v in (float("inf"), float("-inf")):
        return None            # JSON has no NaN/Infinity
    return int(v) if v.is_integer() and abs(v) < 2 ** 53 else v


def make_series(steps, values, times=None) -> Series:
    """Build a Series from points in arrival order: sort by step, keep the last write of a
    step (as TensorBoard shows a re-logged step)."""
    steps = np.asarray(steps, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    times = None if times is None else np.asarray(times, dtype=np.float64)
    if len(steps) > 1 and not np.all(steps[1:] > steps[:-1]):
        # stable sort, then keep the last occurrence of each step
        order = np.argsort(steps, kind="stable")
        s = steps[order]
        keep = np.ones(len(s), bool)
        keep[:-1] = s[1:] != s[:-1]
        order = order[keep]
        steps, values = steps[order], values[order]
        times = None if times is None else times[order]
    return Series(steps, values, times)
