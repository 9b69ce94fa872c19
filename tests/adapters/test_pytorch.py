"""PyTorch adapter: live modules (export and jit.trace paths), checked against torch itself."""
from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import graphscope  # noqa: E402
from graphscope.adapters import pytorch as pt  # noqa: E402
from graphscope.errors import ShapeError, UsageError  # noqa: E402
from tests.zoo import torch_models as Z  # noqa: E402

COSTLY = {"Conv", "ConvTranspose", "Gemm", "MatMul", "Attention", "torch.linear", "torch.lstm",
          "torch.gru"}


@pytest.fixture(scope="module")
def zoo():
    """name -> (module, input, graph), each model loaded once."""
    out = {}
    for name, (build, make_input) in Z.ALL.items():
        m, x = build(), make_input()
        out[name] = (m, x, graphscope.load(m, example_inputs=(x,)))
    return out


def hook_shapes(module, x) -> dict[str, tuple]:
    """Output shape of every module call, seen by forward hooks: path -> shape."""
    seen, handles = {}, []
    for path, m in module.named_modules():
        def hook(mod, inp, out, path=path):
            t = out[0] if isinstance(out, tuple) else out
            if isinstance(t, torch.Tensor):
                seen[path.replace(".", "/")] = tuple(t.shape)
        handles.append(m.register_forward_hook(hook))
    with torch.no_grad():
        module(x)
    for h in handles:
        h.remove()
    return seen


def rnn_macs(rnn, steps: int) -> int:
    """fvcore-style count for nn.LSTM/nn.GRU from the module's own settings: per step, layer
    and direction, gates*hidden x (input + hidden)."""
    gates = {"LSTM": 4, "GRU": 3}[type(rnn).__name__]
    dirs = 2 if rnn.bidirectional else 1
    total = 0
    for layer in range(rnn.num_layers):
        inp = rnn.input_size if layer == 0 else rnn.hidden_size * dirs
        total += dirs * gates * rnn.hidden_size * (inp + rnn.hidden_size)
    return steps * total


