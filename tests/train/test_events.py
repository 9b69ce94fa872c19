"""TensorBoard event files written by torch.utils.tensorboard and tf.summary, read back
exactly; the PyTorch and Keras recorders. (This module is the one that imports TF.)"""
import io
import os

import numpy as np
import pytest

from graphscope.train import load_run, load_runs
from tests.zoo import train_logs as z

pytest.importorskip("tensorboard")
torch = pytest.importorskip("torch")


def points(series):
    return list(zip(series.steps.tolist(), series.values.tolist()))


def decode(png):
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)))


def event_file(d):
    (name,) = [n for n in os.listdir(d) if "tfevents" in n]
    return os.path.join(d, name)


@pytest.fixture(scope="module")
def torch_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("torch")
    return d, z.torch_events(d)


def test_torch_events_read_back_exactly(torch_run):
    d, exp = torch_run
    run = load_run(event_file(d))
    assert sorted(run.scalars) == sorted(exp["scalars"])
    for tag, pts in exp["scalars"].items():
        assert points(run.scalars[tag]) == pts
    hs = run.histograms["fc/weight"]
    assert [h.step for h in hs] == [s for s, _ in exp["histograms"]["fc/weight"]]
    for h, (_, vals) in zip(hs, exp["histograms"]["fc/weight"]):
        counts, edges = np.histogram(vals, bins=16)
        assert h.counts == counts.tolist()
        np.testing.assert_allclose(h.edges, edges, rtol=0, atol=1e-6)
    ims = run.images["sample"]
    assert [i.step for i in ims] == [s for s, _ in exp["images"]["sample"]]
    for im, (_, arr) in zip(ims, exp["images"]["sample"]):
        np.testing.assert_array_equal(decode(im.png), arr)


def test_tf_summary_events_read_back_exactly(tmp_path):
    pytest.importorskip("tensorflow")
    exp = z.tf_events(tmp_path)
    (run,), errors = load_runs([tmp_path])
    assert errors == []
    assert points(run.scalars["loss"]) == exp["scalars"]["loss"]
    for h, (step, vals) in zip(run.histograms["dense/kernel"], exp["histograms"]["dense/kernel"]):
        assert h.step == step
        assert sum(h.counts) == len(vals)
        assert h.edges[0] == pytest.approx(vals.min()) and h.edges[-1] == pytest.approx(vals.max())
        assert len(h.edges) == len(h.counts) + 1 == 11
    assert [i.step for i in run.images["gen"]] == [0, 4, 8]
    for im, (_, arr) in zip(run.images["gen"], exp["images"]["gen"]):
        np.testing.assert_array_equal(decode(im.png), arr)


def test_truncated_event_file_keeps_what_was_readable(tmp_path, torch_run):
    src, exp = torch_run
    path = tmp_path / os.path.basename(event_file(src))
    path.write_bytes(open(event_file(src), "rb").read())
    size = z.truncate(path, 0.5)
    run = load_run(path)
    (warning,) = run.warnings
    assert "truncated" in warning and f"of {size}" in warning
    n = len(run.scalars["loss"])
    assert 0 < n < len(exp["scalars"]["loss"])
    assert points(run.scalars["loss"]) == exp["scalars"]["loss"][:n]


def test_torch_recorder_histograms_count_every_weight(tmp_path):
    import graphscope
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
    losses, lrs = [], []
    with graphscope.record(model, tmp_path, every=5, optimizer=opt) as rec:
        for _ in range(12):
            x = torch.randn(16, 4)
            loss = model(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(np.float32(loss.item())))
            if rec.global_step == 10:
                snapshot = model[0].weight.detach().numpy().reshape(-1).copy()
            lrs.append(opt.param_groups[0]["lr"])
            rec.step(loss)
            sched.step()
    (run,), errors = load_runs([tmp_path])
    assert errors == []
    assert points(run.scalars["loss"]) == list(enumerate(losses))
    assert run.scalars["lr"].values.tolist() == [float(np.float32(v)) for v in lrs]
    sizes = {f"weights/{n}": p.numel() for n, p in model.named_parameters()}
    sizes.update({"activations/0": 16 * 8, "activations/1": 16 * 8, "activations/2": 16 * 2})
    assert sorted(run.histograms) == sorted(sizes)
    for tag, n in sizes.items():
        assert [h.step for h in run.histograms[tag]] == [0, 5, 10]
        assert all(sum(h.counts) == n for h in run.histograms[tag]), tag
    # the histogram read back is the one of the weights the model held at step 10
    last = run.histograms["weights/0.weight"][-1]
    assert last.edges[0] <= snapshot.min() < last.edges[1]
    assert np.histogram(snapshot, bins=np.asarray(last.edges))[0].tolist() == last.counts


def test_keras_recorder(tmp_path):
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    import graphscope.keras
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5, name="d1"),
                              keras.layers.Dense(1, name="d2")])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    x, y = np.random.rand(32, 3), np.random.rand(32, 1)
    rec = graphscope.keras.Recorder(tmp_path, every=3)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[rec])
    rec.close()
    (run,), errors = load_runs([tmp_path])
    assert errors == []
    assert run.scalars["loss"].steps.tolist() == list(range(8))
    assert run.scalars["lr"].values.tolist() == [pytest.approx(0.01)] * 8
    sizes = {"weights/d1/kernel": 15, "weights/d1/bias": 5, "weights/d2/kernel": 5,
             "weights/d2/bias": 1}
    assert sorted(run.histograms) == sorted(sizes)
    for tag, n in sizes.items():
        assert [h.step for h in run.histograms[tag]] == [0, 3, 6]
        assert all(sum(h.counts) == n for h in run.histograms[tag]), tag


def test_bulk_and_per_event_paths_agree(torch_run, monkeypatch, tmp_path):
    """With TF loaded, plain-scalar events are decoded in bulk by TF's decode_proto; without,
    one by one through tensorboard's protos. Both must give the same run."""
    pytest.importorskip("tensorflow")
    from graphscope.train import tb
    d, _ = torch_run
    monkeypatch.setattr(tb, "_BATCH", 7)             # several batches, mixed events
    bulk = load_run(event_file(d))
    monkeypatch.setattr(tb, "_use_tf", lambda total: False)
    slow = load_run(event_file(d))
    assert sorted(bulk.scalars) == sorted(slow.scalars)
    for tag in slow.scalars:
        assert points(bulk.scalars[tag]) == points(slow.scalars[tag])
        np.testing.assert_array_equal(bulk.scalars[tag].times, slow.scalars[tag].times)
    assert [(h.step, h.counts) for h in bulk.histograms["fc/weight"]] == \
        [(h.step, h.counts) for h in slow.histograms["fc/weight"]]
    assert [i.png for i in bulk.images["sample"]] == [i.png for i in slow.images["sample"]]
