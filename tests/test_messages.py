"""Identical warnings collapse into one line with a count and the first place; --quiet
prints none."""
from graphscope.messages import group_warnings
from tests.conftest import run_cli


def test_same_warning_for_many_layers_is_one_line():
    msgs = [f"net.prototxt:{10 * i}:3: layer 'bn{i}': unknown field 'bn_param' ignored"
            for i in range(1, 51)]
    msgs.insert(3, "net.prototxt:5:1: layer 'data': 3 channels assumed")
    out = group_warnings(msgs)
    assert out == ["net.prototxt:10:3: layer 'bn1': unknown field 'bn_param' ignored "
                   "(and 49 more like it)",
                   "net.prototxt:5:1: layer 'data': 3 channels assumed"]


def test_different_warnings_stay_apart_and_in_order():
    msgs = ["a.onnx: node 'n1': x", "a.onnx: node 'n2': y", "a.onnx: node 'n3': x"]
    assert group_warnings(msgs) == ["a.onnx: node 'n1': x (and 1 more like it)",
                                    "a.onnx: node 'n2': y"]
    assert group_warnings([]) == []


def _fork_net(layers: int) -> str:
    text = ['name: "fork"', 'input: "data"',
            'input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }']
    bottom = "data"
    for i in range(layers):
        text.append(f'layer {{ name: "c{i}" type: "Convolution" bottom: "{bottom}" '
                    f'top: "c{i}" convolution_param {{ num_output: 3 kernel_size: 1 }} '
                    f'fork_param {{ speed: 2 }} }}')
        bottom = f"c{i}"
    return "\n".join(text) + "\n"


def test_cli_collapses_and_quiet_silences(tmp_path):
    p = tmp_path / "fork.prototxt"
    p.write_text(_fork_net(40))
    proc = run_cli("info", p)
    assert proc.returncode == 0, proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("graphscope: warning:")]
    assert len(warnings) == 1, proc.stderr
    assert "fork_param" in warnings[0] and "(and 39 more like it)" in warnings[0]
    assert f"{p}:4:" in warnings[0]  # the first place
    quiet = run_cli("info", p, "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert quiet.stdout == proc.stdout
