"""One pass over a batch of activations for all of a layer's statistics, compiled by numba.

numpy needs a pass per statistic (min, max, the deviations, their squares, the histogram's
bin shift, np.bincount's conversion to intp): about 8 ns per float32 value here, more than
onnxruntime spends computing the value. This loop reads each value once and updates every
statistic from it: about 2.3 ns per value on ResNet activations, most of it the histogram's
increments (docs/dataset.md, benchmarks/bench_dataset.py). It is unrolled by
four with four independent accumulators of each kind, so that no addition waits for the one
before it (the histogram's increments stay scalar: a scatter cannot be vectorised).

numba is optional (the ``[dataset]`` extra); without it ``available()`` is False and
``stats.LayerStats`` takes its numpy path, which gives the same counts and moments. The
compiled code is cached on disk by numba (``cache=True``): only the first run compiles.
"""
from __future__ import annotations

import numpy as np

_kernel = None
_missing = False


def available() -> bool:
    return _compiled() is not None


def _compiled():
    global _kernel, _missing
    if _kernel is None and not _missing:
        try:
            _kernel = _build()
        except ImportError:
            _missing = True
    return _kernel


def batch_stats(a3: np.ndarray, shift: np.ndarray, shift_bits: int):
    """Statistics of ``a3`` (float32, C-contiguous, [inputs, channels, values]) per channel:
    (min, max, sum of (x - shift), sum of (x - shift)^2, number of exact zeros, histogram
    of ``bits >> shift_bits``). ``shift``: per channel, float64, close to the mean. NaN
    values are counted in the histogram and left out of min and max (NaN where a channel
    has nothing else)."""
    kernel = _compiled()
    channels = a3.shape[1]
    lo = np.empty(channels, np.float32)
    hi = np.empty(channels, np.float32)
    s1 = np.empty(channels, np.float64)
    s2 = np.empty(channels, np.float64)
    hist = np.zeros(1 << (32 - shift_bits), np.int64)
    zeros = kernel(a3, a3.view(np.uint32), shift, shift_bits, lo, hi, s1, s2, hist)
    nothing = lo > hi  # every value NaN: NaN, as np.fmin gives
    lo[nothing], hi[nothing] = np.nan, np.nan
    return lo, hi, s1, s2, int(zeros), hist


def _build():
    from numba import njit
    try:
        return njit(nogil=True, cache=True, boundscheck=False)(_one_pass)
    except RuntimeError:  # no writable place for numba's cache: compile in every process
        return njit(nogil=True, boundscheck=False)(_one_pass)


def _one_pass(a3, bits3, shift, shift_bits, lo, hi, s1, s2, hist):
    # plain Python, compiled by _build; NaN compares false, so min and max skip it
    zeros = 0
    inf = np.float32(np.inf)
    for c in range(a3.shape[1]):
        sh = shift[c]
        lo0 = lo1 = lo2 = lo3 = inf
        hi0 = hi1 = hi2 = hi3 = -inf
        p0 = p1 = p2 = p3 = 0.0
        q0 = q1 = q2 = q3 = 0.0
        for i in range(a3.shape[0]):
            a, bits = a3[i, c], bits3[i, c]  # one contiguous run of one channel's values
            n = a.size
            m = n - n % 4
            for j in range(0, m, 4):
                v0, v1, v2, v3 = a[j], a[j + 1], a[j + 2], a[j + 3]
                lo0 = v0 if v0 < lo0 else lo0
                lo1 = v1 if v1 < lo1 else lo1
                lo2 = v2 if v2 < lo2 else lo2
                lo3 = v3 if v3 < lo3 else lo3
                hi0 = v0 if v0 > hi0 else hi0
                hi1 = v1 if v1 > hi1 else hi1
                hi2 = v2 if v2 > hi2 else hi2
                hi3 = v3 if v3 > hi3 else hi3
                d0, d1 = np.float64(v0) - sh, np.float64(v1) - sh
                d2, d3 = np.float64(v2) - sh, np.float64(v3) - sh
                p0 += d0
                p1 += d1
                p2 += d2
                p3 += d3
                q0 += d0 * d0
                q1 += d1 * d1
                q2 += d2 * d2
                q3 += d3 * d3
                zeros += (v0 == 0) + (v1 == 0) + (v2 == 0) + (v3 == 0)
                hist[bits[j] >> shift_bits] += 1
                hist[bits[j + 1] >> shift_bits] += 1
                hist[bits[j + 2] >> shift_bits] += 1
                hist[bits[j + 3] >> shift_bits] += 1
            for j in range(m, n):
                v = a[j]
                lo0 = v if v < lo0 else lo0
                hi0 = v if v > hi0 else hi0
                d = np.float64(v) - sh
                p0 += d
                q0 += d * d
                zeros += v == 0
                hist[bits[j] >> shift_bits] += 1
        lo[c] = min(min(lo0, lo1), min(lo2, lo3))
        hi[c] = max(max(hi0, hi1), max(hi2, hi3))
        s1[c] = (p0 + p1) + (p2 + p3)
        s2[c] = (q0 + q1) + (q2 + q3)
    return zeros
