"""Parameter counts are exact; MACs follow the textbook formulas, computed here by hand."""
import numpy as np
import pytest
from onnx import numpy_helper

import graphscope
from tests.zoo import onnx_models


def trainable_elements(model) -> int:
    names = {p.value for p in model.metadata_props if p.key == "trainable"}
    names = set(next(iter(names)).split(","))
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.name in names)


@pytest.mark.parametrize("name", ["lenet", "small_resnet", "transformer_block", "op_coverage"])
def test_param_total_equals_trainable_initializer_elements(name):
    model = onnx_models.ALL[name]()
    assert graphscope.load(model).totals()["params"] == trainable_elements(model)


def test_conv_macs_textbook_formula():
    """MACs = N * Cout * Hout * Wout * (Cin / group) * kh * kw, for every conv of the ResNet."""
    graph = graphscope.load(onnx_models.small_resnet(batch=2))
    convs = [n for n in graph.nodes if n.op == "Conv"]
    assert {n.attrs["group"] for n in convs} >= {1, 4, 8}
    assert {n.attrs["dilations"][0] for n in convs} >= {1, 2}
    assert {n.attrs["strides"][0] for n in convs} >= {1, 2}
    for n in convs:
        nb, cout, ho, wo = n.outputs[0].type.shape
        cin = n.inputs[0].type.shape[1]
        kh, kw = n.attrs["kernel_shape"]
        g = n.attrs["group"]
        assert n.meta["macs"] == nb * cout * ho * wo * (cin // g) * kh * kw, n.name
        w = numpy_helper  # weights' element count is the node's own params (plus bias)
        assert n.meta["params"] == sum(int(np.prod(v.data.shape)) for v in n.weight_inputs())


def test_gemm_and_matmul_macs():
    lenet = graphscope.load(onnx_models.lenet())
    assert lenet.node("ip1").meta["macs"] == 1 * 800 * 500
    assert lenet.node("ip2").meta["macs"] == 500 * 10
    # conv1: 20 maps of 24x24, each a 5x5x1 dot product; conv2: 50 of 8x8, 5x5x20
    assert lenet.node("conv1").meta["macs"] == 20 * 24 * 24 * 25
    assert lenet.node("conv2").meta["macs"] == 50 * 8 * 8 * 25 * 20
    tb = graphscope.load(onnx_models.transformer_block(seq=16, d=64, heads=4))
    # batched Q @ K^T: per sample 4 heads x (16x16 outputs) x 16 inner
    assert tb.node("/attn/scores/MatMul").meta["macs"] == 4 * 16 * 16 * 16
    assert tb.node("/mlp/fc1/MatMul").meta["macs"] == 16 * 64 * 256


def test_conv_transpose_macs_and_activation_bytes():
    g = graphscope.load(onnx_models.op_coverage())
    deconv = g.node("deconv")
    x = deconv.inputs[0].type.shape  # 2x8x8x8 in, weight 8x4x3x3
    assert deconv.meta["macs"] == int(np.prod(x)) * 4 * 3 * 3
    out = deconv.outputs[0].type.shape
    assert deconv.meta["activation_bytes"] == int(np.prod(out)) * 4


def test_shared_weight_counts_once():
    model = onnx_models.chain(30)
    g = graphscope.load(model)
    assert g.totals()["params"] == 8 * 8 * 3 * 3
    assert sum(n.meta["params"] for n in g.nodes) == 10 * 8 * 8 * 3 * 3


def test_resnet50_matches_published_figures():
    """torchvision's resnet50 has 25,557,032 parameters and ~4.1 GMACs at 224x224."""
    t = graphscope.load(onnx_models.resnet50()).totals()
    assert t["params"] == 25_557_032
    assert 4.05e9 < t["macs"] < 4.15e9
