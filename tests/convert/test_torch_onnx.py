"""PyTorch -> ONNX through torch.onnx's dynamo exporter first, verified against the live module
submodule by submodule; the IR's own lowering when the exporter cannot be used."""
import sys

import numpy as np
import onnxruntime as ort
import pytest

import graphscope
from graphscope.convert.api import verify_conversion

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")
from tests.zoo import torch_models  # noqa: E402


def run_onnx(model, x):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]


@pytest.fixture(scope="module")
def resnet():
    make, example = torch_models.ALL["resnet18"]
    torch.manual_seed(0)
    return make().eval(), example()


def test_dynamo_export_matches_the_module_at_every_submodule(resnet, tmp_path):
    model, x = resnet
    result = graphscope.convert(model, to="onnx", output=tmp_path / "r.onnx", verify=True,
                                example_inputs=(x,))
    assert result.exporter == "torch.onnx (dynamo)" and result.fallback_reason is None
    report = result.report
    assert report.reference == "the torch module" and report.ok
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(report.layers) > len(convs)  # every conv block's output, and more
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(run_onnx(result.model, x), expected, rtol=1e-4, atol=1e-5)
    # the module paths survive as namespaces: the converted graph draws grouped by module
    converted = graphscope.load(tmp_path / "r.onnx")
    assert {"layer1/0", "layer4/1"} <= {n.namespace for n in converted.nodes}


def test_a_perturbed_exported_layer_is_named(resnet):
    from onnx import numpy_helper
    model, x = resnet
    onnx_model = graphscope.convert(model, to="onnx", example_inputs=(x,))
    graph = graphscope.load(onnx_model)
    # the exporter folds each BatchNorm into its conv: the fused Conv sits in the BN's scope
    conv = next(n for n in graph.nodes if n.op == "Conv" and n.namespace == "layer3/0/bn2")
    w = next(t for t in onnx_model.graph.initializer if t.name == conv.inputs[1].name)
    w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w) * np.float32(1.02), w.name))
    report = verify_conversion(graph, "onnx", onnx_model, 1e-4, 1e-5, source=model)
    first = report.first_divergence
    assert first is not None and graph.node(first.node).namespace.startswith("layer3/0")
    assert all(d.ok for d in report.layers[:report.layers.index(first)])


def test_without_onnxscript_the_ir_lowering_is_used_and_says_why(monkeypatch):
    make, example = torch_models.ALL["mobilenetv2"]
    model, x = make().eval(), example()
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if it were not installed
    result = graphscope.convert(model, to="onnx", verify=True, example_inputs=(x,))
    assert result.exporter == "graphscope IR"
    assert "onnxscript" in result.fallback_reason
    assert result.report.ok and result.report.reference == "the torch module"
    with torch.no_grad():
        np.testing.assert_allclose(run_onnx(result.model, x), model(x).numpy(),
                                   rtol=1e-4, atol=1e-5)


def test_cli_pt2_file_goes_through_the_dynamo_exporter(tmp_path):
    from tests.conftest import run_cli
    make, example = torch_models.ALL["mobilenetv2"]
    model, x = make().eval(), example()
    torch.export.save(torch.export.export(model, (x,)), tmp_path / "m.pt2")
    r = run_cli("convert", tmp_path / "m.pt2", "-o", tmp_path / "m.onnx", "--verify")
    assert r.returncode == 0, r.stderr
    assert "source run by the torch module" in r.stdout
    compared = int(r.stdout.split("; ")[1].split()[0])
    assert compared > 20  # the unflattened module's submodules, not only the output
    import onnx
    with torch.no_grad():
        np.testing.assert_allclose(run_onnx(onnx.load(str(tmp_path / "m.onnx")), x),
                                   model(x).numpy(), rtol=1e-4, atol=1e-5)


# -- Hugging Face transformers (tiny configs, tests/zoo/hf_models.py) ---------------------------
def _hf(name):
    pytest.importorskip("transformers")
    from tests.zoo import hf_models
    return hf_models.build(name)


