"""Models for the viewer's layout tests: deep namespaces, skips across them, many nodes.

Names follow torch.onnx's `/module/path/Op` form, so the namespaces are the module paths.
Weights are tiny and shared where the layout does not care about them."""
from __future__ import annotations

import onnx

from .onnx_models import Builder


def bert_encoder(layers: int = 4, d: int = 32, seq: int = 8) -> onnx.ModelProto:
    """A BERT-style encoder (HF module names): embeddings, `layers` layers of self-attention
    (query/key/value, scores, softmax, context), output dense + residual + LayerNorm, and the
    feed-forward block with its own residual; a pooler on top."""
    b = Builder("bert_encoder")
    ids = b.input("input_ids", [1, seq, d])
    w, bias = b.weight("w", (d, d)), b.weight("b", (d,))
    w4, w4t = b.weight("w4", (d, 4 * d)), b.weight("w4t", (4 * d, d))
    g = b.weight("ln.g", (d,))

    def ln(x, ns):
        return b.op("LayerNormalization", [x, g, bias], name=f"{ns}/LayerNorm/LayerNormalization",
                    axis=-1)

    def dense(x, ns, weight=w):
        y = b.op("MatMul", [x, weight], name=f"{ns}/MatMul")
        return b.op("Add", [y, bias], name=f"{ns}/Add") if weight is w else y

    pos = b.weight("pos", (1, seq, d))
    x = b.op("Add", [ids, pos], name="/embeddings/Add")
    x = ln(x, "/embeddings")
    for i in range(layers):
        p = f"/encoder/layer.{i}"
        q = dense(x, f"{p}/attention/self/query")
        k = dense(x, f"{p}/attention/self/key")
        v = dense(x, f"{p}/attention/self/value")
        kt = b.op("Transpose", [k], name=f"{p}/attention/self/Transpose", perm=[0, 2, 1])
        s = b.op("MatMul", [q, kt], name=f"{p}/attention/self/MatMul")
        s = b.op("Softmax", [s], name=f"{p}/attention/self/Softmax", axis=-1)
        c = b.op("MatMul", [s, v], name=f"{p}/attention/self/MatMul_1")
        o = dense(c, f"{p}/attention/output/dense")
        o = b.op("Add", [o, x], name=f"{p}/attention/output/Add")
        x = ln(o, f"{p}/attention/output")
        h = dense(x, f"{p}/intermediate/dense", w4)
        h = b.op("Relu", [h], name=f"{p}/intermediate/intermediate_act_fn/Relu")
        h = dense(h, f"{p}/output/dense", w4t)
        h = b.op("Add", [h, x], name=f"{p}/output/Add")
        x = ln(h, f"{p}/output")
    first = b.op("ReduceMean", [x], name="/pooler/ReduceMean", axes=[1], keepdims=0)
    y = b.op("Gemm", [first, w, bias], name="/pooler/dense/Gemm")
    b.op("Tanh", [y], name="/pooler/activation/Tanh", outputs=["pooled"])
    b.output("pooled", 2)
    return b.model(check=False)


def unet(levels: int = 4, width: int = 4) -> onnx.ModelProto:
    """A U-Net: an encoder of conv-relu pairs and pools, a bottleneck, a decoder of upsampling
    convolutions, each concatenated with the encoder's skip at its level (long edges that run
    from one namespace to another), and a 1x1 head."""
    b = Builder("unet")
    x = b.input("image", [1, width, 64, 64])
    wts = b.weight("w", (width, width, 3, 3))
    w2 = b.weight("w2", (width, 2 * width, 3, 3))
    up = b.weight("up", (width, width, 2, 2))

    def double(x, ns, weight=wts):
        for j in (1, 2):
            x = b.op("Conv", [x, weight if j == 1 else wts], name=f"{ns}/conv{j}/Conv",
                     kernel_shape=[3, 3], pads=[1, 1, 1, 1])
            x = b.op("Relu", [x], name=f"{ns}/relu{j}/Relu")
        return x

    skips = []
    for i in range(levels):
        x = double(x, f"/encoder/down{i}")
        skips.append(x)
        x = b.op("MaxPool", [x], name=f"/encoder/pool{i}/MaxPool", kernel_shape=[2, 2],
                 strides=[2, 2])
    x = double(x, "/bottleneck")
    for i in reversed(range(levels)):
        x = b.op("ConvTranspose", [x, up], name=f"/decoder/up{i}/upconv/ConvTranspose",
                 kernel_shape=[2, 2], strides=[2, 2])
        x = b.op("Concat", [x, skips[i]], name=f"/decoder/up{i}/Concat", axis=1)
        x = double(x, f"/decoder/up{i}", w2)
    b.op("Conv", [x, b.weight("head", (2, width, 1, 1))], name="/head/Conv", kernel_shape=[1, 1],
         outputs=["mask"])
    b.output("mask", 4)
    return b.model(check=False)


def three_levels(n_nodes: int = 10_000, stages: int = 10, blocks: int = 10) -> onnx.ModelProto:
    """About n_nodes nodes under three levels of namespaces (/stage/block/cell/Op): each cell
    Conv -> Relu -> Add with a skip from the previous cell, each block adds its input back at
    its end (an edge across all its cells)."""
    b = Builder("three_levels")
    x = b.input("x", [1, 4, 8, 8])
    w = b.weight("w", (4, 4, 3, 3))
    cells = max(1, n_nodes // (stages * blocks * 3))
    for s in range(stages):
        for k in range(blocks):
            start = skip = x
            for c in range(cells):
                ns = f"/stage{s}/block{k}/cell{c}"
                y = b.op("Conv", [x, w], name=f"{ns}/Conv", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1])
                y = b.op("Relu", [y], name=f"{ns}/Relu")
                x = b.op("Add", [y, skip], name=f"{ns}/Add")
                skip = y
            x = b.op("Add", [x, start], name=f"/stage{s}/block{k}/residual/Add")
    b.nodes[-1].output[0] = "y"
    b.output("y", 4)
    return b.model(check=False)


def interleaved(blocks: int = 3) -> onnx.ModelProto:
    """Namespaces that take turns along the graph, as Caffe's in-place layers name them
    (conv2_1/x1 -> relu2_1/x1 -> conv2_1/x2 ...): at the level of the namespaces the edges
    run both ways."""
    b = Builder("interleaved")
    x = b.input("x", [1, 4, 8, 8])
    w = b.weight("w", (4, 4, 3, 3))
    for i in range(blocks):
        skip = x
        for j in (1, 2, 3):
            x = b.op("Conv", [x, w], name=f"/conv{i}/x{j}/Conv", kernel_shape=[3, 3],
                     pads=[1, 1, 1, 1])
            x = b.op("Relu", [x], name=f"/relu{i}/x{j}/Relu")
        x = b.op("Add", [x, skip], name=f"/add{i}/Add")
    b.nodes[-1].output[0] = "y"
    b.output("y", 4)
    return b.model(check=False)
