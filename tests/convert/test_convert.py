"""Conversion through the IR: ONNX out passes the checker; PyTorch out computes the same;
--verify finds the first divergent layer."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import graphscope
from graphscope.convert.api import verify_conversion
from graphscope.errors import UnsupportedError
from graphscope.runtime.inputs import make_feeds
from tests.conftest import run_cli
from tests.zoo import onnx_models

MODELS = ["lenet", "small_resnet", "transformer_block", "op_coverage"]


def ort_outputs(model: onnx.ModelProto, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {k: v for k, v in feeds.items()
                           if k in {i.name for i in sess.get_inputs()}})


@pytest.mark.parametrize("name", MODELS)
def test_onnx_to_pytorch_matches_onnxruntime(name):
    model = onnx_models.ALL[name]()
    graph = graphscope.load(model)
    module = graphscope.convert(graph, to="pytorch")
    assert isinstance(module, torch.nn.Module)
    for seed in (0, 1):
        feeds = make_feeds(graph, "random", seed=seed)
        expected = ort_outputs(model, feeds)
        with torch.no_grad():
            got = module(*[torch.from_numpy(feeds[v.name]) for v in graph.inputs])
        got = got if isinstance(got, tuple) else (got,)
        for e, g in zip(expected, got):
            np.testing.assert_allclose(g.numpy(), e, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_ir_to_onnx_passes_full_check_and_computes_the_same(name):
    model = onnx_models.ALL[name]()
    out = graphscope.convert(model, to="onnx")
    onnx.checker.check_model(out, full_check=True)
    assert len(out.graph.value_info) > 0  # shapes inferred
    feeds = make_feeds(graphscope.load(model), "random")
    for e, g in zip(ort_outputs(model, feeds), ort_outputs(out, feeds)):
        np.testing.assert_array_equal(g, e)


def test_perturbed_layer_is_named_as_first_divergence():
    graph = graphscope.load(onnx_models.small_resnet())
    module = graphscope.convert(graph, to="pytorch")
    assert verify_conversion(graph, "pytorch", module, 1e-4, 1e-5).ok
    key = module._names["/layer2/0/conv2/Conv.weight"]
    with torch.no_grad():
        getattr(module, key).mul_(1.01)
    report = verify_conversion(graph, "pytorch", module, 1e-4, 1e-5)
    assert not report.ok
    assert report.first_divergence.node == "/layer2/0/conv2/Conv"
    before = [d for d in report.layers if d.node.startswith(("/stem", "/layer1"))]
    assert before and all(d.ok for d in before)
    assert "first divergence: /layer2/0/conv2/Conv (Conv)" in report.table()


def test_cli_convert_to_torchscript_and_verify(tmp_path, zoo_dir):
    dst = tmp_path / "lenet.pt"
    proc = run_cli("convert", zoo_dir / "lenet.onnx", "-o", dst, "--verify")
    assert proc.returncode == 0, proc.stderr
    assert "all 9 compared values agree" in proc.stdout
    loaded = torch.jit.load(str(dst))
    x = torch.randn(1, 1, 28, 28)
    model = onnx.load(str(zoo_dir / "lenet.onnx"))
    expected = ort_outputs(model, {"data": x.numpy()})[0]
    np.testing.assert_allclose(loaded(x).detach().numpy(), expected, rtol=1e-4, atol=1e-6)


def test_unsupported_ops_are_named_and_nothing_is_written(tmp_path):
    from onnx import helper
    b = onnx_models.Builder("foreign")
    x = b.input("x", [1, 4])
    b.nodes.append(helper.make_node("Relu", [x], ["y"], name="r"))
    b.output("y", 2)
    graph = graphscope.load(b.model())
    graph.nodes[0].op = "caffe.PriorBox"
    with pytest.raises(UnsupportedError, match=r"r \(caffe.PriorBox\)"):
        graphscope.convert(graph, to="onnx", output=tmp_path / "x.onnx")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UnsupportedError, match="caffe.PriorBox"):
        graphscope.convert(graph, to="pytorch")


def test_cli_convert_to_python_source_verifies_every_value(tmp_path, zoo_dir):
    dst = tmp_path / "small_resnet.py"
    proc = run_cli("convert", zoo_dir / "small_resnet.onnx", "-o", dst, "--verify")
    assert proc.returncode == 0, proc.stderr
    graph = graphscope.load(zoo_dir / "small_resnet.onnx")
    n_values = sum(len(n.outputs) for n in graph.nodes)
    assert f"all {n_values} compared values agree" in proc.stdout
    text = dst.read_text()
    assert "class SmallResnet(nn.Module):" in text
    assert text.count("nn.Conv2d(") == sum(n.op == "Conv" for n in graph.nodes)
    assert (tmp_path / "small_resnet.pth").is_file()


def test_perturbed_generated_module_is_caught_at_that_layer(tmp_path):
    graph = graphscope.load(onnx_models.small_resnet())
    result = graphscope.convert(graph, to="pytorch", output=tmp_path / "m.py")
    module = result.model
    assert verify_conversion(graph, "pytorch", module, 1e-4, 1e-5).ok
    with torch.no_grad():
        module.layer2_0_conv2.weight.mul_(1.01)
    report = verify_conversion(graph, "pytorch", module, 1e-4, 1e-5)
    assert report.first_divergence.node == "/layer2/0/conv2/Conv"
    assert all(d.ok for d in report.layers[:report.layers.index(report.first_divergence)])


def test_cli_verify_on_an_image_writes_the_report(tmp_path, zoo_dir):
    from PIL import Image
    img = tmp_path / "digit.png"
    pixels = (np.indices((28, 28)).sum(axis=0) % 7 * 36).astype(np.uint8)
    Image.fromarray(pixels).save(img)
    report = tmp_path / "conv.html"
    proc = run_cli("convert", zoo_dir / "lenet.onnx", "-o", tmp_path / "lenet.py",
                   "--input", img, "--report", report)
    assert proc.returncode == 0, proc.stderr
    assert "all 9 compared values agree" in proc.stdout  # --report implies --verify
    page = report.read_text()
    assert "all 9 compared values agree" in page and page.count("<svg") == 2
    assert "<script src" not in page and "http://" not in page.replace(
        "http://www.w3.org", "")  # offline: nothing fetched