def test_hf_swin_converts_through_the_ir_when_dynamo_fails():
    """Swin's window shifts and padding (roll, pad, index, slice) lower to ONNX ops."""
    model, inputs = _hf("swin")
    result = graphscope.convert(model, to="onnx", verify=True, example_inputs=inputs)
    assert result.report.ok and result.report.reference == "the torch module"
    assert len(result.report.layers) > 10
    with torch.no_grad():
        expected = model(*inputs).last_hidden_state.numpy()
    np.testing.assert_allclose(run_onnx(result.model, inputs[0]), expected, rtol=1e-4,
                               atol=1e-5)


def test_hf_resnet_verify_keeps_copies_of_in_place_outputs():
    """HF ResNet adds its residual in place after the block's output hook fired: the
    reference must hold a copy, or verify reports a divergence that is not there."""
    model, inputs = _hf("resnet")
    result = graphscope.convert(model, to="onnx", verify=True, example_inputs=inputs)
    assert result.report.ok, result.report.first_divergence
    assert len(result.report.layers) > 5


@pytest.mark.slow
@pytest.mark.parametrize("name", ["t5", "whisper"])
def test_hf_seq2seq_converts_and_verifies(name):
    """T5 (the dynamo exporter fails: IR path), Whisper (a None positional argument)."""
    model, inputs = _hf(name)
    result = graphscope.convert(model, to="onnx", verify=True, example_inputs=inputs)
    assert result.report.ok, result.report.first_divergence
    if name == "t5":
        assert result.exporter == "graphscope IR" and "dynamo" in result.fallback_reason


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mixtral", "qwen2_moe"])
def test_hf_moe_converts_through_the_ir(name):
    """The dynamo exporter cannot translate transformers' grouped_mm_fallback; the IR path
    lowers the routing (topk, sort, histc, index_put, grouped_mm) and verifies."""
    model, inputs = _hf(name)
    result = graphscope.convert(model, to="onnx", verify=True, example_inputs=inputs)
    assert result.exporter == "graphscope IR"
    assert "grouped_mm_fallback" in result.fallback_reason
    assert result.report.ok, result.report.first_divergence
    with torch.no_grad():
        expected = model(*inputs).last_hidden_state.numpy()
    sess = ort.InferenceSession(result.model.SerializeToString(),
                                providers=["CPUExecutionProvider"])
    feeds = {sess.get_inputs()[0].name: inputs[0].numpy()}
    np.testing.assert_allclose(sess.run(None, feeds)[0], expected, rtol=1e-4, atol=1e-5)
    back = graphscope.convert(result.model, to="pytorch")
    with torch.no_grad():
        np.testing.assert_allclose(_outputs(back(*inputs))[0], expected, rtol=1e-4, atol=1e-5)


def test_error_names_both_exporters_reasons(monkeypatch):
    from graphscope.errors import GraphscopeError

    class Bessel(torch.nn.Module):  # i0 has no ONNX form on either path
        def forward(self, x):
            return torch.special.i0(x)

    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(GraphscopeError) as err:
        graphscope.convert(Bessel(), to="onnx", example_inputs=(torch.randn(2, 3),))
    text = str(err.value)
    assert "dynamo exporter needs onnxscript" in text
    assert "torch.special_i0" in text.split("before that")[0]


# -- the IR lowerings of MoE routing and advanced indexing (tests/zoo/torch_routing_models.py) --
def _outputs(out):
    return [o.detach().numpy() for o in (out if isinstance(out, (tuple, list)) else (out,))]


@pytest.mark.parametrize("name", ["index", "index_put", "topk_sort", "floor_divide", "histc",
                                  "grouped_mm"])
def test_routing_ops_lower_to_onnx_exactly(name, monkeypatch):
    """Each op's IR lowering against torch itself, through onnxruntime and through
    graphscope's torch backend running the exported ONNX."""
    from tests.zoo import torch_routing_models
    if name == "grouped_mm":
        pytest.importorskip("transformers")
    make, example = torch_routing_models.ALL[name]
    model, inputs = make().eval(), example()
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # the IR path, not the dynamo exporter
    result = graphscope.convert(model, to="onnx", verify=True, example_inputs=inputs)
    assert result.exporter == "graphscope IR" and result.report.ok
    with torch.no_grad():
        expected = _outputs(model(*inputs))
    sess = ort.InferenceSession(result.model.SerializeToString(),
                                providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: inputs[0].numpy()})
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    back = graphscope.convert(result.model, to="pytorch")
    with torch.no_grad():
        for g, e in zip(_outputs(back(*inputs)), expected):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
