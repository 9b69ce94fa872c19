"""PyTorch models through the IR: to ONNX (onnxruntime) and back to a torch module, the
outputs match the original module; probes through ONNX Runtime equal torch's forward hooks."""
import numpy as np
import pytest

import graphscope

torch = pytest.importorskip("torch")
from tests.zoo import torch_models  # noqa: E402

CNNS = ["resnet18", "mobilenetv2", "unet"]


def original(name):
    make, example = torch_models.ALL[name]
    model = make().eval()
    return model, example()


def structured_inputs(x):
    """Inputs that are not noise, shaped like ``x``: a smooth ramp, a checkerboard, zeros and
    a constant (conversions that get borders or signs wrong show up on these)."""
    shape = x.shape
    ramp = torch.linspace(-1, 1, x.numel()).reshape(shape)
    idx = torch.arange(x.numel()).reshape(shape)
    checker = ((idx + idx // shape[-1]) % 2).float() * 2 - 1
    return {"ramp": ramp, "checkerboard": checker, "zeros": torch.zeros(shape),
            "constant": torch.full(shape, 0.75)}


@pytest.mark.parametrize("name", CNNS + ["vit"])
def test_pytorch_to_onnx_and_back_match_the_module(name, tmp_path):
    import onnxruntime as ort

    from graphscope.convert import torch_source
    model, x = original(name)
    graph = graphscope.load(model, example_inputs=(x,))
    onnx_model = graphscope.convert(graph, to="onnx")
    sess = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    module = graphscope.convert(graph, to="pytorch")
    generated = graphscope.convert(graph, to="pytorch", output=tmp_path / "m.py").model
    assert isinstance(generated, torch.nn.Module) and "graphscope" not in \
        (tmp_path / "m.py").read_text().split("import torch", 1)[1]
    inputs = {"random": x, **structured_inputs(x)}
    for label, xi in inputs.items():
        with torch.no_grad():
            expected = model(xi).numpy()
            back, gen = module(xi).numpy(), generated(xi).numpy()
        got = sess.run(None, {sess.get_inputs()[0].name: xi.numpy()})[0]
        for target, out in (("onnx", got), ("pytorch", back), ("python source", gen)):
            np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5,
                                       err_msg=f"{name} -> {target} on {label} input")
    assert torch_source.generate(graph).local_of  # values are named for --verify


def test_probe_through_onnxruntime_equals_torch_forward_hooks():
    model, x = original("resnet18")
    seen = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, name=name: seen.__setitem__(name, o))
             for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    graph = graphscope.load(model, example_inputs=(x,))
    result = graphscope.probe(graph, x.numpy(), layers="Conv")
    by_namespace = {graph.node(p.node).namespace: p for p in result.layers}
    assert len(seen) == len(by_namespace) > 10
    for path, out in seen.items():
        p = by_namespace[path.replace(".", "/")]
        np.testing.assert_allclose(p.array, out.numpy(), rtol=1e-4, atol=1e-5, err_msg=path)


def test_probe_backends_agree_on_a_pytorch_model():
    model, x = original("mobilenetv2")
    graph = graphscope.load(model, example_inputs=(x,))
    via_ort = graphscope.probe(graph, x.numpy())
    via_torch = graphscope.probe(graph, x.numpy(), backend="torch")
    assert [p.name for p in via_ort.layers] == [p.name for p in via_torch.layers]
    assert len(via_ort.layers) > 20
    for a, b in zip(via_ort.layers, via_torch.layers):
        np.testing.assert_allclose(b.array, a.array, rtol=1e-4, atol=1e-5, err_msg=a.node)
    assert via_ort.top_k[0][0] == via_torch.top_k[0][0]
