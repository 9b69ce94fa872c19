"""`graphscope diff` as a user runs it: stdout, --json, -o, --exit-code, bad input."""
from __future__ import annotations

import json

import onnx

from graphscope.cli import main
from tests.zoo import diff_models as dm
from tests.zoo import onnx_models


def _save(tmp_path, name, model):
    p = tmp_path / name
    onnx.save(model, str(p))
    return str(p)


def test_exit_code_json_and_report(tmp_path, capsys):
    m = onnx_models.small_resnet()
    a = _save(tmp_path, "a.onnx", m)
    same = _save(tmp_path, "same.onnx", dm.renamed(m))
    other = _save(tmp_path, "b.onnx", dm.block_inserted(m, "/stem/pool/MaxPool", 16))
    assert main(["diff", a, same, "--exit-code"]) == 0
    assert main(["diff", a, same]) == 0
    out = capsys.readouterr().out
    assert "39 same, 0 changed" in out
    js, html = tmp_path / "d.json", tmp_path / "d.html"
    assert main(["diff", a, other, "--exit-code", "--json", str(js), "-o", str(html),
                 "--rankdir", "LR"]) == 3
    out = capsys.readouterr().out
    assert "+ /extra/conv/Conv" in out and "2 only in B" in out
    doc = json.loads(js.read_text())
    assert doc["only_b"] == list(dm.BLOCK) and doc["summary"]["only_b"] == 2
    assert main(["diff", a, other]) == 0  # without --exit-code a difference is no error
    page = html.read_text()
    assert page.count('class="gs-root') == 2 and "window.graphscope = {" in page
    assert page.count('"rankdir":"LR"') == 2


def test_weights_flag_and_bad_input(tmp_path, capsys):
    m = onnx_models.lenet()
    a = _save(tmp_path, "a.onnx", m)
    b = _save(tmp_path, "b.onnx", dm.perturbed(m, "ip1.weight", 2.0))
    assert main(["diff", a, b, "--exit-code"]) == 0  # structure only: same
    assert main(["diff", a, b, "--weights", "--exit-code"]) == 3
    out = capsys.readouterr().out
    assert "~ ip1: weights differ: ip1.weight" in out
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    assert main(["diff", a, str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("graphscope: error:") and "bad.onnx" in err[0]


def test_per_side_load_options_caffe_against_onnx(tmp_path, capsys):
    import graphscope
    from tests.zoo.caffe_models import random_caffemodel
    proto, weights = tmp_path / "net.prototxt", tmp_path / "net.caffemodel"
    proto.write_text(dm.caffe_lowering_net())
    random_caffemodel(graphscope.load(str(proto)), str(weights))
    net = graphscope.convert(str(proto), to="onnx", weights=str(weights))
    b = _save(tmp_path, "net.onnx", net)
    js = tmp_path / "d.json"
    assert main(["diff", str(proto), b, "--weights-a", str(weights), "--weights",
                 "--exit-code", "--json", str(js)]) == 0
    doc = json.loads(js.read_text())
    assert doc["a"]["format"] == "caffe" and doc["b"]["format"] == "onnx"
    assert doc["summary"]["only_a"] == doc["summary"]["only_b"] == 0
    assert doc["summary"]["groups"] == 2
    # the ONNX file as A, the Caffe net as B: the groups match the other way round
    assert main(["diff", b, str(proto), "--weights-b", str(weights), "--weights",
                 "--exit-code"]) == 0
    assert "2 groups" in capsys.readouterr().out


def test_report_escapes_names(tmp_path):
    import graphscope
    m = onnx_models.lenet()
    hostile = '<img src=x onerror="alert(1)"></script>'
    b = dm.copy(m)
    b.graph.node[0].name = hostile
    page = graphscope.diff(m, b).render_html()
    assert hostile not in page and "<img src=x" not in page
