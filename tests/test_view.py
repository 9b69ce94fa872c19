"""`graphscope view` (a page path, or the page served on 127.0.0.1) and batch rendering with
`render A B C -o DIR/` and `--watch`."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT, run_cli

SAMPLES = ROOT / "samples"


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    import onnx

    from tests.zoo import onnx_models
    p = tmp_path_factory.mktemp("view") / "lenet.onnx"
    onnx.save(onnx_models.lenet(), str(p))
    return p


def test_view_no_browser_prints_a_working_page(lenet):
    proc = run_cli("view", lenet, "--no-browser")
    assert proc.returncode == 0, proc.stderr
    page = proc.stdout.strip().splitlines()[-1]
    html = open(page, encoding="utf-8").read()
    assert html.startswith("<!DOCTYPE html>") or "<html" in html[:500]
    for name in ("conv1", "pool1", "ip2"):  # the model's layers are in the page
        assert name in html


@pytest.mark.timeout(120)
def test_view_serve_answers_http_on_loopback(lenet):
    proc = subprocess.Popen([sys.executable, "-m", "graphscope", "view", str(lenet), "--serve",
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving lenet"), line + proc.stderr.read()
        url = line.split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=30) as r:
            body = r.read().decode()
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
        assert "conv1" in body and "<html" in body[:500]
        with pytest.raises(urllib.error.HTTPError) as e:  # nothing else is served
            urllib.request.urlopen(url + "etc/passwd", timeout=30)
        assert e.value.code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_render_several_models_into_a_folder(tmp_path):
    models = [SAMPLES / "lenet.onnx", SAMPLES / "lenet.prototxt", SAMPLES / "small_resnet.onnx"]
    proc = run_cli("render", *models, "-o", f"{tmp_path}/out/", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    out = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert out == ["lenet.onnx.json", "lenet.prototxt.json", "small_resnet.json"]
    docs = {n: json.loads((tmp_path / "out" / n).read_text()) for n in out}
    assert {n["name"] for n in docs["lenet.onnx.json"]["graph"]["nodes"]} >= {"conv1", "ip2"}
    assert len(docs["small_resnet.json"]["graph"]["nodes"]) > 10
    assert len(proc.stdout.splitlines()) == 3


def test_render_batch_goes_on_past_a_bad_model(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    proc = run_cli("render", bad, SAMPLES / "lenet.onnx", "-o", f"{tmp_path}/out/",
                   "--format", "dot")
    assert proc.returncode == 2
    assert (tmp_path / "out" / "lenet.dot").exists()
    assert not (tmp_path / "out" / "bad.dot").exists()
    assert proc.stderr.count("graphscope: error:") == 1 and "bad.onnx" in proc.stderr


def test_several_models_need_a_folder(tmp_path):
    proc = run_cli("render", SAMPLES / "lenet.onnx", SAMPLES / "small_resnet.onnx",
                   "-o", tmp_path / "one.svg")
    assert proc.returncode == 2 and "folder" in proc.stderr


@pytest.mark.timeout(180)
def test_watch_renders_again_when_the_file_changes(tmp_path):
    net = tmp_path / "net.prototxt"
    text = (SAMPLES / "lenet.prototxt").read_text()
    net.write_text(text)
    out = tmp_path / "net.json"
    proc = subprocess.Popen([sys.executable, "-m", "graphscope", "render", str(net), "-o",
                             str(out), "--watch"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == str(out)  # the first render
        first = len(json.loads(out.read_text())["graph"]["nodes"])
        extra = ('layer { name: "extra_relu" type: "ReLU" bottom: "ip2" top: "extra" }\n')
        time.sleep(1.1)  # a new mtime even on coarse-grained file systems
        net.write_text(text + extra)
        os.utime(net)
        assert proc.stdout.readline().strip() == str(out)  # rendered again
        nodes = json.loads(out.read_text())["graph"]["nodes"]
        assert len(nodes) == first + 1
        assert any(n["name"] == "extra_relu" for n in nodes)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
