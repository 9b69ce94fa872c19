"""One pass over a batch of activations for all of a layer's statistics, compiled by numba.

numpy needs a pass per statistic (min, max, the deviations, their squares, the histogram's
bin shift, np.bincount's conversion to intp): about 8 ns per float32 value here, more than
onnxruntime spends computing the value. Here each contiguous run of one channel's values
(one input's) is read from memory once and stays in cache for two loops over it:

1. the sums of deviations and of their squares in float64, and the exact zeros: a loop that
   LLVM vectorises (``fastmath`` lets it reorder the additions; no other fast-math flag, so
   NaN and infinities keep IEEE semantics);
2. the histogram and min/max: the values are read two at a time as one 64-bit word, and each
   word's two bins go to four interleaved sub-histograms (bin * 4 + slot), summed at the end.
   On this machine a scattered increment costs about 5 ns when its index comes from a load
   just before it, and consecutive values of a channel often share a bin; words halve the
   loads the increments wait on and the slots keep neighbours from hitting the same counter
   (measured: 0.6 ns per value for the histogram, against 3.3 ns one value at a time).

About 1.6 ns per value on ResNet activations, against 2.2 ns for one fused scalar loop
(docs/dataset.md, benchmarks/bench_dataset.py). The words assume a little-endian machine;
elsewhere, or without numba (the ``[dataset]`` extra), ``available()`` is False and
``stats.LayerStats`` takes its numpy path, which gives the same counts and moments. The
compiled code is cached on disk by numba (``cache=True``): only the first run compiles.
"""
from __future__ import annotations

import sys

import numpy as np

SHIFT = 20        # float32 bits dropped: a histogram bin is the top 12 (stats.py)
SLOTS = 4         # interleaved sub-histograms (the loops below are written for four)
BLOCK = 1 << 23   # values per call of the sums: a float32 count of zeros is exact below 2**24

# word >> _LOW (or >> _HIGH) & _MASK: the bin of a 64-bit word's low (high) value, times SLOTS;
# constants, so that numba compiles them into the shifts (about 20% faster than arguments)
_LOW, _HIGH = SHIFT - 2, 32 + SHIFT - 2
_MASK = ((1 << (32 - SHIFT)) - 1) << 2

_kernel = None
_missing = sys.byteorder != "little"
_sums_and_zeros = _bins_and_range = None  # compiled by _build, called by the pass


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


def batch_stats(a3: np.ndarray, shift: np.ndarray):
    """Statistics of ``a3`` (float32, C-contiguous, [inputs, channels, values]) per channel:
    (min, max, sum of (x - shift), sum of (x - shift)^2, number of exact zeros, histogram
    of ``bits >> SHIFT``). ``shift``: per channel, float64, close to the mean. NaN
    values are counted in the histogram and left out of min and max (NaN where a channel
    has nothing else)."""
    kernel = _compiled()
    channels = a3.shape[1]
    lo = np.empty(channels, np.float32)
    hi = np.empty(channels, np.float32)
    s1 = np.empty(channels, np.float64)
    s2 = np.empty(channels, np.float64)
    bins = 1 << (32 - SHIFT)
    slots = np.zeros(bins * SLOTS, np.int64)
    bits = a3.reshape(-1).view(np.uint32)
    words = bits[:bits.size - bits.size % 2].view(np.uint64)
    hist = np.empty(bins, np.int64)
    zeros = kernel(a3, bits, words, shift, lo, hi, s1, s2, slots, hist)
    nothing = lo > hi  # every value NaN: NaN, as np.fmin gives
    lo[nothing], hi[nothing] = np.nan, np.nan
    return lo, hi, s1, s2, int(zeros), hist


def _build():
    from numba import njit

    def jit(fn, **flags):
        try:
            return njit(nogil=True, cache=True, boundscheck=False, **flags)(fn)
        except RuntimeError:  # no writable place for numba's cache: compile in every process
            return njit(nogil=True, boundscheck=False, **flags)(fn)

    global _sums_and_zeros, _bins_and_range
    reorder = {"reassoc", "contract"}  # the additions in any order; IEEE NaN and inf kept
    _sums_and_zeros = jit(_sums_and_zeros_py, fastmath=reorder, inline="always")
    _bins_and_range = jit(_bins_and_range_py, fastmath=reorder, inline="always")
    return jit(_one_pass, fastmath=reorder)


