"""TensorBoard's smoothing and display downsampling with min/max envelopes."""
from __future__ import annotations

import math

import numpy as np


def smooth(values, weight: float) -> np.ndarray:
    """TensorBoard's scalar smoothing: a debiased exponential moving average.

    As in TensorBoard's line chart: last = last * w + (1 - w) * x over finite points,
    shown as last / (1 - w ** n) where n counts the finite points so far (the debiasing that
    stops the curve starting near 0); non-finite points pass through unchanged; a constant
    series is left as it is.
    """
    x = np.asarray(values, dtype=np.float64)
    out = x.copy()
    if not 0.0 < weight < 1.0 or len(x) == 0:
        if weight >= 1.0:      # TensorBoard: w == 1 -> no debiasing, 'last' stays 0
            out[np.isfinite(x)] = 0.0
        return out
    finite = np.isfinite(x)
    if np.all(x[finite] == x[finite][0]) if finite.any() else True:
        return out
    xf = x[finite]
    ema = _ema(xf, weight)
    n = np.arange(1, len(xf) + 1, dtype=np.float64)
    out[finite] = ema / (1.0 - weight ** n)
    return out


def _ema(x: np.ndarray, w: float) -> np.ndarray:
    """y[i] = w * y[i-1] + (1 - w) * x[i], y[-1] = 0, vectorised in blocks: inside a block
    y[k] = w**k * (y0 + (1-w) * sum_j x[j] * w**-j); the block length keeps w**-j finite."""
    n = len(x)
    block = max(1, min(n, int(300 / -math.log10(w))))   # w**-block <= 1e300
    powers = w ** np.arange(1, block + 1, dtype=np.float64)      # w**1 .. w**block
    inv = w ** -np.arange(1, block + 1, dtype=np.float64)
    y = np.empty(n)
    carry = 0.0
    for start in range(0, n, block):
        xs = x[start:start + block]
        k = len(xs)
        acc = np.cumsum(xs * inv[:k]) * (1.0 - w)
        ys = powers[:k] * (carry + acc)
        y[start:start + k] = ys
        carry = ys[-1]
    return y


def downsample(steps, values, smoothed=None, buckets: int = 1500):
    """Reduce a long series for display: one point per bucket of consecutive samples, with the
    bucket's min and max kept so that spikes stay visible. Returns a dict of lists
    (x, y = last raw value, lo, hi, s = last smoothed value); lo/hi are None when not reduced."""
    steps = np.asarray(steps, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    n = len(steps)
    if n <= buckets:
        return {"x": steps, "y": values, "lo": None, "hi": None, "s": smoothed}
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    starts = np.unique(edges[:-1])
    ends = np.append(starts[1:], n) - 1
    with np.errstate(invalid="ignore"):
        lo = np.fmin.reduceat(values, starts)
        hi = np.fmax.reduceat(values, starts)
    return {"x": steps[ends], "y": values[ends], "lo": lo, "hi": hi,
            "s": None if smoothed is None else np.asarray(smoothed)[ends]}
