"""Mergeable statistics equal a one-shot numpy computation over the stacked batches."""
import math

import numpy as np
import pytest

from graphscope.dataset import fused
from graphscope.dataset.stats import (N_BINS, LayerStats, bin_bounds, bin_counts, bin_order,
                                      percentiles_from_histogram)


def batches(seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for n in (3, 1, 7, 5, 2, 11):  # uneven batches
        a = rng.standard_normal((n, 6, 5, 4)).astype(np.float32) * rng.uniform(0.1, 5)
        a += np.arange(6, dtype=np.float32)[None, :, None, None] * 3 - 4  # per-channel offsets
        a[:, 2] = np.maximum(a[:, 2], 0)  # a ReLU-like channel with exact zeros
        a[:, 5] = -np.abs(a[:, 5])        # a channel never positive
        out.append(a)
    return out


def check_against_numpy(st: LayerStats, stacked: np.ndarray):
    x = stacked.astype(np.float64)
    d = st.to_dict()
    assert d["count"] == x.size and d["samples"] == x.shape[0]
    assert d["min"] == x.min() and d["max"] == x.max()
    assert d["mean"] == pytest.approx(x.mean(), rel=1e-6)
    assert d["std"] == pytest.approx(x.std(), rel=1e-6)
    assert d["zero_fraction"] == np.count_nonzero(x == 0) / x.size
    np.testing.assert_allclose(d["channels"]["mean"], x.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(d["channels"]["std"], x.std(axis=(0, 2, 3)), rtol=1e-6)
    assert d["channels"]["max"] == x.max(axis=(0, 2, 3)).tolist()
    assert d["dead_channels"] == int((x.max(axis=(0, 2, 3)) <= 0).sum())
    assert np.array_equal(st.hist, bin_counts(stacked))


@pytest.fixture(params=["fused", "numpy"])
def stats_path(request, monkeypatch):
    """Each test runs on the compiled one-pass kernel and on the numpy passes."""
    if request.param == "fused" and not fused.available():
        pytest.skip("numba is not installed")
    if request.param == "numpy":
        monkeypatch.setattr(fused, "available", lambda: False)
    return request.param


def test_update_and_merge_equal_one_shot_numpy(stats_path):
    parts = batches()
    stacked = np.concatenate(parts)
    whole = LayerStats("v")
    for a in parts:
        whole.update(a)
    check_against_numpy(whole, stacked)
    left, right = LayerStats("v"), LayerStats("v")  # two workers, merged
    for a in parts[:2]:
        left.update(a)
    for a in parts[2:]:
        right.update(a)
    check_against_numpy(left.merge(right), stacked)
    assert whole.to_dict()["dead_channels"] == 1


def test_histogram_bins_agree_with_numpy_histogram():
    x = np.concatenate([a.ravel() for a in batches(1)])
    counts = bin_counts(x)
    lows, highs = bin_bounds()
    order = [b for b in bin_order() if counts[b]]
    # numpy's histogram over the positive bins' edges counts the same values in each
    occupied = [b for b in order if b < N_BINS // 2 and lows[b] > 0]
    pos = list(range(occupied[0], occupied[-1] + 1))  # every bin between, empty ones too
    edges = np.array([lows[b] for b in pos] + [highs[pos[-1]]])
    ref, _ = np.histogram(x[(x >= edges[0]) & (x < edges[-1])].astype(np.float64), bins=edges)
    assert ref.tolist() == [int(counts[b]) for b in pos]
    assert counts.sum() == x.size


@pytest.mark.parametrize("q", [0.1, 1.0, 50.0, 99.0, 99.9])
def test_percentiles_fall_in_the_bin_of_the_exact_percentile(q):
    x = np.concatenate([a.ravel() for a in batches(2)])
    got = percentiles_from_histogram(bin_counts(x), (q,))[f"p{q:g}"]
    exact = float(np.percentile(x.astype(np.float64), q))
    lows, highs = bin_bounds()
    b = int(np.asarray(exact, np.float32).view(np.uint32) >> 20)
    lo, hi = sorted((lows[b], highs[b]))
    width = hi - lo
    assert lo - width <= got <= hi + width  # within one bin (about 9%) of numpy's


@pytest.mark.parametrize("shape", [(4, 3, 1001), (5, 7, 1), (3, 5, 3), (2, 4, 64)])
def test_fused_kernel_and_numpy_passes_agree(shape):
    """Odd run lengths: runs that start and end inside a 64-bit word of two values."""
    if not fused.available():
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(3)
    a = rng.standard_normal(shape).astype(np.float32) * 7 + 2
    a[:, 1] = np.maximum(a[:, 1], 0)
    shift = a[0, :, 0].astype(np.float64)
    got = fused.batch_stats(a, shift)
    d = a.astype(np.float64) - shift[None, :, None]
    assert got[0].tolist() == a.min(axis=(0, 2)).tolist()
    assert got[1].tolist() == a.max(axis=(0, 2)).tolist()
    np.testing.assert_allclose(got[2], d.sum(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(got[3], (d * d).sum(axis=(0, 2)), rtol=1e-12)
    assert got[4] == np.count_nonzero(a == 0) > 0
    assert np.array_equal(got[5], bin_counts(a))


@pytest.mark.parametrize("width", [6, 5])
def test_fused_min_and_max_on_the_bits_of_special_values(width):
    """min and max are taken on the values' bits: every sign, infinities, NaN, signed zeros
    and denormals read as numpy's NaN-skipping fmin and fmax."""
    if not fused.available():
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 9, width)).astype(np.float32)
    a[:, 0] = -np.abs(a[:, 0]) - 1        # every value negative
    a[:, 1] = np.abs(a[:, 1]) + 1         # every value positive
    a[1, 2, 1] = np.inf                   # +inf beside finite values
    a[2, 3, 0] = -np.inf
    a[0, 4, 2], a[2, 4, 1] = np.nan, np.inf  # NaN and inf in one channel
    a[:, 5] = 0.0
    a[1, 5, 0] = -0.0                     # signed zeros only
    a[:, 6] = np.float32(1e-45) * np.arange(1, width + 1)  # denormals
    a[0, 6, 0] = -np.float32(1e-45)
    a[:, 7] = np.nan                      # nothing but NaN
    a[0, 8, :] = -np.nan                  # NaN with the sign bit set, and a finite value
    a[1, 8, 0] = -2.5
    got = fused.batch_stats(a, np.zeros(9))
    with np.errstate(invalid="ignore"):
        want_lo, want_hi = np.fmin.reduce(a, axis=(0, 2)), np.fmax.reduce(a, axis=(0, 2))
    np.testing.assert_array_equal(got[0], want_lo)  # NaN where numpy's is NaN; -0.0 == 0.0
    np.testing.assert_array_equal(got[1], want_hi)
    assert np.array_equal(got[5], bin_counts(a))


def test_pickled_stats_keep_every_histogram_count():
    import pickle
    st = LayerStats("v")
    for a in batches(4):
        st.update(a)
    back = pickle.loads(pickle.dumps(st))
    assert np.array_equal(back.hist, st.hist) and back.hist.dtype == np.int64
    assert back.to_dict() == st.to_dict()
    assert len(pickle.dumps(st)) < st.hist.nbytes  # only the bins in use travel


@pytest.mark.parametrize("width", [8, 7])
def test_nan_values_are_binned_and_left_out_of_min_and_max(stats_path, width):
    a = np.arange(2 * 3 * width, dtype=np.float32).reshape(2, 3, width) - 10
    a[0, 0, 3] = a[1, 0, width - 1] = a[1, 0, 0] = np.nan  # a channel with a few NaN
    a[:, 2, :] = np.nan               # a channel with nothing else
    st = LayerStats("v")
    st.update(a)
    finite = np.where(np.isnan(a), np.inf, a).min(axis=(0, 2))
    assert st.min[0] == finite[0] and st.min[1] == finite[1] and np.isnan(st.min[2])
    assert st.max[0] == np.where(np.isnan(a), -np.inf, a)[:, 0].max()
    assert st.to_dict(channels=False)["min"] == float(np.nanmin(a))
    assert st.hist.sum() == a.size  # NaN counted, in the bins of NaN bit patterns
    assert np.array_equal(st.hist, bin_counts(a))


@pytest.mark.parametrize("shape", [(3, 0), (3, 4, 0), (3, 0, 5)])
def test_values_with_an_empty_dimension_count_inputs_and_no_values(stats_path, shape):
    """A value empty on every input (a reduction over an empty set, a slice to nothing):
    its inputs are counted and it holds no values (its shape was refused by a reshape)."""
    st = LayerStats("v")
    st.update(np.zeros(shape, np.float32))
    st.update(np.zeros(shape, np.float32))
    d = st.to_dict()
    assert d == {"count": 0, "samples": 6}
    assert st.hist.sum() == 0 and st.zeros == 0


CLAMPS = [("Relu", 0.0, math.inf), ("Clip", 0.0, 6.0), ("Clip", -1.5, 2.5)]


def onnxruntime_clamp(a: np.ndarray, op: str, lo: float, hi: float) -> np.ndarray:
    """Relu or Clip as onnxruntime computes it: a one-node model run on ``a``."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    shape = ["N", *a.shape[1:]]
    bounds = [numpy_helper.from_array(np.array(b, np.float32), n)
              for n, b in (("lo", lo), ("hi", hi))] if op == "Clip" else []
    graph = helper.make_graph(
        [helper.make_node(op, ["x"] + [b.name for b in bounds], ["y"])], "clamp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], bounds)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": a})[0]


def clamp_batches(kind: str):
    out = []
    for i, a in enumerate(batches(3)):
        a = a.copy()
        a[:, 0] -= 1000  # far below zero: a dead channel, its mean far from the input's
        a[0, 1, 0, :3] = [0.0, -0.0, -0.0]  # signed zeros: kept as they are within bounds
        a[-1, 3, 1, :3] = [1e-45, -1e-45, -3e-39]  # denormals of both signs
        a[0, 4, 3, :4] = [6.0, 2.5, -1.5, 6.25]  # at the bounds, and in the bin above one
        if kind == "non-finite" and i in (1, 3):
            a[0, 4, 2, 1], a[-1, 2, 0, 0], a[0, 1, 1, 1] = np.nan, -np.inf, -np.nan
        out.append(a)
    return out


@pytest.mark.parametrize("op,lo,hi", CLAMPS)
@pytest.mark.parametrize("kind", ["finite", "non-finite"])
def test_clamp_statistics_made_from_its_input_equal_its_own(stats_path, kind, op, lo, hi):
    """A value's Relu or Clip statistics, made in the value's own pass (clamp.py), equal
    those of onnxruntime's own output: counts, zeros, min, max and histogram exactly,
    moments to 1e-9. Batches with NaN or inf take the clamped values' own pass instead."""
    x, derived, own = LayerStats("x"), LayerStats("r"), LayerStats("r")
    x.clamp = (derived, lo, hi)
    plain = LayerStats("x")
    for a in clamp_batches(kind):
        x.update(a)
        plain.update(a)
        own.update(onnxruntime_clamp(a, op, lo, hi))
    np.testing.assert_equal(x.to_dict(), plain.to_dict())  # the input's own: unchanged
    assert derived.samples == own.samples and derived.shape == own.shape == (6, 5, 4)
    assert derived.per_channel == own.per_channel and derived.zeros == own.zeros > 0
    assert np.array_equal(derived.hist, own.hist)
    np.testing.assert_array_equal(derived.min, own.min)
    np.testing.assert_array_equal(derived.max, own.max)
    np.testing.assert_allclose(derived.mean, own.mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(derived.m2, own.m2, rtol=1e-9, atol=1e-9)
    a, b = derived.to_dict(), own.to_dict()
    assert a["dead_channels"] == b["dead_channels"] == 2  # channels 0 and 5
    np.testing.assert_equal(a["percentiles"], b["percentiles"])
    np.testing.assert_equal(a["histogram"], b["histogram"])
    # each batch's two -0 stay -0; its -1e-45 too where it is within the bounds
    assert own.hist[N_BINS // 2] == 2 * 6 + (6 if lo < 0 else 0)
    assert own.max.max() == min(hi, plain.max.max())


def test_clamp_of_another_dtype_is_taken_in_that_dtype():
    """A float64 value's Relu is made in float64 (as the runtime does), then counted as
    float32: -1e-50 gives +0 there, where its float32 cast (-0) would stay -0."""
    a = np.array([[[-1e-50, 2.0, -3.0, 0.5]]])
    x, derived, own = LayerStats("x"), LayerStats("r"), LayerStats("r")
    x.clamp = (derived, 0.0, math.inf)
    x.update(a)
    own.update(np.maximum(a, 0.0))
    assert np.array_equal(derived.hist, own.hist) and derived.hist[N_BINS // 2] == 0
    assert derived.to_dict() == own.to_dict()