def reference_macs(module, x) -> int:
    """An independent count: torch's FlopCounterMode (2 FLOPs per multiply-add), with the
    math attention kernel so that attention decomposes into counted bmm's; recurrent modules,
    whose CPU kernels it does not see whole, are counted from their settings instead."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fc:
        module(x)  # grad mode on: no fused inference fast paths hiding work from the counter
    counts = fc.get_flop_counts()
    total = sum(counts["Global"].values()) // 2
    root = type(module).__name__
    for path, m in module.named_modules():
        if isinstance(m, (torch.nn.LSTM, torch.nn.GRU)):
            total -= sum(counts.get(f"{root}.{path}", {}).values()) // 2
            total += rnn_macs(m, x.shape[0] * x.shape[1])
    return total


@pytest.mark.parametrize("name", list(Z.ALL))
def test_params_equal_module_parameters(zoo, name):
    m, _, g = zoo[name]
    assert g.totals()["params"] == sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("name", list(Z.ALL))
def test_capture_path(zoo, name):
    g = zoo[name][2]
    expected = "torch.jit.trace" if name == "datadep" else "torch.export"
    assert g.metadata["capture"] == expected
    if name == "datadep":
        assert "torch.export" in g.metadata["capture_fallback_reason"]


@pytest.mark.parametrize("name", list(Z.ALL))
def test_namespaces_are_module_paths(zoo, name):
    m, _, g = zoo[name]
    paths = {p.replace(".", "/") for p, _ in m.named_modules()}
    used = {n.namespace for n in g.nodes}
    assert used <= paths
    # every module that owns parameters shows up as a namespace (or the parent of one)
    owners = {p.rsplit(".", 1)[0].replace(".", "/") for p, _ in m.named_parameters() if "." in p}
    covered = {"/".join(ns.split("/")[:i]) for ns in used for i in range(1, ns.count("/") + 2)}
    assert owners - {"encoder/layers/0/self_attn/out_proj", ""} <= covered
    classes = g.metadata["modules"]
    for path, mod in m.named_modules():
        ns = path.replace(".", "/")
        if ns in classes:
            assert classes[ns] == type(mod).__name__


@pytest.mark.parametrize("name", list(Z.ALL))
def test_output_shapes_match_forward_hooks(zoo, name):
    m, x, g = zoo[name]
    seen = hook_shapes(m, x)
    last = {}
    for n in g.nodes:  # topological: the last node of a namespace produces the module's output
        if n.namespace:
            last[n.namespace] = n
    checked = 0
    for ns, node in last.items():
        if ns in seen and not any(k.startswith(ns + "/") for k in last):  # leaf modules
            assert node.outputs[0].type.shape == seen[ns], (ns, node)
            checked += 1
    assert checked >= min(3, len(seen) - 1)
    for v in g.outputs:
        assert v.type.is_static()


@pytest.mark.parametrize("name", list(Z.ALL))
def test_macs_agree_with_flop_counter(zoo, name):
    m, x, g = zoo[name]
    ours = sum(n.meta["macs"] or 0 for n in g.nodes if n.op in COSTLY)
    ref = reference_macs(m, x)
    assert ref > 0
    assert abs(ours - ref) / ref < 0.01, (ours, ref)


def test_canonical_ops(zoo):
    ops = {n.op for n in zoo["resnet18"][2].nodes}
    assert {"Conv", "BatchNormalization", "Relu", "MaxPool", "Add", "GlobalAveragePool",
            "Flatten", "Gemm"} <= ops
    conv = next(n for n in zoo["resnet18"][2].nodes if n.namespace == "conv1")
    assert conv.attrs == {"kernel_shape": [7, 7], "strides": [2, 2], "pads": [3, 3, 3, 3],
                          "dilations": [1, 1], "group": 1}
    bn = next(n for n in zoo["resnet18"][2].nodes if n.op == "BatchNormalization")
    assert [v.name for v in bn.inputs[3:]] == ["bn1.running_mean", "bn1.running_var"]
    dw = [n for n in zoo["mobilenetv2"][2].nodes if n.op == "Conv" and n.attrs["group"] > 1]
    assert len(dw) == 4
    vit = {n.op for n in zoo["vit"][2].nodes}
    assert {"Attention", "MatMul", "Softmax", "LayerNormalization", "Transpose"} <= vit
    unet = zoo["unet"][2]
    assert sum(n.op == "ConvTranspose" for n in unet.nodes) == 2
    assert sum(n.op == "Concat" for n in unet.nodes) == 2
    seq = {n.op for n in zoo["seq"][2].nodes}
    assert {"Embedding", "torch.lstm", "torch.gru"} <= seq


def test_weights_are_lazy_and_correct(zoo):
    m, _, g = zoo["unet"]
    w = g.weights["head.weight"]
    assert not w.data.loaded
    assert (w.data.array == m.head.weight.detach().numpy()).all()


def test_depth_collapse_shows_modules(zoo):
    from graphscope.ir.grouping import build_view
    g = zoo["resnet18"][2]
    view = build_view(g, depth=0)
    groups = {b.namespace: b for b in view.boxes if b.kind == "group"}
    assert {"layer1", "layer2", "layer3", "layer4"} <= set(groups)
    m = zoo["resnet18"][0]
    assert groups["layer2"].params() == sum(p.numel() for p in m.layer2.parameters())
    assert g.metadata["modules"]["layer2"] == "Sequential"
    assert g.metadata["modules"]["layer2/0"] == "BasicBlock"


def test_forced_jit_path_gives_same_totals(zoo):
    m, x, g = zoo["mobilenetv2"]
    j = graphscope.load(m, example_inputs=(x,), capture="jit")
    assert j.metadata["capture"] == "torch.jit.trace"
    for key in ("params", "macs"):
        assert j.totals()[key] == g.totals()[key]
    assert {n.namespace for n in j.nodes} == {n.namespace for n in g.nodes}


def test_dynamic_batch_is_symbolic():
    m = Z.ALL["mobilenetv2"][0]()
    batch = torch.export.Dim("batch", min=2, max=64)
    g = graphscope.load(m, example_inputs=(torch.randn(2, 3, 32, 32),),
                        dynamic_shapes={"x": {0: batch}})
    assert isinstance(g.inputs[0].type.shape[0], str)
    assert g.outputs[0].type.shape[1] == 10 and isinstance(g.outputs[0].type.shape[0], str)


def test_input_shapes_build_example_inputs():
    m = Z.ALL["unet"][0]()
    g = graphscope.load(m, input_shapes={"x": (1, 3, 16, 16)})
    assert g.outputs[0].type.shape == (1, 2, 16, 16)
    seq = graphscope.load(Z.ALL["seq"][0](), input_shapes={"tokens": (3, 5)})
    assert seq.outputs[0].type.shape == (3, 5)
    with pytest.raises(UsageError, match="no input 'img'"):
        graphscope.load(m, input_shapes={"img": (1, 3, 16, 16)})
    with pytest.raises(UsageError, match="example inputs"):
        graphscope.load(m)


def test_wrong_example_input_is_one_error():
    m = Z.ALL["resnet18"][0]()
    with pytest.raises(ShapeError, match="cannot run on the example input"):
        graphscope.load(m, example_inputs=(torch.randn(1, 5, 32, 32),))


def test_match_is_cheap_and_precise(tmp_path):
    assert pt.match(Path("m.pt2")) and pt.match(Path("m.pth"))
    assert not pt.match(Path("m.onnx")) and not pt.match(Path("m.caffemodel"))
    other = tmp_path / "weights.bin"
    other.write_bytes(b"\x00\x01\x02\x03rawfloats")
    assert not pt.match(other)  # a .bin that is not a zip or a pickle is someone else's
    assert pt.match(Z.ALL["unet"][0]())
    assert not pt.match({"a": 1})


def test_fx_symbolic_trace_path_gives_the_export_graph():
    """The torch.fx middle path (forced here) reads ResNet-18 with the same totals, shapes and
    module paths as torch.export."""
    make, example = Z.ALL["resnet18"]
    model, x = make().eval(), example()
    via_export = graphscope.load(model, example_inputs=(x,))
    via_fx = graphscope.load(model, example_inputs=(x,), capture="fx")
    assert via_fx.metadata["capture"] == "torch.fx"
    assert via_fx.totals()["params"] == via_export.totals()["params"] == \
        sum(p.numel() for p in model.parameters())
    assert via_fx.totals()["macs"] == via_export.totals()["macs"]
    assert via_fx.outputs[0].type.shape == via_export.outputs[0].type.shape
    assert {n.namespace for n in via_fx.nodes} == {n.namespace for n in via_export.nodes}


def test_data_dependent_model_falls_past_fx_to_jit_trace():
    make, example = Z.ALL["datadep"]
    g = graphscope.load(make().eval(), example_inputs=(example(),))
    assert g.metadata["capture"] == "torch.jit.trace"
    assert "torch.export" in g.metadata["capture_fallback_reason"]