def _sums_and_zeros_py(a, sh):
    # plain Python, compiled by _build: (sum of a - sh, sum of squares, exact zeros) of at
    # most BLOCK values
    p = 0.0
    q = 0.0
    z = np.float32(0)  # a float count vectorises with the sums
    for j in range(a.size):
        v = a[j]
        d = np.float64(v) - sh
        p += d
        q += d * d
        z += np.float32(1) if v == 0 else np.float32(0)
    return p, q, np.int64(z)


def _bins_and_range_py(a, words, first, n, slots, lo, hi):
    # plain Python, compiled by _build: words first..first+n-1 hold a's values (2 each);
    # their bins into ``slots``; returns (min, max) of a's values with lo, hi; NaN compares
    # false, so min and max skip it
    lo0 = lo1 = lo2 = lo3 = lo
    hi0 = hi1 = hi2 = hi3 = hi
    m = n - n % 2
    for k in range(0, m, 2):
        w, x = words[first + k], words[first + k + 1]
        slots[(w >> _LOW) & _MASK] += 1  # slot 0
        slots[((w >> _HIGH) & _MASK) | 1] += 1
        slots[((x >> _LOW) & _MASK) | 2] += 1
        slots[((x >> _HIGH) & _MASK) | 3] += 1
        j = 2 * k
        v0, v1, v2, v3 = a[j], a[j + 1], a[j + 2], a[j + 3]
        lo0 = v0 if v0 < lo0 else lo0
        lo1 = v1 if v1 < lo1 else lo1
        lo2 = v2 if v2 < lo2 else lo2
        lo3 = v3 if v3 < lo3 else lo3
        hi0 = v0 if v0 > hi0 else hi0
        hi1 = v1 if v1 > hi1 else hi1
        hi2 = v2 if v2 > hi2 else hi2
        hi3 = v3 if v3 > hi3 else hi3
    for k in range(m, n):
        w = words[first + k]
        slots[(w >> _LOW) & _MASK] += 1
        slots[((w >> _HIGH) & _MASK) | 1] += 1
        v0, v1 = a[2 * k], a[2 * k + 1]
        lo0 = v0 if v0 < lo0 else lo0
        lo1 = v1 if v1 < lo1 else lo1
        hi0 = v0 if v0 > hi0 else hi0
        hi1 = v1 if v1 > hi1 else hi1
    lo0 = lo1 if lo1 < lo0 else lo0
    lo2 = lo3 if lo3 < lo2 else lo2
    hi0 = hi1 if hi1 > hi0 else hi0
    hi2 = hi3 if hi3 > hi2 else hi2
    return (lo2 if lo2 < lo0 else lo0), (hi2 if hi2 > hi0 else hi0)


def _one_pass(a3, bits, words, shift, lo, hi, s1, s2, slots, hist):
    # plain Python, compiled by _build
    zeros = 0
    inf = np.float32(np.inf)
    channels, size = a3.shape[1], a3.shape[2]
    for c in range(channels):
        sh = shift[c]
        cl, ch, p, q = inf, -inf, 0.0, 0.0
        for i in range(a3.shape[0]):
            a = a3[i, c]  # one contiguous run of one channel's values
            for b in range(0, a.size, BLOCK):
                dp, dq, z = _sums_and_zeros(a[b:b + BLOCK], sh)
                p += dp
                q += dq
                zeros += z
            start, end = (i * channels + c) * size, (i * channels + c + 1) * size
            if start % 2:  # a run that starts inside a word: its first value alone
                v = a[0]
                cl, ch = (v if v < cl else cl), (v if v > ch else ch)
                slots[(bits[start] >> _LOW) & _MASK] += 1
                a = a[1:]
                start += 1
            if (end - start) % 2:  # and its last value alone
                v = a[a.size - 1]
                cl, ch = (v if v < cl else cl), (v if v > ch else ch)
                slots[(bits[end - 1] >> _LOW) & _MASK] += 1
                end -= 1
            cl, ch = _bins_and_range(a, words, start // 2, (end - start) // 2, slots, cl, ch)
        lo[c], hi[c], s1[c], s2[c] = cl, ch, p, q
    for b in range(hist.size):
        hist[b] = (slots[4 * b] + slots[4 * b + 1]) + (slots[4 * b + 2] + slots[4 * b + 3])
    return zeros
