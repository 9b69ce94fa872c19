"""One pass over a batch of activations for all of a layer's statistics, compiled by numba.

numpy needs a pass per statistic (min, max, the deviations, their squares, the histogram's
bin shift, np.bincount's conversion to intp): about 8 ns per float32 value here, more than
onnxruntime spends computing the value. Here each contiguous run of one channel's values
(one input's) is read from memory once and stays in cache for two loops over it:

1. **sums, zeros, min and max**, a loop that LLVM vectorises: the sums of deviations and of
   their squares in float64 (``fastmath`` lets it reorder the additions; no other fast-math
   flag, so NaN and infinities keep IEEE semantics), the exact zeros counted in float32, and
   min and max taken on the values' bits as integers. LLVM does not vectorise a float min or
   max, but integer ones it does, and the bits order the values that are not NaN: the
   non-negative ones as signed integers, the negative ones in reverse as unsigned (see the
   end of ``_one_pass``). A run without NaN or inf is one whose sum of squares is finite;
   a run that is not takes a scalar loop over its bits that leaves NaN out.
2. **the histogram**: the values are read two at a time as one 64-bit word, and each word's
   two bins go to eight interleaved sub-histograms (bin * 8 + slot), summed at the end. On
   this machine a scattered increment costs about 5 ns when its index comes from a load just
   before it, and consecutive values of a channel often share a bin; words halve the loads
   the increments wait on, and the slots keep neighbours off the same counter (measured:
   0.6 ns per value, against 3.3 ns one value at a time).

About 1.3 ns per value on ResNet activations, against 2.2 ns for one fused scalar loop
(docs/dataset.md, benchmarks/bench_dataset.py). The words assume a little-endian machine;
elsewhere, or without numba (the ``[dataset]`` extra), ``available()`` is False and
``stats.LayerStats`` takes its numpy path, which gives the same counts and moments. The
compiled code is cached on disk by numba (``cache=True``): only the first run compiles.
"""
from __future__ import annotations

import math
import sys
import threading

import numpy as np

SHIFT = 20        # float32 bits dropped: a histogram bin is the top 12 (stats.py)
BINS = 1 << (32 - SHIFT)
SLOTS = 8         # interleaved sub-histograms (the histogram loop is written for eight)
BLOCK = 1 << 23   # values per call of the sums: a float32 count of zeros is exact below 2**24

# (word >> _LOW) & _MASK: the bin of a 64-bit word's low value, times SLOTS; >> _HIGH: its
# high value's. Constants, so that numba compiles them into the shifts (about 20% faster
# than arguments, measured)
_LOW, _HIGH = SHIFT - 3, 32 + SHIFT - 3
_MASK = (BINS - 1) << 3

_I32_MIN, _I32_MAX, _U32_MAX = -(1 << 31), (1 << 31) - 1, (1 << 32) - 1

_kernel = None
_missing = sys.byteorder != "little"
_scratch = threading.local()  # each thread's sub-histograms, left zeroed by every pass
_sums_range_zeros = _range_skipping_nan = _bins = None  # compiled by _build


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


def batch_stats(a3: np.ndarray, shift: np.ndarray, clamp: tuple | None = None):
    """Statistics of ``a3`` (float32, C-contiguous, [inputs, channels, values]; fewer than
    2**31 values) per channel: (min, max, sum of (x - shift), sum of (x - shift)^2, number
    of exact zeros, histogram of ``bits >> SHIFT``). ``shift``: per channel, float64, close
    to the mean. NaN values are counted in the histogram and left out of min and max (NaN
    where a channel has nothing else).

    With ``clamp`` = (lo, hi, clamp_shift) (float32 bounds; per channel, float64, close to
    the clamped values' mean), a seventh item: the sums of clip(x, lo, hi) - clamp_shift and
    of their squares per channel, and the numbers of values < lo and > hi, from which
    ``clamp.clamped_of`` makes the statistics of Clip(x) (Relu: lo 0, hi inf) without a pass
    over it (valid where the sums of squares are finite: no NaN nor inf)."""
    kernel = _compiled()
    channels = a3.shape[1]
    bounds = np.empty((2, channels), np.uint32)  # the bits of min and max
    sums = np.empty((2, channels), np.float64)
    lo, hi, clamp_shift = clamp if clamp is not None else (0, 0, np.empty(0, np.float64))
    clamp_sums = np.empty((2, clamp_shift.size), np.float64)
    hist = np.empty(BINS, np.int64)
    slots = getattr(_scratch, "slots", None)
    if slots is None:
        slots = _scratch.slots = np.zeros(BINS * SLOTS, np.int32)
    unsigned = a3.view(np.uint32)
    bits = unsigned.reshape(-1)
    words = bits[:bits.size - bits.size % 2].view(np.uint64)
    kind = 0 if clamp is None else 1 if lo == 0 and hi == math.inf else 2
    zeros, below, above = kernel(a3, a3.view(np.int32), unsigned, words, shift, bounds, sums,
                                 slots, hist, kind, np.float32(lo), np.float32(hi),
                                 clamp_shift, clamp_sums)
    low, high = bounds.view(np.float32)
    out = low, high, sums[0], sums[1], int(zeros), hist
    if clamp is None:
        return out
    return out + ((clamp_sums[0], clamp_sums[1], int(below), int(above)),)


