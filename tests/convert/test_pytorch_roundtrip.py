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


@pytest.mark.parametrize("name", CNNS + ["vit"])
def test_pytorch_to_onnx_and_back_match_the_module(name):
    model, x = original(name)
    with torch.no_grad():
        expected = model(x).numpy()
    graph = graphscope.load(model, example_inputs=(x,))
    onnx_model = graphscope.convert(graph, to="onnx")
    import onnxruntime as ort
    sess = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    module = graphscope.convert(graph, to="pytorch")
    with torch.no_grad():
        back = module(x).numpy()
    np.testing.assert_allclose(back, expected, rtol=1e-4, atol=1e-5)


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
