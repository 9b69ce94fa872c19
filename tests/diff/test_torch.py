"""A PyTorch module against its ONNX export (the dynamo exporter, which fuses BatchNorm into
the Conv before it): the weighted layers match, weights agree, a perturbed one is named."""
from __future__ import annotations

import pytest

import graphscope
from tests.zoo import diff_models as dm

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.slow  # one capture and one export: ~25 s on 2 cores


@pytest.fixture(scope="module")
def module_and_export():
    """A small ResNet-style module (names like layer1.0.conv1); the zoo's ResNet18 behaves
    the same (docs/diff.md) but takes twice as long to export."""
    module, x = dm.small_torch_net()
    a = graphscope.load(module, example_inputs=(x,))
    exported = graphscope.convert(module, to="onnx", example_inputs=(x,))
    return a, exported


def test_module_against_its_export(module_and_export):
    a, exported = module_and_export
    r = graphscope.diff(a, exported, weights=True)
    assert r.weighted_match_ratio() >= 0.95
    assert r.weighted_match_ratio("b") >= 0.95
    convs = [n for n in a.nodes if n.op == "Conv"]
    # every Conv is matched to an exported Conv reading the same weight tensor
    for conv in convs:
        p = r.pair_of(conv.name)
        assert p is not None and "Conv" in p["ops"][1]
        assert conv.inputs[1].name in p["weights"] and p["weights"][conv.inputs[1].name]["equal"]
    # BatchNorms were fused away by the exporter: each is grouped with its Conv
    fused = [p for p in r.pairs if p["match"] == "fused"]
    assert len(fused) == sum(n.op == "BatchNormalization" for n in a.nodes) == 4
    unequal = [k for p in r.pairs for k, e in p.get("weights", {}).items()
               if isinstance(e, dict) and e["equal"] is False]
    assert unequal == []
    assert r.summary["changed"] == 0


def test_perturbed_layer_is_the_one_named(module_and_export):
    a, exported = module_and_export
    w = "layer1.0.conv2.weight"
    r = graphscope.diff(a, dm.perturbed(exported, w, 1.05), weights=True)
    named = [p["a"] for p in r.pairs if p["changes"].get("weights")]
    conv = next(n for n in a.nodes if n.op == "Conv" and n.inputs[1].name == w)
    assert len(named) == 1 and conv.name in named[0]
    assert r.pair_of(conv.name)["weights"][w]["max_rel"] == pytest.approx(0.05, rel=1e-3)
