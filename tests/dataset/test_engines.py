"""The local engine, Ray (a real local Ray, num_cpus=2) and a one-shot numpy computation over
the stacked activations of a few hundred generated inputs give the same statistics."""
import json
import re
import os
import signal
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import graphscope
from graphscope.dataset import probe_dataset
from graphscope.dataset.stats import bin_counts
from tests.conftest import run_cli
from tests.zoo import dataset_models

N_INPUTS = 300


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dataset")
    model = dataset_models.dead_cnn()
    onnx.save(model, folder / "dead_cnn.onnx")
    x = dataset_models.inputs(N_INPUTS, (3, 12, 12))
    np.save(folder / "x.npy", x)
    return folder, model, x


@pytest.fixture(scope="module")
def one_shot(data):
    """Every value's activations for all inputs at once, by plain onnxruntime."""
    _, model, x = data
    names = [o for n in model.graph.node for o in n.output]
    return dataset_models.run_exposing(model, names, {"x": x})


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def assert_matches_numpy(result, one_shot):
    assert result.inputs == N_INPUTS
    assert set(result.stats.layers) == set(one_shot)
    for name, a in one_shot.items():
        x = a.astype(np.float64)
        d = result.stats[name].to_dict()
        assert d["count"] == x.size and d["samples"] == N_INPUTS, name  # counts exact
        assert d["min"] == x.min() and d["max"] == x.max(), name
        assert d["mean"] == pytest.approx(x.mean(), rel=1e-6), name
        assert d["std"] == pytest.approx(x.std(), rel=1e-6), name
        assert d["zero_fraction"] == np.count_nonzero(x == 0) / x.size, name
        if x.ndim == 4:
            np.testing.assert_allclose(d["channels"]["mean"], x.mean(axis=(0, 2, 3)),
                                       rtol=1e-6, atol=1e-9, err_msg=name)
            np.testing.assert_allclose(d["channels"]["std"], x.std(axis=(0, 2, 3)),
                                       rtol=1e-6, atol=1e-9, err_msg=name)
            assert d["dead_channels"] == int((x.max(axis=(0, 2, 3)) <= 0).sum()), name
        assert np.array_equal(result.stats[name].hist, bin_counts(a)), name  # exact


def test_local_engine_equals_one_shot_numpy(data, one_shot):
    folder, model, _ = data
    result = probe_dataset(graphscope.load(model), str(folder / "x.npy"), batch=32)
    assert_matches_numpy(result, one_shot)
    assert result.stats["relu1"].to_dict()["dead_channels"] == 2  # the planted ones


def test_ray_engine_equals_local_and_numpy(data, one_shot, ray_session):
    folder, model, _ = data
    graph = graphscope.load(model)
    ray_result = probe_dataset(graph, str(folder / "x.npy"), batch=25, engine="ray", workers=2)
    assert_matches_numpy(ray_result, one_shot)
    local = probe_dataset(graph, str(folder / "x.npy"), batch=64)
    for name in one_shot:
        a, b = local.stats[name].to_dict(), ray_result.stats[name].to_dict()
        assert a["count"] == b["count"] and a["histogram"] == b["histogram"]
        assert a["percentiles"] == b["percentiles"]
        assert b["mean"] == pytest.approx(a["mean"], rel=1e-6)
        assert b["std"] == pytest.approx(a["std"], rel=1e-6)


def test_images_listed_in_a_text_file(tmp_path, data):
    from PIL import Image
    _, model, _ = data
    rng = np.random.default_rng(4)
    pictures = [rng.integers(0, 256, (12, 12, 3), dtype=np.uint8) for _ in range(5)]
    for i, p in enumerate(pictures):
        Image.fromarray(p).save(tmp_path / f"img{i}.png")
    (tmp_path / "list.txt").write_text("# five pictures\n" +
                                      "".join(f"img{i}.png\n" for i in range(5)))
    result = probe_dataset(graphscope.load(model), str(tmp_path / "list.txt"), batch=2)
    expected = np.stack(pictures).astype(np.float64).transpose(0, 3, 1, 2) / 255.0
    st = result.stats["conv1"]
    assert result.inputs == 5 and st.samples == 5
    by_glob = probe_dataset(graphscope.load(model), str(tmp_path / "img*.png"), batch=3)
    assert np.array_equal(by_glob.stats["conv1"].hist, st.hist)  # other batches, same counts
    assert by_glob.stats["conv1"].to_dict()["std"] == pytest.approx(st.to_dict()["std"], rel=1e-9)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"x": expected.astype(np.float32)})[0]
    assert result.stats["fc_out"].to_dict()["mean"] == pytest.approx(out.mean(), rel=1e-6)


