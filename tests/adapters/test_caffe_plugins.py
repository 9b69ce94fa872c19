"""Plugins: a user's fork layer gets a shape rule, a cost rule and an ONNX form without
editing graphscope, through --plugin FILE.py or an installed entry point; graphscope imports
no plugin it was not told about."""
import sys
import textwrap

import numpy as np
import pytest

import graphscope
from graphscope import plugins
from graphscope.errors import UsageError
from tests.conftest import run_cli

NET = '''input: "data" input_shape { dim: 1 dim: 4 dim: 6 dim: 6 }
layer { name: "s2d" type: "SpaceToDepth2" bottom: "data" top: "s2d" space_to_depth2_param { block: 2 } }
layer { name: "relu" type: "ReLU" bottom: "s2d" top: "relu" }
'''

# The plugin from docs/caffe.md: a fork's space-to-depth layer, with its ONNX form.
PLUGIN = '''
from graphscope.plugins import caffe_layer


def shape(ins, params):
    n, c, h, w = ins[0]
    b = params.get("block", 2)
    return [(n, c * b * b, h // b, w // b)]


def onnx(node, helper, opset):
    b = node.attrs.get("block", 2)
    return [helper.make_node("SpaceToDepth", [node.inputs[0].name], [node.outputs[0].name],
                             blocksize=b, name=node.name)], []


caffe_layer("SpaceToDepth2", shape=shape, onnx=onnx, category="shape",
            macs=lambda ins, outs, params: 0)
'''


@pytest.fixture
def forget():
    """Plugins register globally: each test removes what it registered."""
    before = set(plugins.caffe_types())
    yield
    for t in set(plugins.caffe_types()) - before:
        plugins.unregister(t)


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_cli_plugin_file_gives_the_shape(tmp_path):
    net = write(tmp_path, "net.prototxt", NET)
    plugin = write(tmp_path, "s2d_plugin.py", PLUGIN)
    r = run_cli("info", net, "--json")
    assert r.returncode == 0 and "unknown layer type 'SpaceToDepth2'" in r.stderr
    r = run_cli("info", net, "--json", "--plugin", plugin)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    import json
    nodes = {n["name"]: n for n in json.loads(r.stdout)["nodes"]}
    assert nodes["s2d"]["outputs"][0]["shape"] == [1, 16, 3, 3]
    assert nodes["relu"]["outputs"][0]["shape"] == [1, 16, 3, 3]
    assert nodes["s2d"]["op"] == "caffe.SpaceToDepth2" and nodes["s2d"]["macs"] == 0
    r = run_cli("info", net, "--plugin", tmp_path / "missing.py")
    assert r.returncode == 2 and "--plugin" in r.stderr and "no such file" in r.stderr


def test_plugin_converts_to_onnx(tmp_path, forget):
    pytest.importorskip("onnxruntime")
    plugins.load_file(write(tmp_path, "s2d_plugin.py", PLUGIN))
    net = write(tmp_path, "net.prototxt", NET)
    model = graphscope.convert(net, to="onnx")
    import onnxruntime as ort
    x = np.arange(144, dtype="float32").reshape(1, 4, 6, 6)
    y = ort.InferenceSession(model.SerializeToString()).run(None, {"data": x})[0]
    # SpaceToDepth by hand: block (i, j) of channel c goes to channel (i * 2 + j) * 4 + c
    want = x.reshape(1, 4, 3, 2, 3, 2).transpose(0, 3, 5, 1, 2, 4).reshape(1, 16, 3, 3)
    np.testing.assert_array_equal(y, want)


def test_plugin_with_weights_and_macs(forget):
    """A plugin layer that learns a blob: it is counted as parameters, its MACs are the
    plugin's; a plugin's broken rule leaves the shape unknown, named."""
    plugins.caffe_layer(
        "ChannelGate", shape=lambda ins, p: [ins[0]],
        weights=lambda ins, p: [("gate", (ins[0][1],))],
        macs=lambda ins, outs, p: int(np.prod(outs[0])))
    plugins.caffe_layer("Broken", shape=lambda ins, p: 1 / 0)
    from graphscope.adapters import caffe
    from graphscope.ir import run_passes
    g = run_passes(caffe.load('''input: "data" input_shape { dim: 2 dim: 4 dim: 5 dim: 5 }
layer { name: "g" type: "ChannelGate" bottom: "data" top: "g" }
layer { name: "b" type: "Broken" bottom: "g" top: "b" }
'''))
    gate = g.node("g")
    assert gate.outputs[0].type.shape == (2, 4, 5, 5)
    assert gate.meta["params"] == 4 and gate.meta["macs"] == 200
    broken = g.node("b")
    assert broken.outputs[0].type.shape is None
    assert "plugin shape rule for Broken failed: ZeroDivisionError" in broken.meta["shape_error"]


def test_entry_point_is_loaded_only_for_its_layer_type(tmp_path, monkeypatch, forget):
    """An installed package advertises `SpaceToDepth2 = s2d_pkg:register` in the group
    graphscope.plugins; another entry point whose module must never be imported sits beside
    it. Reading a net with SpaceToDepth2 imports the first only."""
    site = tmp_path / "site"
    (site / "s2d_pkg").mkdir(parents=True)
    (site / "s2d_pkg" / "__init__.py").write_text(textwrap.dedent("""\
        from graphscope.plugins import caffe_layer


        def register():
            caffe_layer("SpaceToDepth2", category="shape", shape=lambda ins, p: [
                (ins[0][0], ins[0][1] * 4, ins[0][2] // 2, ins[0][3] // 2)])
        """))
    (site / "never_pkg.py").write_text("raise RuntimeError('imported a plugin nobody asked for')\n")
    info = site / "s2d_pkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: s2d-pkg\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""\
        [graphscope.plugins]
        SpaceToDepth2 = s2d_pkg:register
        OtherLayer = never_pkg
        """))
    monkeypatch.syspath_prepend(str(site))
    plugins._tried_entry_points.clear()
    net = write(tmp_path, "net.prototxt", NET)
    g = graphscope.load(net)
    assert g.node("s2d").outputs[0].type.shape == (1, 16, 3, 3)
    assert "s2d_pkg" in sys.modules and "never_pkg" not in sys.modules


def test_plugin_errors_are_one_line(tmp_path, forget):
    bad = write(tmp_path, "bad.py", "import nothing_here_at_all\n")
    with pytest.raises(UsageError, match=r"--plugin .*bad.py: ModuleNotFoundError"):
        plugins.load_file(bad)
    with pytest.raises(UsageError, match="category must be one of"):
        plugins.caffe_layer("X", shape=lambda ins, p: ins, category="sparkly")
