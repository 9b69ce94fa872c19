"""`graphscope train`: HTML report, --json, --png, per-file errors with exit code 2."""
import json
import os
import shutil

import pytest

from tests.conftest import run_cli
from tests.zoo import train_logs as z


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    d = tmp_path_factory.mktemp("logs")
    z.caffe_log(d / "caffe.log")
    z.keras_csv(d / "keras.csv")
    z.csv_without_step(d / "nostep.csv")
    z.not_a_log(d / "junk.log")
    pytest.importorskip("torch")
    ev = d / "tb"
    z.torch_events(ev)
    return d


def test_bad_files_reported_and_the_rest_drawn(logs, tmp_path):
    trunc = tmp_path / "cut"
    shutil.copytree(logs / "tb", trunc)
    (name,) = os.listdir(trunc)
    z.truncate(trunc / name, 0.5)
    out = tmp_path / "data.json"
    r = run_cli("train", logs / "caffe.log", logs / "nostep.csv", logs / "keras.csv",
                logs / "junk.log", trunc, "--json", out, "-o", tmp_path / "r.html")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    errors = [ln for ln in lines if ln.startswith("graphscope: error: ")]
    warnings = [ln for ln in lines if ln.startswith("graphscope: warning: ")]
    assert len(errors) == 2 and len(warnings) == 1, r.stderr
    assert "nostep.csv:1: no step column" in errors[0]
    assert "junk.log: no Caffe training lines" in errors[1]
    assert "truncated" in warnings[0] and "stopped at byte" in warnings[0]
    doc = json.loads(out.read_text())
    assert [run["name"] for run in doc["runs"]] == ["caffe", "keras", "cut"]
    assert (tmp_path / "r.html").exists()


def test_json_schema(logs, tmp_path):
    out = tmp_path / "d.json"
    r = run_cli("train", logs / "caffe.log", logs / "tb", "--json", out)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "train_report.html").exists()
    doc = json.loads(out.read_text())
    assert list(doc) == ["runs"]
    caffe, tb = doc["runs"]
    assert set(caffe) == {"name", "source", "scalars", "histograms"}
    assert caffe["scalars"]["lr"][:6] == [[0, 0.01], [100, 0.01], [200, 0.01], [300, 0.01],
                                          [400, 0.01], [500, 0.001]]
    assert caffe["histograms"] == {}
    (hist_tag,) = tb["histograms"]
    first = tb["histograms"][hist_tag][0]
    assert set(first) == {"step", "edges", "counts"}
    assert len(first["edges"]) == len(first["counts"]) + 1 and sum(first["counts"]) == 300


def test_png_output_is_real_images(logs, tmp_path):
    from PIL import Image
    r = run_cli("train", logs / "caffe.log", logs / "tb", "--png", tmp_path / "png")
    assert r.returncode == 0, r.stderr
    names = sorted(os.listdir(tmp_path / "png"))
    assert "scalar-loss.png" in names and "scalar-accuracy.png" in names
    assert any(n.startswith("hist-") for n in names)
    im = Image.open(tmp_path / "png" / "scalar-loss.png")
    assert im.size == (800, 450)
    assert len(im.convert("RGB").getcolors(1 << 16)) > 10    # lines, not a blank page


def test_html_report_offline_and_drawn(logs, tmp_path):
    out = tmp_path / "r.html"
    r = run_cli("train", logs / "caffe.log", logs / "keras.csv", logs / "tb", "-o", out,
                "--smooth", "0.9", "--x", "time")
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "<script src" not in text and "https://" not in text
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert run_cli("train", out, "--smooth", "1.5").returncode == 2
    playwright = pytest.importorskip("playwright.sync_api")
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("no chromium")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(out.as_uri())
        titles = page.eval_on_selector_all("#scalars .card h3",
                                           "els => els.map(e => e.textContent)")
        n_heat = page.eval_on_selector_all("#histograms canvas", "els => els.length")
        n_img = page.eval_on_selector_all("#images img", "els => els.length")
        browser.close()
    assert errors == []
    # train and test of one metric share a chart: caffe's train/loss and test/loss, keras'
    # loss and val_loss, torch's loss are all in 'loss'
    assert sorted(titles) == ["accuracy", "avg_loss", "loss", "lr", "top5"]
    assert n_heat == 1 and n_img == 1