def _build():
    from numba import njit

    def jit(fn, **flags):
        try:
            return njit(nogil=True, cache=True, boundscheck=False, **flags)(fn)
        except RuntimeError:  # no writable place for numba's cache: compile in every process
            return njit(nogil=True, boundscheck=False, **flags)(fn)

    global _sums_range_zeros, _range_skipping_nan, _bins
    reorder = {"reassoc", "contract"}  # the additions in any order; IEEE NaN and inf kept
    _sums_range_zeros = jit(_sums_range_zeros_py, fastmath=reorder, inline="always")
    _range_skipping_nan = jit(_range_skipping_nan_py, inline="always")
    _bins = jit(_bins_py, inline="always")
    return jit(_one_pass, fastmath=reorder)


# The functions below are plain Python, compiled by _build.

def _sums_range_zeros_py(a, signed, unsigned, sh, clamp, lo, hi, clamp_sh):
    # of at most BLOCK values: (sum of a - sh, sum of squares, exact zeros, signed max and
    # min of the bits, unsigned max and min); the bit extremes hold where the run is finite.
    # With ``clamp`` 1 (Relu: lo 0, hi inf) or 2 (any lo, hi), a constant at each call site
    # so that the loop is compiled once for each, also the sums of clip(a, lo, hi) - clamp_sh
    # and of their squares, and the numbers of values < lo and > hi (measured, in cache:
    # Relu 0.6 ns per value more, Clip 1.2, against 1.3 for a pass over the clamped values)
    p = cp = 0.0
    q = cq = 0.0
    z = np.float32(0)  # a float count vectorises with the sums
    below = above = np.float32(0)
    lo64, hi64 = np.float64(lo), np.float64(hi)
    smax, smin = np.int32(_I32_MIN), np.int32(_I32_MAX)
    umax, umin = np.uint32(0), np.uint32(_U32_MAX)
    for j in range(a.size):
        v, b, u = a[j], signed[j], unsigned[j]
        w = np.float64(v)
        d = w - sh
        p += d
        q += d * d
        z += np.float32(1) if v == 0 else np.float32(0)
        # v < lo gives lo, v > hi gives hi (-0 is 0, and runs with NaN are not used)
        if clamp == 1:
            r = w - clamp_sh if v > 0 else -clamp_sh
            cp += r
            cq += r * r
            below += np.float32(1) if v < 0 else np.float32(0)
        elif clamp == 2:
            c = w if w > lo64 else lo64
            r = (c if c < hi64 else hi64) - clamp_sh
            cp += r
            cq += r * r
            below += np.float32(1) if v < lo else np.float32(0)
            above += np.float32(1) if v > hi else np.float32(0)
        smax = b if b > smax else smax
        smin = b if b < smin else smin
        umax = u if u > umax else umax
        umin = u if u < umin else umin
    return (p, q, np.int64(z), smax, smin, umax, umin, cp, cq, np.int64(below),
            np.int64(above))


def _range_skipping_nan_py(unsigned, smax, smin, umax, umin):
    # the bit extremes (as _sums_range_zeros) of the values that are not NaN: the bits of
    # +-inf order as the values do
    for j in range(unsigned.size):
        u = unsigned[j]
        if u & 0x7FFFFFFF <= 0x7F800000:
            b = np.int64(u) - (1 << 32) if u >= 0x80000000 else np.int64(u)
            smax, smin = max(smax, b), min(smin, b)
            umax, umin = max(umax, np.int64(u)), min(umin, np.int64(u))
    return smax, smin, umax, umin


