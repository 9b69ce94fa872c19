"""Caffe logs, CSV / JSON-lines, smoothing and downsampling (no TensorFlow needed)."""
import math

import numpy as np
import pytest

from graphscope.errors import ParseError
from graphscope.train import load_run, load_runs
from graphscope.train.charts import split_phase
from graphscope.train.smooth import downsample, smooth
from tests.zoo import train_logs as z


def points(series):
    return list(zip(series.steps.tolist(), series.values.tolist()))


def test_caffe_log_train_test_lr_and_resume(tmp_path):
    path = tmp_path / "train.log"
    expected = z.caffe_log(path)
    run = load_run(path)
    assert sorted(run.scalars) == sorted(expected)
    for tag, pts in expected.items():
        assert points(run.scalars[tag]) == pts, tag
    # the resumed run (from iteration 400) replaced the first run's 400..600 points
    assert run.scalars["test/loss"].values[2] == pytest.approx(1.5 / 5 + 0.001)
    assert points(run.scalars["lr"])[4:7] == [(400, 0.01), (500, 0.001), (600, 0.001)]
    assert run.scalars["lr"].values[-1] == pytest.approx(1e-4)
    # glog timestamps give wall time, increasing within each segment
    assert run.scalars["train/loss"].times is not None


def test_caffe_several_test_nets(tmp_path):
    path = tmp_path / "two.log"
    path.write_text(
        "I0101 00:00:01.000000 1 solver.cpp:330] Iteration 0, Testing net (#0)\n"
        "I0101 00:00:01.000000 1 solver.cpp:397]     Test net output #0: accuracy = 0.1\n"
        "I0101 00:00:01.000000 1 solver.cpp:330] Iteration 0, Testing net (#1)\n"
        "I0101 00:00:01.000000 1 solver.cpp:397]     Test net output #0: accuracy = 0.2\n"
        "I0101 00:00:02.000000 1 solver.cpp:218] Iteration 0, loss = 2.5\n")
    run = load_run(path)
    assert points(run.scalars["test/accuracy"]) == [(0, 0.1)]
    assert points(run.scalars["test1/accuracy"]) == [(0, 0.2)]
    assert points(run.scalars["train/avg_loss"]) == [(0, 2.5)]


def test_log_without_recognizable_lines(tmp_path):
    path = tmp_path / "junk.log"
    z.not_a_log(path)
    with pytest.raises(ParseError, match="no Caffe training lines"):
        load_run(path)


def test_keras_csv(tmp_path):
    rows = z.keras_csv(tmp_path / "k.csv")
    run = load_run(tmp_path / "k.csv")
    assert sorted(run.scalars) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert points(run.scalars["val_loss"]) == [(r[0], r[4]) for r in rows]


def test_lightning_csv_with_blank_cells(tmp_path):
    expected = z.lightning_csv(tmp_path / "metrics.csv")
    run = load_run(tmp_path / "metrics.csv")
    for tag, pts in expected.items():
        if tag == "epoch":     # epoch repeats per step; last write per step wins
            continue
        assert points(run.scalars[tag]) == pts, tag
    assert points(run.scalars["epoch"]) == [(49, 0), (99, 0), (149, 1), (199, 1)]


def test_jsonl(tmp_path):
    recs = z.jsonl(tmp_path / "m.jsonl")
    run = load_run(tmp_path / "m.jsonl")
    assert list(run.scalars) == ["loss"]       # 'phase' is text, not a scalar
    assert points(run.scalars["loss"]) == [(r["step"], r["loss"]) for r in recs]


def test_csv_without_step_column(tmp_path):
    z.csv_without_step(tmp_path / "nostep.csv")
    with pytest.raises(ParseError, match="no step column") as info:
        load_run(tmp_path / "nostep.csv")
    assert info.value.line == 1


def test_bad_files_do_not_hide_good_ones(tmp_path):
    z.keras_csv(tmp_path / "good.csv")
    z.csv_without_step(tmp_path / "bad.csv")
    z.not_a_log(tmp_path / "bad.log")
    runs, errors = load_runs([tmp_path / "bad.csv", tmp_path / "good.csv", tmp_path / "bad.log",
                              tmp_path / "missing.csv"])
    assert [r.name for r in runs] == ["good"]
    assert [e.file for e in errors] == [str(tmp_path / n) for n in ("bad.csv", "bad.log",
                                                                     "missing.csv")]


def tensorboard_smoothing(ys, weight):
    """TensorBoard's line-chart smoothing, transcribed from its TypeScript."""
    last = 0.0 if ys else math.nan
    num_accum = 0
    is_constant = all(v == ys[0] for v in ys)
    out = []
    for y in ys:
        if is_constant or not math.isfinite(y):
            out.append(y)
        else:
            last = last * weight + (1 - weight) * y
            num_accum += 1
            debias = 1.0 if weight == 1.0 else 1.0 - weight ** num_accum
            out.append(last / debias)
    return out


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.95, 0.999])
def test_smoothing_matches_tensorboard(weight):
    rng = np.random.default_rng(3)
    ys = rng.normal(size=5000).cumsum()
    ys[[7, 100]] = np.nan
    ys[200] = np.inf
    ref = np.array(tensorboard_smoothing(ys.tolist(), weight))
    got = smooth(ys, weight)
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(ref))
    np.testing.assert_allclose(got[np.isfinite(ref)], ref[np.isfinite(ref)], rtol=1e-11,
                               atol=1e-11)
    # debiasing: the first smoothed point equals the first value, not (1-w) * it
    assert got[0] == pytest.approx(ys[0])


def test_smoothing_constant_series_unchanged():
    np.testing.assert_array_equal(smooth(np.full(10, 3.5), 0.9), np.full(10, 3.5))


def test_downsample_keeps_spikes():
    y = np.zeros(1_000_000)
    y[123_457] = 1000.0
    y[900_001] = -50.0
    d = downsample(np.arange(len(y)), y, None, buckets=1000)
    assert len(d["x"]) == 1000
    assert max(d["hi"]) == 1000.0 and min(d["lo"]) == -50.0
    assert d["x"][-1] == len(y) - 1


@pytest.mark.parametrize("tag,expected", [("test/accuracy", ("accuracy", "test")),
                                          ("val_loss", ("loss", "test")),
                                          ("train/loss", ("loss", "train")),
                                          ("loss", ("loss", "train"))])
def test_train_and_test_share_a_chart(tag, expected):
    assert split_phase(tag) == expected
