"""Exact, mergeable statistics of one layer's activations over many inputs.

A ``LayerStats`` is updated with one batch at a time and merged with another (from another
worker) without ever holding more than one batch: per channel (axis 1) it keeps the count,
mean and sum of squared deviations (M2, merged with Chan et al.'s parallel formula), min and
max; over the whole layer the number of exact zeros and a histogram on fixed bins.

The histogram's bins are the float32 values' own top 12 bits (sign, exponent and 3 mantissa
bits): 8 bins per power of two, the same on every worker and for every layer, so counts add
up exactly and need no first pass to find a range. Percentiles for calibration are read from
it (to within one bin, about 9% of the value).

All of a batch's statistics come from one compiled pass over it (``fused``, with numba),
or from numpy, a pass per statistic, where numba is not installed.
"""
from __future__ import annotations

import numpy as np

from . import fused
from .clamp import clamped_of, clamped_values
from .fused import SHIFT      # float32 bits dropped: 32 - 20 = 12 kept

N_BINS = 1 << (32 - SHIFT)    # 4096: 2048 for >= +0, 2048 for <= -0
PERCENTILES = (0.01, 0.1, 1.0, 50.0, 99.0, 99.9, 99.99)


def bin_index(a: np.ndarray) -> np.ndarray:
    """The histogram bin of every value (as float32)."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    return a.view(np.uint32) >> SHIFT


CHUNK = 1 << 18  # values per pass: the temporaries of a chunk stay in the CPU's cache


def bin_counts(a: np.ndarray) -> np.ndarray:
    """Histogram counts of every value of ``a``. Chunked, each chunk's bins shifted straight
    into a reused index buffer: np.bincount would otherwise first convert the whole array to
    intp (about 2x slower, measured)."""
    bits = np.ascontiguousarray(a, dtype=np.float32).reshape(-1).view(np.uint32)
    out = np.zeros(N_BINS, np.int64)
    buf = np.empty(min(CHUNK, bits.size), np.intp)
    for start in range(0, bits.size, CHUNK):
        part = bits[start:start + CHUNK]
        idx = buf[:part.size]
        np.right_shift(part, SHIFT, out=idx, casting="unsafe")
        out += np.bincount(idx, minlength=N_BINS)
    return out


def _bits_to_float(bits: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # NaN bit patterns, given infinite bounds below
        return np.asarray(bits, dtype=np.uint32).view(np.float32).astype(np.float64)


def bin_order() -> np.ndarray:
    """Bin indices from the most negative values to the most positive."""
    half = N_BINS // 2
    return np.concatenate([np.arange(N_BINS - 1, half - 1, -1), np.arange(half)])


def bin_bounds() -> tuple[np.ndarray, np.ndarray]:
    """(low, high) value of each bin index; a positive bin is [low, high), a negative one
    (low, high]. The bins of inf/NaN bit patterns get infinite bounds."""
    half = N_BINS // 2
    k = np.arange(half, dtype=np.uint64)
    mag_lo = _bits_to_float(k << SHIFT)
    mag_hi = _bits_to_float(np.minimum((k + 1) << SHIFT, 0x7F800000))
    special = k >= (0x7F800000 >> SHIFT)
    mag_lo[special], mag_hi[special] = np.inf, np.inf
    return (np.concatenate([mag_lo, -mag_hi]), np.concatenate([mag_hi, -mag_lo]))


def percentiles_from_histogram(hist: np.ndarray, qs=PERCENTILES, lo_clip=None, hi_clip=None
                               ) -> dict[str, float]:
    """Each q-th percentile, interpolated linearly inside the bin that holds it."""
    total = int(hist.sum())
    if not total:
        return {}
    order = bin_order()
    counts = hist[order]
    cum = np.cumsum(counts)
    lows, highs = bin_bounds()
    out = {}
    for q in qs:
        rank = q / 100.0 * total
        i = int(np.searchsorted(cum, max(rank, 1e-12), side="left"))
        i = min(i, len(order) - 1)
        b = order[i]
        before = cum[i] - counts[i]
        frac = (rank - before) / counts[i] if counts[i] else 0.0
        lo, hi = lows[b], highs[b]
        if lo_clip is not None:
            lo, hi = max(lo, lo_clip), max(min(hi, hi_clip), lo_clip)
        if b in (0, N_BINS // 2):  # zeros and denormals (below 1.2e-38): read as 0
            value = 0.0
        else:
            with np.errstate(invalid="ignore"):  # inf - inf: the bin of inf
                width = hi - lo
            value = lo + width * min(max(frac, 0.0), 1.0) if np.isfinite(width) else lo
        out[f"p{q:g}"] = float(value)
    return out


def _numpy_pass(a3: np.ndarray, shift: np.ndarray):
    """What fused.batch_stats computes, with numpy (a pass per statistic; used without
    numba)."""
    d = a3 - shift[None, :, None]
    s1 = d.sum(axis=(0, 2), dtype=np.float64)
    np.square(d, out=d)
    s2 = d.sum(axis=(0, 2), dtype=np.float64)
    hist = bin_counts(a3)
    # exact zeros lie in the two bins nearest 0; most layers have none there
    zeros = int(np.count_nonzero(a3 == 0)) if hist[0] or hist[N_BINS // 2] else 0
    # fmin/fmax: NaN left out, as the compiled pass does
    return np.fmin.reduce(a3, axis=(0, 2)), np.fmax.reduce(a3, axis=(0, 2)), s1, s2, zeros, hist


class LayerStats:
    """Statistics of one value over a dataset; ``update`` with [N, C, ...] batches. With
    ``clamp`` set to (another LayerStats, lo, hi), each update also accumulates Clip(value,
    lo, hi) there (a Relu: 0, inf), from the same pass (``clamp.py``): the plan does not
    fetch that value from onnxruntime."""

    def __init__(self, name: str, node: str = "", op: str = ""):
        self.name, self.node, self.op = name, node, op
        self.samples = 0          # inputs seen
        self.shape: tuple | None = None  # per-sample shape (the first one seen)
        self.per_channel = 0      # values per channel so far
        self.mean: np.ndarray | None = None   # per channel, float64
        self.m2: np.ndarray | None = None
        self.min: np.ndarray | None = None
        self.max: np.ndarray | None = None
        self.zeros = 0
        self.hist = np.zeros(N_BINS, np.int64)
        self.clamp: tuple | None = None  # (LayerStats, lo, hi) made from these batches

    # -- accumulating ---------------------------------------------------------------------
    def update(self, batch: np.ndarray) -> None:
        a = np.asarray(batch)
        clamp = self.clamp
        if clamp is not None and a.dtype != np.float32:  # clamped in the value's own type
            clamp[0].update(clamped_values(a, *clamp[1:]))
            clamp = None
        if a.dtype != np.float32:
            a = a.astype(np.float32)
        if a.ndim == 0:
            a = a.reshape(1)
        if a.shape[0] == 0:
            return
        if self.shape is None:
            self.shape = tuple(a.shape[1:])
        if clamp is not None and clamp[0].shape is None:
            clamp[0].shape = self.shape
        channels = a.shape[1] if a.ndim > 1 else 1
        per_channel = a[0].size // channels if channels else 0  # not -1: a dimension may be 0
        a3 = np.ascontiguousarray(a).reshape(a.shape[0], channels, per_channel)
        # the compiled pass takes the whole batch (below 2**31 values, its counters' range);
        # numpy's passes a few inputs at a time, so that their temporaries stay in cache
        per_input = max(1, a3[0].size)
        compiled = fused.available() and per_input < 2**31
        step = ((2**31 - 1) // per_input if compiled else CHUNK // per_input) or 1
        for start in range(0, a3.shape[0], step):
            self._update(a3[start:start + step], compiled, clamp)

    def _update(self, a3: np.ndarray, compiled: bool, clamp: tuple | None) -> None:
        channels = a3.shape[1]
        if self.mean is not None and channels != self.mean.shape[0]:
            from ..errors import ShapeError
            raise ShapeError(f"value '{self.name}' has {channels} channels on one input and "
                             f"{self.mean.shape[0]} on another")
        n = a3.shape[0] * a3.shape[2]
        first = a3[0, :, 0] if n else np.zeros(channels, np.float32)
        if clamp is not None and not (compiled and n):
            target, lo, hi = clamp
            target._update(clamped_values(a3, lo, hi), compiled, None)
            clamp = None
        shift = self._shift(first)
        if not n:
            self._fold(shift, a3.shape[0], 0, np.full(channels, np.inf),
                       np.full(channels, -np.inf), np.zeros(channels), np.zeros(channels), 0,
                       np.zeros(N_BINS, np.int64))
        elif compiled:
            if clamp is None:
                self._fold(shift, a3.shape[0], n, *fused.batch_stats(a3, shift))
            else:
                target, lo, hi = clamp
                clamp_shift = target._shift(clamped_values(first, lo, hi))
                got = fused.batch_stats(a3, shift, (lo, hi, clamp_shift))
                self._fold(shift, a3.shape[0], n, *got[:6])
                target._fold_from_input(a3, lo, hi, clamp_shift, got)
        else:
            self._fold(shift, a3.shape[0], n, *_numpy_pass(a3, shift.astype(np.float32)))

    def _fold_from_input(self, a3: np.ndarray, lo: float, hi: float, shift: np.ndarray,
                         got: tuple) -> None:
        """Merge in the statistics of Clip(a3, lo, hi), from a3's fused.batch_stats(...,
        (lo, hi, shift))."""
        if not np.isfinite(got[3]).all():  # NaN or inf: the values clamped, and their pass
            self._update(clamped_values(a3, lo, hi), True, None)
            return
        sums, squares, below, above = got[6]
        low, high, zeros, hist = clamped_of(got[0], got[1], got[4], got[5], below, above, lo,
                                            hi)
        self._fold(shift, a3.shape[0], a3.shape[0] * a3.shape[2], low, high, sums, squares,
                   zeros, hist)

    def _shift(self, first: np.ndarray) -> np.ndarray:
        """Per channel, float64: sums of deviations from a shift close to the mean (the
        running mean, or the batch's first values) keep the deviations accurate; the shift
        is a float32, so that it is exact in float64 and in the numpy passes' float32."""
        start = self.mean if self.mean is not None else first
        return start.astype(np.float32).astype(np.float64)

    def _fold(self, shift, samples, n, lo, hi, s1, s2, zeros, hist) -> None:
        """Merge in a batch's statistics: ``samples`` inputs, ``n`` values per channel."""
        part = LayerStats(self.name)
        part.samples, part.per_channel, part.shape = samples, n, self.shape
        with np.errstate(invalid="ignore"):  # inf among the values: NaN moments, no warning
            part.mean = shift + s1 / n if n else shift
            part.m2 = np.maximum(s2 - s1 * s1 / n, 0.0) if n else np.zeros_like(shift)
        part.min, part.max = lo.astype(np.float64), hi.astype(np.float64)
        part.zeros, part.hist = zeros, hist
        self.merge(part)

    def merge(self, other: "LayerStats") -> "LayerStats":
        """Add ``other`` (the same value over other inputs) into this one."""
        if other.mean is None:
            return self
        if self.mean is None:
            self.mean, self.m2 = other.mean.copy(), other.m2.copy()
            self.min, self.max = other.min.copy(), other.max.copy()
            self.per_channel, self.shape = other.per_channel, other.shape
        else:
            na, nb = self.per_channel, other.per_channel
            n = na + nb
            delta = other.mean - self.mean
            self.mean = self.mean + delta * (nb / n) if n else self.mean
            self.m2 = self.m2 + other.m2 + delta * delta * (na * nb / n) if n else self.m2
            self.min = np.fmin(self.min, other.min)
            self.max = np.fmax(self.max, other.max)
            self.per_channel = n
        self.samples += other.samples
        self.zeros += other.zeros
        self.hist += other.hist
        return self

    # -- pickling: what a Ray actor sends back per batch -----------------------------------
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        used = np.flatnonzero(self.hist)  # a layer's values fill a few hundred of the bins
        state["hist"] = (used.astype(np.uint16), self.hist[used])
        return state

    def __setstate__(self, state: dict) -> None:
        used, counts = state.pop("hist")
        self.__dict__.update(state)
        self.hist = np.zeros(N_BINS, np.int64)
        self.hist[used] = counts

    # -- reading --------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return 0 if self.mean is None else self.per_channel * self.mean.shape[0]

    def channel_std(self) -> np.ndarray:
        return np.sqrt(self.m2 / self.per_channel) if self.per_channel else np.zeros_like(self.m2)

    def totals(self) -> tuple[float, float]:
        """(mean, population variance) of every value, from the channels (Chan's merge)."""
        c = self.mean.shape[0]
        mean = float(self.mean.sum() / c)  # every channel holds the same number of values
        m2 = float(self.m2.sum() + self.per_channel * ((self.mean - mean) ** 2).sum())
        return mean, m2 / self.count

    def dead(self) -> np.ndarray:
        """Channels never positive on any input."""
        return self.max <= 0

    def to_dict(self, channels: bool = True, histogram: bool = True) -> dict:
        if self.mean is None or not self.count:  # never seen, or empty on every input
            return {"count": 0, "samples": self.samples}
        mean, var = self.totals()
        lo, hi = float(np.fmin.reduce(self.min)), float(np.fmax.reduce(self.max))
        dead = self.dead()
        doc = {"count": self.count, "samples": self.samples, "min": lo, "max": hi,
               "mean": mean, "std": float(np.sqrt(var)),
               "zero_fraction": self.zeros / self.count if self.count else 0.0,
               "dead_channels": int(dead.sum()), "dead_channel_fraction": float(dead.mean()),
               "percentiles": percentiles_from_histogram(self.hist, lo_clip=lo, hi_clip=hi)}
        if channels:
            doc["channels"] = {"mean": self.mean.tolist(), "std": self.channel_std().tolist(),
                               "min": self.min.tolist(), "max": self.max.tolist()}
        if histogram:
            lows, highs = bin_bounds()
            doc["histogram"] = [[float(lows[b]), float(highs[b]), int(self.hist[b])]
                                for b in bin_order() if self.hist[b]]
        return doc


class DatasetStats:
    """Every probed value's LayerStats, by value name, in graph order."""

    def __init__(self, layers: list[tuple[str, str, str]],
                 clamps: dict[str, tuple] | None = None):
        """``clamps``: {value: (its input, lo, hi)} for the Relu and Clip values made from
        their input's batches (they are not among the arrays ``update`` gets)."""
        self.layers = {name: LayerStats(name, node, op) for name, node, op in layers}
        for value, (source, lo, hi) in (clamps or {}).items():
            self.layers[source].clamp = (self.layers[value], lo, hi)
        self.inputs = 0

    def update(self, arrays: dict[str, np.ndarray], n_inputs: int) -> None:
        for name, st in self.layers.items():
            if name in arrays:
                st.update(arrays[name])
        self.inputs += n_inputs

    def merge(self, other: "DatasetStats") -> "DatasetStats":
        for name, st in other.layers.items():
            self.layers[name].merge(st)
        self.inputs += other.inputs
        return self

    def __getitem__(self, name: str) -> LayerStats:
        if name in self.layers:
            return self.layers[name]
        for st in self.layers.values():
            if st.node == name:
                return st
        raise KeyError(name)