def test_cli_json_and_report(data, tmp_path):
    folder, _, x = data
    np.save(tmp_path / "few.npy", x[:40])
    r = run_cli("probe", folder / "dead_cnn.onnx", "--dataset", tmp_path / "few.npy", "--batch",
                "16", "--layers", "Relu", "--json", tmp_path / "s.json", "-o", tmp_path / "r.html")
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["dataset"]["inputs"] == 40
    assert [layer["node"] for layer in doc["layers"]] == ["relu1", "relu2"]
    assert doc["layers"][0]["stats"]["dead_channels"] == 2
    assert doc["layers"][0]["shape"] == ["N", 8, 12, 12]
    assert sum(c for _, _, c in doc["layers"][1]["stats"]["histogram"]) == 40 * 16 * 6 * 6
    page = (tmp_path / "r.html").read_text()
    assert "over 40 inputs" in page and page.count("<section id=") == 2
    # the embedded viewer's data carries relu1's dataset statistics for its side panel
    assert re.search(r'\["relu1_out","float32","[^"]*",0,\{[^}]*"dead_channels":2', page)
    assert '"samples":40' in page
    assert "inputs/s" in r.stderr


def test_a_value_empty_on_every_input_is_probed_as_holding_nothing(tmp_path):
    """A slice to nothing: its inputs counted, no values; the report shows the others."""
    from onnx import TensorProto, helper, numpy_helper
    consts = [numpy_helper.from_array(np.array([v], np.int64), n)
              for n, v in (("s", 2), ("e", 2), ("ax", 1))]
    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]),
         helper.make_node("Slice", ["r", "s", "e", "ax"], ["empty"]),
         helper.make_node("Concat", ["r", "empty"], ["y"], axis=1)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], consts)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
              tmp_path / "m.onnx")
    np.save(tmp_path / "x.npy", dataset_models.inputs(10, (4, 5)))
    r = run_cli("probe", tmp_path / "m.onnx", "--dataset", tmp_path / "x.npy", "--batch", "4",
                "--json", tmp_path / "s.json", "-o", tmp_path / "r.html")
    assert r.returncode == 0, r.stderr
    layers = {d["name"]: d for d in json.loads((tmp_path / "s.json").read_text())["layers"]}
    assert layers["empty"]["stats"] == {"count": 0, "samples": 10}
    assert layers["empty"]["shape"] == ["N", 0, 5]
    assert layers["y"]["stats"]["count"] == layers["r"]["stats"]["count"] == 10 * 4 * 5
    assert (tmp_path / "r.html").read_text().count("<section id=") == 2


def reading(pid: int, name: str) -> bool:
    """Whether process ``pid`` has a file called ``name`` open (the loader keeps the dataset
    open while it streams rows)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").endswith(name):
                return True
        except OSError:
            continue
    return False


def default_sigint():
    """In the child before exec: SIGINT back to its default, so that Python turns it into
    KeyboardInterrupt. A test run started in the background by a shell without job control
    (`cmd &`) ignores SIGINT, and an ignored signal stays ignored across exec."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_interrupt_leaves_no_output(tmp_path):
    """SIGINT while inputs stream: exit 130, neither the JSON nor the report nor a temporary
    file is left behind."""
    model = dataset_models.dead_cnn()
    onnx.save(model, tmp_path / "m.onnx")
    np.save(tmp_path / "big.npy", np.zeros((20000, 3, 12, 12), np.float32))
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "graphscope", "probe", str(tmp_path / "m.onnx"),
                             "--dataset", str(tmp_path / "big.npy"), "--json",
                             str(out / "s.json"), "-o", str(out / "r.html")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:  # until the reader holds the file
        if reading(proc.pid, "big.npy"):
            break
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert os.listdir(out) == []


def test_progress_bar_shows_inputs_per_second_in_a_terminal(tmp_path, data):
    from tests.test_progress import run_in_pty
    folder, _, _ = data
    np.save(tmp_path / "many.npy", dataset_models.inputs(3000, (3, 12, 12)))
    rc, tty = run_in_pty("probe", folder / "dead_cnn.onnx", "--dataset", tmp_path / "many.npy",
                         "--json", tmp_path / "s.json")
    assert rc == 0, tty
    assert re.search(r"probing 3000 inputs \(local\): +\d+%", tty), tty[-2000:]
    assert "input/s" in tty
    assert re.search(r"probed 3000 inputs in [\d.]+ s \([\d.]+ inputs/s\)", tty)
