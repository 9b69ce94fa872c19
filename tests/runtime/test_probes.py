"""Activation probes: values equal the truncated model's outputs; inputs; reports; bad input."""
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

import graphscope
from graphscope.errors import ParseError, UsageError
from graphscope.runtime.inputs import Preprocess, make_feeds
from tests.conftest import run_cli
from tests.zoo import onnx_models


def truncated_output(model: onnx.ModelProto, feeds: dict, value: str) -> np.ndarray:
    """Run onnxruntime on the model cut at ``value`` (onnx's own extractor)."""
    from onnx.utils import Extractor
    cut = Extractor(onnx.shape_inference.infer_shapes(model)).extract_model([i.name for i in model.graph.input], [value])
    sess = ort.InferenceSession(cut.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {k: v for k, v in feeds.items()
                           if k in {i.name for i in sess.get_inputs()}})[0]


@pytest.mark.parametrize("name", ["small_resnet", "transformer_block"])
def test_every_probe_equals_the_model_cut_at_that_layer(name):
    model = onnx_models.ALL[name]()
    result = graphscope.probe(model, "random", seed=3)
    graph = result.graph
    assert len(result.layers) == sum(len(n.outputs) for n in graph.nodes)
    feeds = make_feeds(graph, "random", seed=3)
    for p in result.layers[::3]:  # every third layer keeps the test quick
        expected = truncated_output(model, feeds, p.name)
        np.testing.assert_allclose(p.array, expected, rtol=1e-5, atol=1e-6, err_msg=p.node)
        assert p.stats["max"] == pytest.approx(float(expected.max()), rel=1e-6)
        assert p.stats["zero_fraction"] == pytest.approx(float(np.mean(expected == 0)))


def test_relu_zero_fraction_and_dead_channels():
    result = graphscope.probe(onnx_models.small_resnet(batch=1), layers="*/relu/Relu")
    relu = result["/stem/relu/Relu"]
    a = relu.array
    assert relu.stats["zero_fraction"] == pytest.approx(float((a == 0).mean()))
    assert relu.stats["dead_channels"] == int(np.all(a == 0, axis=(0, 2, 3)).sum())
    assert {p.op for p in result.layers} == {"Relu"}


def test_layer_patterns_and_top_k():
    result = graphscope.probe(onnx_models.lenet(), layers="conv*,Gemm")
    assert [p.node for p in result.layers] == ["conv1", "conv2", "ip1", "ip2"]
    assert len(result.top_k) == 5
    scores = [s for _, s in result.top_k]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0 + 1e-6
    with pytest.raises(UsageError, match="matches no layer"):
        graphscope.probe(onnx_models.lenet(), layers="nothing_like_this")


def test_image_input_is_preprocessed(tmp_path):
    from PIL import Image
    rgb = np.zeros((28, 28, 3), np.uint8)
    rgb[..., 0] = 200  # red
    rgb[..., 2] = 50   # blue
    Image.fromarray(rgb).save(tmp_path / "red.png")
    g = graphscope.load(onnx_models.small_resnet(batch=1, size=28))
    pre = Preprocess(mean=(10.0, 20.0, 30.0), std=(2.0, 2.0, 2.0), scale=1.0, channel_order="BGR")
    x = make_feeds(g, str(tmp_path / "red.png"), pre)["image"]
    assert x.shape == (1, 3, 28, 28)
    np.testing.assert_allclose(x[0, :, 5, 5], [(50 - 10) / 2, (0 - 20) / 2, (200 - 30) / 2])


def test_bad_inputs(tmp_path):
    model = onnx_models.lenet()
    (tmp_path / "fake.png").write_text("this is not an image")
    with pytest.raises(ParseError, match="not an image"):
        graphscope.probe(model, str(tmp_path / "fake.png"))
    np.save(tmp_path / "wrong.npy", np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(ParseError, match=r"does not match input 'data' 1x1x28x28"):
        graphscope.probe(model, str(tmp_path / "wrong.npy"))
    np.save(tmp_path / "right.npy", np.ones((1, 28, 28), np.float32))  # batch dim added
    assert graphscope.probe(model, str(tmp_path / "right.npy")).input["shape"] == [1, 1, 28, 28]


def test_op_onnxruntime_cannot_run_is_named_and_earlier_layers_still_probed():
    b = onnx_models.Builder("partly")
    x = b.input("x", [1, 3, 8, 8])
    y = b.conv(x, 3, 4, 3, pad=1, name="conv")
    y = b.op("Relu", [y], name="relu")
    b.nodes.append(helper.make_node("Mystery", [y], ["m"], name="mystery", domain="com.example"))
    b.op("Sigmoid", ["m"], name="after", outputs=["out"])
    b.output("out", 4)
    m = b.model(check=False)
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    result = graphscope.probe(m)
    assert [p.node for p in result.layers] == ["conv", "relu"]
    assert any("mystery" in e and "com.example.Mystery" in e for e in result.errors)


def test_cli_probe_writes_report_and_json(tmp_path, zoo_dir):
    proc = run_cli("probe", zoo_dir / "small_resnet.onnx", "--input-shape", "image=1,3,32,32",
                   "-o", tmp_path / "r.html", "--json", tmp_path / "s.json", "--layers", "*Conv")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["input"]["shape"] == [1, 3, 32, 32]
    assert len(doc["layers"]) == 11  # 9 3x3/7x7 convs + 2 downsample 1x1
    first = doc["layers"][0]
    assert set(first) >= {"name", "op", "shape", "stats"} and first["op"] == "Conv"
    assert set(first["stats"]) >= {"min", "max", "mean", "std", "zero_fraction"}
    assert first["shape"] == [1, 16, 16, 16]
    page = (tmp_path / "r.html").read_text()
    assert page.count("alt='feature maps'") == 11
    assert "First convolution's filters" in page and "class=\"hist\"" in page
    assert page.count("<script") >= 1 and "graphscope" in page  # the viewer, inlined
    import re
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg"}  # the SVG namespace, never fetched


def test_cli_probe_bad_input_one_line(tmp_path, zoo_dir):
    proc = run_cli("probe", zoo_dir / "lenet.onnx", "--layers", "zzz", "-o", tmp_path / "r.html")
    assert proc.returncode == 2 and "matches no layer" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "r.html").exists()
