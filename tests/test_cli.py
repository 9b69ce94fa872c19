"""The command line as a user runs it: outputs, the info table and JSON, and every bad input."""
import json
import os
import shutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tests.conftest import needs_dot, run_cli
from tests.zoo import onnx_models


def one_line_error(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("graphscope: error: ")
    assert "Traceback" not in proc.stderr
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def dangling_model(path):
    nodes = [helper.make_node("Add", ["x", "ghost"], ["y"], name="adder")]
    g = helper.make_graph(nodes, "d", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(g), str(path))


def cycle_model(path):
    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="n1"),
             helper.make_node("Relu", ["a"], ["b"], name="n2")]
    g = helper.make_graph(nodes, "c", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(g), str(path))


BAD_INPUTS = {
    "empty": (lambda p: p.write_bytes(b""), "file is empty"),
    "truncated": (lambda p: p.write_bytes(onnx_models.lenet().SerializeToString()[:5000]),
                  "not a valid ONNX model"),
    "random": (lambda p: p.write_bytes(np.random.default_rng(7).bytes(3000)), ""),
    "directory": (lambda p: p.mkdir(), "is a directory"),
    "missing": (lambda p: None, "no such file"),
    "cycle": (cycle_model, "cycle"),
    "dangling": (dangling_model, "'ghost' is not produced"),
}


@pytest.mark.parametrize("command", ["info", "render"])
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(tmp_path, case, command):
    make, fragment = BAD_INPUTS[case]
    path = tmp_path / f"{case}.onnx"
    make(path)
    args = [command, path] + (["--format", "dot", "-o", tmp_path / "out.dot"]
                              if command == "render" else [])
    one_line_error(run_cli(*args), str(path), fragment)
    assert not (tmp_path / "out.dot").exists()  # nothing half-written
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_usage_errors_exit_2(tmp_path, zoo_dir):
    model = zoo_dir / "lenet.onnx"
    one_line_error(run_cli("render", model, "-o", tmp_path / "x.unknown"), "format")
    one_line_error(run_cli("info", model, "--input-shape", "nope=1,2"), "no input 'nope'")
    one_line_error(run_cli("info", model, "--input-shape", "data=1,x-1"), "not a dimension")
    one_line_error(run_cli("info", model, "--from", "klingon"), "unknown format")
    one_line_error(run_cli("render", model, "--rankdir", "XY"), "rankdir")
    proc = run_cli("info", tmp_path / "model.xyz")
    one_line_error(proc, "no such file")
    (tmp_path / "model.xyz").write_text("hello")
    one_line_error(run_cli("info", tmp_path / "model.xyz"), "unrecognised model format")


def test_debug_shows_a_traceback(tmp_path):
    path = tmp_path / "e.onnx"
    path.write_bytes(b"")
    proc = run_cli("--debug", "info", path)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_info_table_lists_every_layer_and_totals(zoo_dir):
    proc = run_cli("info", zoo_dir / "lenet.onnx")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for name in ("conv1", "pool1", "conv2", "ip1", "relu1", "ip2", "prob"):
        assert f"\n{name} " in out
    row = next(line for line in out.splitlines() if line.startswith("ip1 "))
    assert row.split()[-2:] == ["400,500", "400,000"]
    assert "params: 431,080" in out


def test_info_json_schema_and_values(zoo_dir):
    proc = run_cli("info", zoo_dir / "small_resnet.onnx", "--json", "--input-shape",
                   "image=2,3,32,32")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["model"]["format"] == "onnx"
    assert doc["model"]["path"].endswith("small_resnet.onnx")
    assert set(doc["totals"]) >= {"nodes", "params", "macs"}
    assert doc["totals"]["nodes"] == len(doc["nodes"])
    for n in doc["nodes"]:
        assert set(n) >= {"name", "op", "source_op", "namespace", "inputs", "outputs", "attrs",
                          "params", "macs"}
    stem = next(n for n in doc["nodes"] if n["name"] == "/stem/conv/Conv")
    assert stem["outputs"][0]["shape"] == [2, 16, 16, 16]
    assert stem["outputs"][0]["dtype"] == "float32"
    assert stem["namespace"] == "stem/conv"
    assert stem["attrs"]["kernel_shape"] == [7, 7]
    assert stem["params"] == 16 * 3 * 7 * 7 + 16
    assert stem["macs"] == 2 * 16 * 16 * 16 * 3 * 7 * 7
    assert doc["totals"]["params"] == sum(n["params"] for n in doc["nodes"])
    fc = next(n for n in doc["nodes"] if n["name"] == "/head/fc/Gemm")
    assert fc["outputs"][0]["shape"] == [2, 10]


def test_render_defaults_to_svg_next_to_model(tmp_path, zoo_dir):
    shutil.copy(zoo_dir / "lenet.onnx", tmp_path / "lenet.onnx")
    if shutil.which("dot"):
        proc = run_cli("render", tmp_path / "lenet.onnx")
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "lenet.svg").read_text().lstrip().startswith("<?xml")
    proc = run_cli("render", tmp_path / "lenet.onnx", "--format", "mermaid")
    assert proc.returncode == 0
    assert (tmp_path / "lenet.mmd").read_text().startswith("flowchart TB")


@pytest.mark.parametrize("fmt,suffix", [("dot", ".dot"), ("json", ".json"),
                                        ("mermaid", ".mmd")])
def test_text_formats_work_without_graphviz(tmp_path, zoo_dir, fmt, suffix):
    env = dict(os.environ, PATH=str(tmp_path / "empty-bin"))
    out = tmp_path / f"m{suffix}"
    import sys
    proc = __import__("subprocess").run(
        [sys.executable, "-m", "graphscope", "render", str(zoo_dir / "lenet.onnx"), "-o", str(out)],
        capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 100


def test_missing_graphviz_is_a_clear_error(tmp_path, zoo_dir):
    import subprocess
    import sys
    env = dict(os.environ, PATH=str(tmp_path / "empty-bin"))
    proc = subprocess.run([sys.executable, "-m", "graphscope", "render",
                           str(zoo_dir / "lenet.onnx"), "-o", str(tmp_path / "m.svg")],
                          capture_output=True, text=True, env=env)
    line = one_line_error(proc, "apt-get install graphviz")
    assert "dot" in line and not (tmp_path / "m.svg").exists()


def test_formats_lists_readers_writers_and_extras():
    proc = run_cli("formats")
    assert proc.returncode == 0
    assert "onnx" in proc.stdout and "mermaid" in proc.stdout and "[torch]" in proc.stdout
    targets = proc.stdout.split("converts to (graphscope convert):\n")[1].split("extras:")[0]
    assert [line.split()[0] for line in targets.splitlines()] == ["onnx", "pytorch", "tf"]
    assert "onnxruntime CUDA provider: " in proc.stdout


def test_info_does_not_import_torch_or_tensorflow(zoo_dir):
    import subprocess
    import sys
    code = ("import sys, graphscope.cli as c; c.main(['info', sys.argv[1]]); "
            "print('HEAVY', sorted(m for m in ('torch', 'tensorflow', 'keras', 'cv2') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, str(zoo_dir / "lenet.onnx")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout


@needs_dot
def test_python_module_entry_point_and_version():
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("graphscope ")