def _bins_py(words, slots):
    # each word's two values into their bins' slots
    n = words.size
    m = n - n % 4
    for k in range(0, m, 4):
        w, x, y, z = words[k], words[k + 1], words[k + 2], words[k + 3]
        slots[(w >> _LOW) & _MASK] += 1
        slots[((w >> _HIGH) & _MASK) | 1] += 1
        slots[((x >> _LOW) & _MASK) | 2] += 1
        slots[((x >> _HIGH) & _MASK) | 3] += 1
        slots[((y >> _LOW) & _MASK) | 4] += 1
        slots[((y >> _HIGH) & _MASK) | 5] += 1
        slots[((z >> _LOW) & _MASK) | 6] += 1
        slots[((z >> _HIGH) & _MASK) | 7] += 1
    for k in range(m, n):
        w = words[k]
        slots[(w >> _LOW) & _MASK] += 1
        slots[((w >> _HIGH) & _MASK) | 1] += 1


def _one_pass(a3, signed3, unsigned3, words, shift, bounds, sums, slots, hist, clamp, lo, hi,
              clamp_shift, clamp_sums):
    zeros = below = above = 0
    channels, size = a3.shape[1], a3.shape[2]
    for c in range(channels):
        sh = shift[c]
        p, q = 0.0, 0.0
        cp, cq = 0.0, 0.0
        smax, smin = _I32_MIN, _I32_MAX
        umax, umin = 0, _U32_MAX
        for i in range(a3.shape[0]):
            a = a3[i, c]  # one contiguous run of one channel's values
            for b in range(0, size, BLOCK):
                e = min(b + BLOCK, size)
                run, signed, unsigned = a[b:e], signed3[i, c, b:e], unsigned3[i, c, b:e]
                if clamp == 1:
                    got = _sums_range_zeros(run, signed, unsigned, sh, 1, lo, hi, clamp_shift[c])
                elif clamp == 2:
                    got = _sums_range_zeros(run, signed, unsigned, sh, 2, lo, hi, clamp_shift[c])
                else:
                    got = _sums_range_zeros(run, signed, unsigned, sh, 0, lo, hi, 0.0)
                dp, dq, z, bmax, bmin, cmax, cmin, dcp, dcq, db, da = got
                cp += dcp
                cq += dcq
                below += db
                above += da
                p += dp
                q += dq
                zeros += z
                if math.isfinite(dq):  # no NaN (nor inf) among them
                    smax, smin = max(smax, np.int64(bmax)), min(smin, np.int64(bmin))
                    umax, umin = max(umax, np.int64(cmax)), min(umin, np.int64(cmin))
                else:
                    smax, smin, umax, umin = _range_skipping_nan(
                        unsigned3[i, c, b:e], smax, smin, umax, umin)
            # the run's histogram while it is in cache: whole words, and a value at either
            # end that shares its word with the next or the previous run
            start, end = (i * channels + c) * size, (i * channels + c + 1) * size
            if start % 2:
                slots[(np.uint64(unsigned3[i, c, 0]) >> _LOW) & _MASK] += 1
                start += 1
            if end % 2 and end > start:
                slots[(np.uint64(unsigned3[i, c, size - 1]) >> _LOW) & _MASK] += 1
                end -= 1
            _bins(words[start // 2:end // 2], slots)
        # the largest value: the largest non-negative one (signed max, if >= 0), else the
        # negative one of least magnitude (unsigned min); the smallest: the negative one of
        # most magnitude (unsigned max, if its sign bit is set), else the least non-negative
        # one (signed min); a quiet NaN where every value is NaN
        if smin > smax:
            bounds[0, c] = bounds[1, c] = 0x7FC00000
        else:
            bounds[0, c] = umax if umax >= 1 << 31 else smin
            bounds[1, c] = smax if smax >= 0 else umin
        sums[0, c], sums[1, c] = p, q
        if clamp:
            clamp_sums[0, c], clamp_sums[1, c] = cp, cq
    for b in range(hist.size):  # the slots summed, and left zeroed for the next pass
        total = 0
        for k in range(SLOTS):
            total += slots[b * SLOTS + k]
            slots[b * SLOTS + k] = 0
        hist[b] = total
    return zeros, below, above
