"""convert --verify --dataset (errors, top-1 agreement, worst input) and explain --dataset
(one map per input, an index page)."""
import re

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

import graphscope
from graphscope.convert.from_tf import runnable_graph
from graphscope.dataset.sources import items, loader_for
from graphscope.dataset.verify import verify_dataset
from tests.conftest import run_cli
from tests.zoo import dataset_models


def perturbed(model: onnx.ModelProto, weight: str, factor: float) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for init in m.graph.initializer:
        if init.name == weight:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * factor, weight))
    return m


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("verify")
    model = dataset_models.dead_cnn()
    onnx.save(model, folder / "m.onnx")
    x = dataset_models.inputs(40, (3, 12, 12), seed=7)
    np.save(folder / "x.npy", x)
    return folder, model, x


def run_verify(model, target_model, path, batch=8):
    graph = runnable_graph(graphscope.load(model))
    loader = loader_for(graph)
    return verify_dataset(graph, "onnx", target_model, items(str(path), 3), loader, batch)


def test_exact_conversion_agrees_on_every_input(setup):
    folder, model, _ = setup
    from graphscope.convert.api import convert
    converted = convert(model, to="onnx").model
    report = run_verify(model, converted, folder / "x.npy")
    assert report.ok and report.inputs == 40 and report.failed == 0
    assert report.top1_agree == report.top1_compared == 40
    assert set(report.layers) >= {"conv1_out", "relu2_out", "fc_out"}
    assert all(e.max_abs <= 1e-4 for e in report.layers.values())


def test_divergence_names_the_worst_input_and_first_layer(setup):
    folder, model, x = setup
    bad = perturbed(model, "conv2.weight", 1.05)
    report = run_verify(model, bad, folder / "x.npy", batch=16)
    assert not report.ok and report.failed == 40
    assert report.worst_divergence.node == "conv2"  # conv1 and relu1 still agree
    assert report.layers["conv1_out"].max_abs == 0.0
    # the worst input and the error figures, recomputed independently
    runs = [ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
            for m in (model, bad)]
    a, b = (s.run(None, {"x": x})[0].astype(np.float64) for s in runs)
    per_input = np.abs(a - b).max(axis=1)
    assert report.worst == f"{folder / 'x.npy'}[{int(per_input.argmax())}]"
    assert report.layers["fc_out"].max_abs == pytest.approx(per_input.max(), rel=1e-5)
    assert report.layers["fc_out"].mean_abs == pytest.approx(np.abs(a - b).mean(), rel=1e-5)
    agree = int((a.argmax(axis=1) == b.argmax(axis=1)).sum())
    assert report.top1_agree == agree and report.top1_compared == 40
    table = report.table()
    assert f"top-1 agreement: {agree}/40" in table and "first divergence conv2 (Conv)" in table


def test_cli_convert_verify_dataset(setup, tmp_path):
    folder, _, _ = setup
    r = run_cli("convert", folder / "m.onnx", "-o", tmp_path / "out.onnx", "--verify",
                "--dataset", folder / "x.npy")
    assert r.returncode == 0, r.stderr
    assert "top-1 agreement: 40/40 (100.00%)" in r.stdout
    assert "inputs beyond tolerance (rtol 0.0001, atol 1e-05): 0/40" in r.stdout
    assert (tmp_path / "out.onnx").is_file()


def test_explain_dataset_writes_maps_and_an_index(tmp_path):
    model = dataset_models.image_mlp()
    onnx.save(model, tmp_path / "mlp.onnx")
    x = dataset_models.inputs(6, (3, 8, 8), seed=3)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "maps"
    r = run_cli("explain", tmp_path / "mlp.onnx", "--dataset", tmp_path / "x.npy",
                "--method", "saliency", "-o", out)
    assert r.returncode == 0, r.stderr
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert len(pngs) == 6 and len(list(out.glob("*.npy"))) == 6
    page = (out / "index.html").read_text()
    assert re.findall(r"<img src='([^']+)'", page) == pngs
    for i in (0, 5):  # each map is what a one-input explanation gives
        single = graphscope.explain(model, x[i:i + 1], method="saliency")
        got = np.load(out / pngs[i].replace(".png", ".npy"))
        np.testing.assert_allclose(got, single.map, rtol=1e-5, atol=1e-7)
        assert f"class {single.target}" in page
