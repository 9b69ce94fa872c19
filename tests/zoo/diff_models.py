"""Model pairs for the diff tests, made from the zoo's models: a copy with every name
changed, a changed kernel, an inserted block, a perturbed weight, a Caffe net with layers
that lower to several ONNX nodes."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from tests.zoo.caffe_models import Net


def copy(model: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def renamed(model: onnx.ModelProto, prefix: str = "r") -> onnx.ModelProto:
    """Every node, value, initializer, input and output renamed; nothing else changed."""
    m = copy(model)
    g = m.graph
    names: dict[str, str] = {}

    def new(name: str) -> str:
        if not name:
            return name
        if name not in names:
            names[name] = f"{prefix}{len(names)}"
        return names[name]

    for i, n in enumerate(g.node):
        n.name = f"{prefix}_node{i}"
        for k, x in enumerate(n.input):
            n.input[k] = new(x)
        for k, x in enumerate(n.output):
            n.output[k] = new(x)
    for t in g.initializer:
        t.name = new(t.name)
    for v in list(g.input) + list(g.output) + list(g.value_info):
        v.name = new(v.name)
    return m


def _node(m: onnx.ModelProto, name: str):
    return next(n for n in m.graph.node if n.name == name)


def _set_attr(node, name, value) -> None:
    for a in node.attribute:
        if a.name == name:
            node.attribute.remove(a)
            break
    node.attribute.append(helper.make_attribute(name, value))


def kernel_changed(model: onnx.ModelProto, conv: str, k: int, pad: int,
                   seed: int = 1) -> onnx.ModelProto:
    """``conv``'s kernel made k x k with padding ``pad`` (a new random weight)."""
    m = copy(model)
    node = _node(m, conv)
    _set_attr(node, "kernel_shape", [k, k])
    _set_attr(node, "pads", [pad] * 4)
    w = next(t for t in m.graph.initializer if t.name == node.input[1])
    old = numpy_helper.to_array(w)
    arr = np.random.default_rng(seed).standard_normal(old.shape[:2] + (k, k)).astype("float32")
    w.CopyFrom(numpy_helper.from_array(arr * 0.1, w.name))
    return m


BLOCK = ("/extra/conv/Conv", "/extra/relu/Relu")


def block_inserted(model: onnx.ModelProto, after: str, channels: int,
                   seed: int = 2) -> onnx.ModelProto:
    """A 1x1 Conv + Relu block (named BLOCK) inserted after node ``after``'s output."""
    m = copy(model)
    g = m.graph
    at = [i for i, n in enumerate(g.node) if n.name == after][0]
    src = g.node[at].output[0]
    for n in g.node[at + 1:]:
        for k, x in enumerate(n.input):
            if x == src:
                n.input[k] = "extra_out"
    w = np.random.default_rng(seed).standard_normal((channels, channels, 1, 1)) * 0.1
    g.initializer.append(numpy_helper.from_array(w.astype("float32"), "extra.weight"))
    new = [helper.make_node("Conv", [src, "extra.weight"], ["extra_conv"], name=BLOCK[0],
                            kernel_shape=[1, 1]),
           helper.make_node("Relu", ["extra_conv"], ["extra_out"], name=BLOCK[1])]
    for i, n in enumerate(new):
        g.node.insert(at + 1 + i, n)
    return m


def perturbed(model: onnx.ModelProto, weight: str, factor: float = 1.01) -> onnx.ModelProto:
    """One initializer scaled by ``factor``."""
    m = copy(model)
    t = next(t for t in m.graph.initializer if t.name == weight)
    t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t) * np.float32(factor), t.name))
    return m


def caffe_lowering_net() -> str:
    """A Caffe net whose layers mostly lower to several ONNX nodes (AVE pooling with its
    divisor map, Eltwise with coefficients, Power, BatchNorm + Scale) around plain ones."""
    n = Net("lowering", (1, 8, 16, 16))
    x = n.relu("relu1", n.conv("conv1", "data", 8, 3, p=1))
    y = n.conv("conv2", x, 8, 3, p=1, bias=False)
    n.bn_scale("2", y)
    y = n.layer("pw", "Power", y, "pw", "power_param { power: 2 scale: 0.5 shift: 1 }")
    s = n.layer("sum", "Eltwise", [x, y], "sum",
                "eltwise_param { operation: SUM coeff: 0.5 coeff: -1 }")
    p = n.pool("pave", s, "AVE", 3, 2, 1)
    z = n.relu("relu3", n.conv("conv3", p, 16, 3, p=1))
    n.softmax("prob", n.fc("fc", n.pool("gap", z, "AVE", global_=True), 10))
    return n.text()


def small_torch_net():
    """A small PyTorch CNN (Conv+BN+ReLU stem, one residual block, pooling, Linear) and an
    example input: a quick module-against-its-export pair."""
    import torch
    import torch.nn as nn
    from tests.zoo.torch_models import BasicBlock

    class SmallNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.relu = nn.ReLU()
            self.layer1 = nn.Sequential(BasicBlock(8, 16, 2))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(16, 5)

        def forward(self, x):
            x = self.layer1(self.relu(self.bn1(self.conv1(x))))
            return self.fc(torch.flatten(self.pool(x), 1))

    torch.manual_seed(0)
    return SmallNet().eval(), torch.randn(1, 3, 16, 16)
