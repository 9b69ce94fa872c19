"""ONNX models built in code (random weights), shared by tests, samples and benchmarks."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class Builder:
    """A few lines per layer: b.conv(x, 3, 16, 3) adds a Conv node with random weights."""

    def __init__(self, name: str, opset: int = OPSET, seed: int = 0):
        self.name = name
        self.opset = opset
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.count = 0
        self.trainable: list[str] = []  # what a training framework would call parameters

    def fresh(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def input(self, name, shape, dtype=TensorProto.FLOAT):
        self.inputs.append(helper.make_tensor_value_info(name, dtype, shape))
        return name

    def output(self, name, rank, dtype=TensorProto.FLOAT):
        """Outputs declare only their rank: their dims are for shape inference to find."""
        self.outputs.append(helper.make_tensor_value_info(name, dtype, [None] * rank))
        return name

    def weight(self, name, shape, scale=0.1, trainable=True):
        arr = (self.rng.standard_normal(shape) * scale).astype(np.float32)
        self.inits.append(numpy_helper.from_array(arr, name))
        if trainable:
            self.trainable.append(name)
        return name

    def const(self, name, values, dtype=np.int64):
        self.inits.append(numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name

    def op(self, op_type, inputs, n_out=1, name=None, outputs=None, **attrs):
        name = name or self.fresh(op_type.lower())
        outs = outputs or ([f"{name}_out"] if n_out == 1 else
                           [f"{name}_out{i}" for i in range(n_out)])
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=name, **attrs))
        return outs[0] if n_out == 1 else outs

    def conv(self, x, cin, cout, k, stride=1, pad=0, dil=1, group=1, bias=True, name=None,
             **extra):
        name = name or self.fresh("conv")
        w = self.weight(f"{name}.weight", (cout, cin // group, k, k))
        ins = [x, w] + ([self.weight(f"{name}.bias", (cout,))] if bias else [])
        attrs = dict(kernel_shape=[k, k], strides=[stride, stride], dilations=[dil, dil],
                     group=group, **extra)
        if "auto_pad" not in extra:
            attrs["pads"] = [pad] * 4
        return self.op("Conv", ins, name=name, **attrs)

    def bn(self, x, c, name=None):
        name = name or self.fresh("bn")
        ws = [self.weight(f"{name}.{p}", (c,)) for p in ("scale", "bias")]
        ws.append(self.weight(f"{name}.mean", (c,), trainable=False))
        var = f"{name}.var"
        self.inits.append(numpy_helper.from_array(
            (self.rng.random(c) + 0.5).astype(np.float32), var))
        return self.op("BatchNormalization", [x, *ws, var], name=name, epsilon=1e-5)

    def gemm(self, x, cin, cout, name=None):
        name = name or self.fresh("fc")
        w = self.weight(f"{name}.weight", (cout, cin))
        b = self.weight(f"{name}.bias", (cout,))
        return self.op("Gemm", [x, w, b], name=name, transB=1)

    def model(self, check: bool = True) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                              producer_name="graphscope-zoo")
        m.ir_version = 8
        helper.set_model_props(m, {"trainable": ",".join(self.trainable)})
        if check:
            onnx.checker.check_model(m, full_check=False)
        return m


def lenet() -> onnx.ModelProto:
    b = Builder("lenet")
    x = b.input("data", [1, 1, 28, 28])
    x = b.conv(x, 1, 20, 5, name="conv1")
    x = b.op("MaxPool", [x], name="pool1", kernel_shape=[2, 2], strides=[2, 2])
    x = b.conv(x, 20, 50, 5, name="conv2")
    x = b.op("MaxPool", [x], name="pool2", kernel_shape=[2, 2], strides=[2, 2])
    x = b.op("Flatten", [x], name="flatten", axis=1)
    x = b.gemm(x, 800, 500, name="ip1")
    x = b.op("Relu", [x], name="relu1")
    x = b.gemm(x, 500, 10, name="ip2")
    b.op("Softmax", [x], name="prob", outputs=["prob"], axis=1)
    b.output("prob", 2)
    return b.model()


def _block(b: Builder, x, cin, cout, stride, ns, group=1, dil=1):
    """A basic residual block whose node names carry the namespace, as torch.onnx writes them."""
    y = b.conv(x, cin, cout, 3, stride=stride, pad=1, name=f"/{ns}/conv1/Conv")
    y = b.bn(y, cout, name=f"/{ns}/bn1/BatchNormalization")
    y = b.op("Relu", [y], name=f"/{ns}/relu/Relu")
    y = b.conv(y, cout, cout, 3, pad=dil, dil=dil, group=group, name=f"/{ns}/conv2/Conv")
    y = b.bn(y, cout, name=f"/{ns}/bn2/BatchNormalization")
    if stride != 1 or cin != cout:
        x = b.conv(x, cin, cout, 1, stride=stride, bias=False, name=f"/{ns}/downsample/0/Conv")
        x = b.bn(x, cout, name=f"/{ns}/downsample/1/BatchNormalization")
    y = b.op("Add", [y, x], name=f"/{ns}/Add")
    return b.op("Relu", [y], name=f"/{ns}/relu_1/Relu")


def small_resnet(batch="N", size=64) -> onnx.ModelProto:
    """ResNet-style: strided stem, grouped and dilated 3x3s, projections, GAP, FC."""
    b = Builder("small_resnet")
    x = b.input("image", [batch, 3, size, size])
    x = b.conv(x, 3, 16, 7, stride=2, pad=3, name="/stem/conv/Conv")
    x = b.bn(x, 16, name="/stem/bn/BatchNormalization")
    x = b.op("Relu", [x], name="/stem/relu/Relu")
    x = b.op("MaxPool", [x], name="/stem/pool/MaxPool", kernel_shape=[3, 3], strides=[2, 2],
             pads=[1, 1, 1, 1])
    x = _block(b, x, 16, 16, 1, "layer1/0")
    x = _block(b, x, 16, 32, 2, "layer2/0", group=4)
    x = _block(b, x, 32, 64, 2, "layer3/0", dil=2)
    x = _block(b, x, 64, 64, 1, "layer3/1", group=8, dil=2)
    x = b.op("GlobalAveragePool", [x], name="/head/pool/GlobalAveragePool")
    x = b.op("Flatten", [x], name="/head/Flatten", axis=1)
    b.gemm(x, 64, 10, name="/head/fc/Gemm")
    b.nodes[-1].output[0] = "logits"
    b.output("logits", 2)
    return b.model()


def _bottleneck(b: Builder, x, cin, mid, stride, ns):
    cout = mid * 4
    y = b.conv(x, cin, mid, 1, bias=False, name=f"/{ns}/conv1/Conv")
    y = b.op("Relu", [b.bn(y, mid, name=f"/{ns}/bn1/BatchNormalization")], name=f"/{ns}/relu/Relu")
    y = b.conv(y, mid, mid, 3, stride=stride, pad=1, bias=False, name=f"/{ns}/conv2/Conv")
    y = b.op("Relu", [b.bn(y, mid, name=f"/{ns}/bn2/BatchNormalization")],
             name=f"/{ns}/relu_1/Relu")
    y = b.conv(y, mid, cout, 1, bias=False, name=f"/{ns}/conv3/Conv")
    y = b.bn(y, cout, name=f"/{ns}/bn3/BatchNormalization")
    if stride != 1 or cin != cout:
        x = b.conv(x, cin, cout, 1, stride=stride, bias=False, name=f"/{ns}/downsample/0/Conv")
        x = b.bn(x, cout, name=f"/{ns}/downsample/1/BatchNormalization")
    return b.op("Relu", [b.op("Add", [y, x], name=f"/{ns}/Add")], name=f"/{ns}/relu_2/Relu")


def resnet50(size=224) -> onnx.ModelProto:
    """ResNet-50 (torchvision layout: stride on the 3x3), random weights: 25.6M params."""
    b = Builder("resnet50")
    x = b.input("image", [1, 3, size, size])
    x = b.conv(x, 3, 64, 7, stride=2, pad=3, bias=False, name="/conv1/Conv")
    x = b.op("Relu", [b.bn(x, 64, name="/bn1/BatchNormalization")], name="/relu/Relu")
    x = b.op("MaxPool", [x], name="/maxpool/MaxPool", kernel_shape=[3, 3], strides=[2, 2],
             pads=[1, 1, 1, 1])
    cin = 64
    for i, (mid, blocks, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]):
        for j in range(blocks):
            x = _bottleneck(b, x, cin, mid, stride if j == 0 else 1, f"layer{i + 1}/{j}")
            cin = mid * 4
    x = b.op("GlobalAveragePool", [x], name="/avgpool/GlobalAveragePool")
    x = b.op("Flatten", [x], name="/Flatten", axis=1)
    b.gemm(x, 2048, 1000, name="/fc/Gemm")
    b.nodes[-1].output[0] = "logits"
    b.output("logits", 2)
    return b.model()


def transformer_block(seq=16, d=64, heads=4, batch="N") -> onnx.ModelProto:
    """Pre-norm encoder block; head reshapes use Shape->Gather->Concat as torch exports do."""
    b = Builder("transformer_block")
    hd = d // heads
    x = b.input("tokens", [batch, seq, d])
    ln_s, ln_b = b.weight("ln1.scale", (d,)), b.weight("ln1.bias", (d,))
    h = b.op("LayerNormalization", [x, ln_s, ln_b], name="/attn/ln/LayerNormalization", axis=-1)
    shape = b.op("Shape", [h], name="/attn/Shape")
    nb = b.op("Gather", [shape, b.const("idx0", [0])], name="/attn/Gather", axis=0)
    split_shape = b.op("Concat", [nb, b.const("tail", [seq, heads, hd])], name="/attn/Concat",
                       axis=0)
    merge_shape = b.op("Concat", [nb, b.const("tail2", [seq, d])], name="/attn/Concat_1", axis=0)

    def head(kind):
        p = b.op("MatMul", [h, b.weight(f"{kind}.weight", (d, d))], name=f"/attn/{kind}/MatMul")
        p = b.op("Add", [p, b.weight(f"{kind}.bias", (d,))], name=f"/attn/{kind}/Add")
        p = b.op("Reshape", [p, split_shape], name=f"/attn/{kind}/Reshape")
        perm = [0, 2, 3, 1] if kind == "k" else [0, 2, 1, 3]
        return b.op("Transpose", [p], name=f"/attn/{kind}/Transpose", perm=perm)

    q, k, v = head("q"), head("k"), head("v")
    s = b.op("MatMul", [q, k], name="/attn/scores/MatMul")
    s = b.op("Div", [s, b.const("scale", [np.sqrt(hd)], np.float32)], name="/attn/scores/Div")
    a = b.op("Softmax", [s], name="/attn/softmax/Softmax", axis=-1)
    o = b.op("MatMul", [a, v], name="/attn/context/MatMul")
    o = b.op("Transpose", [o], name="/attn/context/Transpose", perm=[0, 2, 1, 3])
    o = b.op("Reshape", [o, merge_shape], name="/attn/context/Reshape")
    o = b.op("MatMul", [o, b.weight("proj.weight", (d, d))], name="/attn/proj/MatMul")
    x = b.op("Add", [x, o], name="/attn/residual/Add")
    h = b.op("LayerNormalization", [x, b.weight("ln2.scale", (d,)), b.weight("ln2.bias", (d,))],
             name="/mlp/ln/LayerNormalization", axis=-1)
    h = b.op("MatMul", [h, b.weight("fc1.weight", (d, 4 * d))], name="/mlp/fc1/MatMul")
    h = b.op("Relu", [h], name="/mlp/act/Relu")
    h = b.op("MatMul", [h, b.weight("fc2.weight", (4 * d, d))], name="/mlp/fc2/MatMul")
    b.op("Add", [x, h], name="/mlp/residual/Add", outputs=["out"])
    b.output("out", 3)
    return b.model()


def op_coverage(opset=17) -> onnx.ModelProto:
    """One of many ops whose shape rules the tests check against onnxruntime."""
    b = Builder("op_coverage", opset=opset)
    x = b.input("x", [2, 8, 15, 15])
    c = b.op("Conv", [x, b.weight("sc.w", (8, 8, 3, 3))], name="same_conv",
             kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")
    t = b.op("ConvTranspose", [c, b.weight("ct.w", (8, 4, 3, 3))], name="deconv",
             strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])
    t2 = b.op("ConvTranspose", [c, b.weight("ct2.w", (8, 2, 4, 4))], name="deconv_group",
              strides=[2, 2], group=2)
    ap = b.op("AveragePool", [x], name="avgpool_ceil", kernel_shape=[3, 3], strides=[2, 2],
              pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=0)
    mp = b.op("MaxPool", [x], name="maxpool_ceil", kernel_shape=[2, 2], strides=[2, 2],
              ceil_mode=1)
    lrn = b.op("LRN", [ap], name="lrn", size=5, alpha=1e-4, beta=0.75)
    cat = b.op("Concat", [lrn, mp], name="concat", axis=1)
    parts = b.op("Split", [cat, b.const("splits", [4, 12])], n_out=2, name="split", axis=1)
    sq = b.op("ReduceMean", [parts[0]], name="rmean", axes=[2, 3], keepdims=1)
    sq = b.op("Squeeze", [sq, b.const("sq_axes", [2, 3])], name="squeeze")
    us = b.op("Unsqueeze", [sq, b.const("us_axes", [2, 3])], name="unsqueeze")
    sl = b.op("Slice", [parts[1], b.const("st", [1, 0]), b.const("en", [7, 100]),
                        b.const("ax", [2, 3]), b.const("sp", [2, 3])], name="slice")
    pd = b.op("Pad", [sl, b.const("pads", [0, 0, 1, 2, 0, 0, 3, 4])], name="pad")
    rs = b.op("Resize", [pd, "", b.const("scales", [1, 1, 2, 1.5], np.float32)], name="resize",
              mode="nearest")
    dr = b.op("Dropout", [rs], name="dropout")
    idn = b.op("Identity", [dr], name="identity")
    tr = b.op("Transpose", [idn], name="transpose", perm=[0, 2, 3, 1])
    fl = b.op("Flatten", [tr], name="flatten", axis=2)
    rh = b.op("Reshape", [fl, b.const("shape", [0, -1])], name="reshape")
    sm = b.op("Softmax", [rh], name="softmax", axis=-1)
    b.op("Sigmoid", [sm], name="sigmoid", outputs=["y1"])
    gp = b.op("GlobalMaxPool", [t], name="gmp")
    b.op("Mul", [gp, us], name="mul", outputs=["y2"])
    b.op("Relu", [t2], name="relu_t2", outputs=["y3"])
    for name, rank in (("y1", 2), ("y2", 4), ("y3", 4)):
        b.output(name, rank)
    return b.model()


def if_model() -> onnx.ModelProto:
    """An If whose branches are subgraphs reading an outer value."""
    b = Builder("if_model")
    x = b.input("x", [1, 4])
    cond = b.input("cond", [], TensorProto.BOOL)
    w = b.weight("w", (4, 4))
    then_g = helper.make_graph(
        [helper.make_node("MatMul", [x, w], ["t_out"], name="then_matmul")], "then", [],
        [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, [1, 4])])
    else_g = helper.make_graph(
        [helper.make_node("Relu", [x], ["e_out"], name="else_relu")], "else", [],
        [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, [1, 4])])
    b.nodes.append(helper.make_node("If", [cond], ["y"], name="branch", then_branch=then_g,
                                    else_branch=else_g))
    b.output("y", 2)
    return b.model()


def chain(n_nodes: int, width: int = 8) -> onnx.ModelProto:
    """A long model for speed measurements: repeated conv/relu/add cells, n_nodes nodes."""
    b = Builder("chain")
    x = b.input("x", [1, width, 16, 16])
    w = b.weight("w", (width, width, 3, 3))
    skip = x
    i = 0
    while len(b.nodes) < n_nodes:
        ns = f"/stage{i // 100}/cell{i % 100}"
        y = b.op("Conv", [x, w], name=f"{ns}/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        y = b.op("Relu", [y], name=f"{ns}/Relu")
        x = b.op("Add", [y, skip], name=f"{ns}/Add")
        skip = y
        i += 1
    b.nodes[-1].output[0] = "y"
    b.output("y", 4)
    return b.model(check=False)


ALL = {"lenet": lenet, "small_resnet": small_resnet, "transformer_block": transformer_block,
       "op_coverage": op_coverage, "if_model": if_model}


REGION = (slice(4, 10), slice(6, 12))  # rows, cols of region_net's receptive region


def region_net(size=16) -> onnx.ModelProto:
    """Hand-set weights: the class scores see the image only through REGION (a 1x1 conv with
    positive weights, a 0/1 mask, global average pooling, a positive linear layer)."""
    b = Builder("region_net")
    x = b.input("image", [1, 3, size, size])
    w = np.full((4, 3, 1, 1), 0.5, np.float32) + np.arange(12, dtype=np.float32).reshape(
        4, 3, 1, 1) * 0.05
    b.inits.append(numpy_helper.from_array(w, "conv.weight"))
    y = b.op("Conv", [x, "conv.weight"], name="conv", kernel_shape=[1, 1])
    y = b.op("Relu", [y], name="relu")
    mask = np.zeros((1, 1, size, size), np.float32)
    mask[(0, 0) + REGION] = 1.0
    b.inits.append(numpy_helper.from_array(mask, "mask"))
    y = b.op("Mul", [y, "mask"], name="masked")
    y = b.op("GlobalAveragePool", [y], name="gap")
    y = b.op("Flatten", [y], name="flatten", axis=1)
    fc = np.array([[1.0, 0.5, 0.2, 0.1], [0.1, 0.2, 1.0, 0.5], [0.3, 0.3, 0.3, 0.3]], np.float32)
    b.inits.append(numpy_helper.from_array(fc, "fc.weight"))
    b.op("Gemm", [y, "fc.weight"], name="fc", transB=1, outputs=["scores"])
    b.output("scores", 2)
    return b.model()


def flat_blocks(n_blocks: int, width: int = 4) -> onnx.ModelProto:
    """n_blocks repeated blocks side by side at the top level (/block<i>/MatMul, /Relu): a
    flat level with thousands of siblings, as a scan-unrolled or very deep stack gives."""
    b = Builder("flat_blocks")
    x = b.input("x", [1, width])
    w = b.weight("w", (width, width))
    for i in range(n_blocks):
        y = b.op("MatMul", [x, w], name=f"/block{i}/MatMul")
        x = b.op("Relu", [y], name=f"/block{i}/Relu")
    b.nodes[-1].output[0] = "y"
    b.output("y", 2)
    return b.model(check=False)
