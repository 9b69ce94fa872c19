"""Caffe prototxts of the classic nets, written by us from their papers and shared by tests,
samples and benchmarks. Each function returns prototxt text (batch 1, deploy style)."""
from __future__ import annotations

import numpy as np


class Net:
    """A few lines per layer: n.conv('conv1', 'data', 96, 11, s=4) appends a layer."""

    def __init__(self, name: str, shape: tuple, input_style: str = "input_shape"):
        self.lines = [f'name: "{name}"']
        dims = " ".join(f"dim: {d}" for d in shape)
        if input_style in NETSCOPE_HEADERS:
            self.lines.append(NETSCOPE_HEADERS[input_style].format(
                dims=dims, n=shape[0], crop=shape[-1]))
        elif input_style == "input_shape":
            self.lines.append(f'input: "data"\ninput_shape {{ {dims} }}')
        elif input_style == "input_dim":
            self.lines.append('input: "data"\n' + "\n".join(f"input_dim: {d}" for d in shape))
        else:
            self.lines.append(f'layer {{ name: "data" type: "Input" top: "data" '
                              f'input_param {{ shape {{ {dims} }} }} }}')

    def layer(self, name, type_, bottoms, tops, body=""):
        bottoms = [bottoms] if isinstance(bottoms, str) else bottoms
        tops = [tops] if isinstance(tops, str) else tops
        b = " ".join(f'bottom: "{x}"' for x in bottoms)
        t = " ".join(f'top: "{x}"' for x in tops)
        self.lines.append(f'layer {{\n  name: "{name}" type: "{type_}" {b} {t}\n  {body}\n}}')
        return tops[0] if tops else None

    def conv(self, name, bottom, n, k, s=1, p=0, g=1, bias=True, top=None, dil=1):
        body = (f"convolution_param {{ num_output: {n} kernel_size: {k} stride: {s} pad: {p}"
                f"{f' group: {g}' if g != 1 else ''}{'' if bias else ' bias_term: false'}"
                f"{f' dilation: {dil}' if dil != 1 else ''} }}")
        return self.layer(name, "Convolution", bottom, top or name, body)

    def relu(self, name, blob):
        return self.layer(name, "ReLU", blob, blob)

    def pool(self, name, bottom, kind, k=0, s=1, p=0, global_=False, top=None):
        body = (f"pooling_param {{ pool: {kind} global_pooling: true }}" if global_ else
                f"pooling_param {{ pool: {kind} kernel_size: {k} stride: {s} pad: {p} }}")
        return self.layer(name, "Pooling", bottom, top or name, body)

    def lrn(self, name, bottom, size=5, alpha=1e-4, beta=0.75):
        return self.layer(name, "LRN", bottom, name,
                          f"lrn_param {{ local_size: {size} alpha: {alpha} beta: {beta} }}")

    def fc(self, name, bottom, n):
        return self.layer(name, "InnerProduct", bottom, name,
                          f"inner_product_param {{ num_output: {n} }}")

    def dropout(self, name, blob, ratio=0.5):
        return self.layer(name, "Dropout", blob, blob, f"dropout_param {{ dropout_ratio: {ratio} }}")

    def concat(self, name, bottoms):
        return self.layer(name, "Concat", bottoms, name)

    def softmax(self, name, bottom):
        return self.layer(name, "Softmax", bottom, name)

    def bn_scale(self, name, blob, suffix=""):
        self.layer(f"bn{name}", "BatchNorm", blob, blob,
                   "batch_norm_param { use_global_stats: true }")
        return self.layer(f"scale{name}", "Scale", blob, blob, "scale_param { bias_term: true }")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def alexnet(style: str = "input_shape", batch: int = 1) -> str:
    """BVLC AlexNet (grouped conv2/4/5, LRN), 227x227."""
    n = Net("AlexNet", (batch, 3, 227, 227), input_style=style)
    x = n.relu("relu1", n.conv("conv1", "data", 96, 11, s=4))
    x = n.pool("pool1", n.lrn("norm1", x), "MAX", 3, 2)
    x = n.relu("relu2", n.conv("conv2", x, 256, 5, p=2, g=2))
    x = n.pool("pool2", n.lrn("norm2", x), "MAX", 3, 2)
    x = n.relu("relu3", n.conv("conv3", x, 384, 3, p=1))
    x = n.relu("relu4", n.conv("conv4", x, 384, 3, p=1, g=2))
    x = n.relu("relu5", n.conv("conv5", x, 256, 3, p=1, g=2))
    x = n.pool("pool5", x, "MAX", 3, 2)
    x = n.dropout("drop6", n.relu("relu6", n.fc("fc6", x, 4096)))
    x = n.dropout("drop7", n.relu("relu7", n.fc("fc7", x, 4096)))
    n.softmax("prob", n.fc("fc8", x, 1000))
    return n.text()


def vgg16(style: str = "input_dim", batch: int = 1) -> str:
    n = Net("VGG_ILSVRC_16_layers", (batch, 3, 224, 224), input_style=style)
    x = "data"
    for stage, (reps, ch) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)], 1):
        for i in range(1, reps + 1):
            x = n.relu(f"relu{stage}_{i}", n.conv(f"conv{stage}_{i}", x, ch, 3, p=1))
        x = n.pool(f"pool{stage}", x, "MAX", 2, 2)
    x = n.dropout("drop6", n.relu("relu6", n.fc("fc6", x, 4096)))
    x = n.dropout("drop7", n.relu("relu7", n.fc("fc7", x, 4096)))
    n.softmax("prob", n.fc("fc8", x, 1000))
    return n.text()


INCEPTION = {  # 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj (Szegedy et al., table 1)
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128)}


def googlenet(style: str = "Input", batch: int = 1) -> str:
    n = Net("GoogleNet", (batch, 3, 224, 224), input_style=style)
    x = n.relu("conv1/relu_7x7", n.conv("conv1/7x7_s2", "data", 64, 7, s=2, p=3))
    x = n.lrn("pool1/norm1", n.pool("pool1/3x3_s2", x, "MAX", 3, 2))
    x = n.relu("conv2/relu_3x3_reduce", n.conv("conv2/3x3_reduce", x, 64, 1))
    x = n.relu("conv2/relu_3x3", n.conv("conv2/3x3", x, 192, 3, p=1))
    x = n.pool("pool2/3x3_s2", n.lrn("conv2/norm2", x), "MAX", 3, 2)
    for name, (c1, r3, c3, r5, c5, pp) in INCEPTION.items():
        if name == "4a":
            x = n.pool("pool3/3x3_s2", x, "MAX", 3, 2)
        if name == "5a":
            x = n.pool("pool4/3x3_s2", x, "MAX", 3, 2)
        p = f"inception_{name}"
        b1 = n.relu(f"{p}/relu_1x1", n.conv(f"{p}/1x1", x, c1, 1))
        b2 = n.relu(f"{p}/relu_3x3_reduce", n.conv(f"{p}/3x3_reduce", x, r3, 1))
        b2 = n.relu(f"{p}/relu_3x3", n.conv(f"{p}/3x3", b2, c3, 3, p=1))
        b3 = n.relu(f"{p}/relu_5x5_reduce", n.conv(f"{p}/5x5_reduce", x, r5, 1))
        b3 = n.relu(f"{p}/relu_5x5", n.conv(f"{p}/5x5", b3, c5, 5, p=2))
        b4 = n.pool(f"{p}/pool", x, "MAX", 3, 1, p=1)
        b4 = n.relu(f"{p}/relu_pool_proj", n.conv(f"{p}/pool_proj", b4, pp, 1))
        x = n.concat(f"{p}/output", [b1, b2, b3, b4])
    x = n.dropout("pool5/drop_7x7_s1", n.pool("pool5/7x7_s1", x, "AVE", 7, 1), 0.4)
    n.softmax("prob", n.fc("loss3/classifier", x, 1000))
    return n.text()


def resnet50(style: str = "input_shape", batch: int = 1) -> str:
    """Kaiming He's ResNet-50 deploy layout: BatchNorm + Scale after every convolution."""
    n = Net("ResNet-50", (batch, 3, 224, 224), input_style=style)
    x = n.conv("conv1", "data", 64, 7, s=2, p=3)
    n.bn_scale("_conv1", x)
    x = n.pool("pool1", n.relu("conv1_relu", x), "MAX", 3, 2)
    for stage, blocks, mid in ((2, 3, 64), (3, 4, 128), (4, 6, 256), (5, 3, 512)):
        for i in range(blocks):
            tag = f"{stage}{chr(ord('a') + i)}"
            stride = 2 if i == 0 and stage > 2 else 1
            if i == 0:
                short = n.conv(f"res{tag}_branch1", x, mid * 4, 1, s=stride, bias=False)
                n.bn_scale(f"{tag}_branch1", short)
            else:
                short = x
            y = n.conv(f"res{tag}_branch2a", x, mid, 1, s=stride, bias=False)
            n.bn_scale(f"{tag}_branch2a", y)
            n.relu(f"res{tag}_branch2a_relu", y)
            y = n.conv(f"res{tag}_branch2b", y, mid, 3, p=1, bias=False)
            n.bn_scale(f"{tag}_branch2b", y)
            n.relu(f"res{tag}_branch2b_relu", y)
            y = n.conv(f"res{tag}_branch2c", y, mid * 4, 1, bias=False)
            n.bn_scale(f"{tag}_branch2c", y)
            x = n.layer(f"res{tag}", "Eltwise", [short, y], f"res{tag}")
            n.relu(f"res{tag}_relu", x)
    x = n.pool("pool5", x, "AVE", 7, 1)
    n.softmax("prob", n.fc("fc1000", x, 1000))
    return n.text()


FIRES = {2: (16, 64), 3: (16, 64), 4: (32, 128), 5: (32, 128), 6: (48, 192), 7: (48, 192),
         8: (64, 256), 9: (64, 256)}


def squeezenet_v10(style: str = "input_shape", batch: int = 1) -> str:
    """SqueezeNet v1.0 (Iandola et al.): its pool sizes rely on Caffe's ceil rounding."""
    n = Net("SqueezeNet_v1.0", (batch, 3, 227, 227), input_style=style)
    x = n.relu("relu_conv1", n.conv("conv1", "data", 96, 7, s=2))
    x = n.pool("pool1", x, "MAX", 3, 2)
    for i, (sq, ex) in FIRES.items():
        f = f"fire{i}"
        s = n.relu(f"{f}/relu_squeeze1x1", n.conv(f"{f}/squeeze1x1", x, sq, 1))
        a = n.relu(f"{f}/relu_expand1x1", n.conv(f"{f}/expand1x1", s, ex, 1))
        b = n.relu(f"{f}/relu_expand3x3", n.conv(f"{f}/expand3x3", s, ex, 3, p=1))
        x = n.concat(f"{f}/concat", [a, b])
        if i in (4, 8):
            x = n.pool(f"pool{i}", x, "MAX", 3, 2)
    x = n.dropout("drop9", x)
    x = n.relu("relu_conv10", n.conv("conv10", x, 1000, 1))
    x = n.pool("pool10", x, "AVE", global_=True)
    n.softmax("prob", x)
    return n.text()


# Netscope's presets and the files people paste into it declare the input in ways BVLC's
# reader does not: a Data layer (any case) carrying input_param, or a TRAIN-only data layer with
# a crop_size and no channel count (drawn with 3 channels assumed).
NETSCOPE_HEADERS = {
    "netscope_data": 'layer {{ name: "data" type: "Data" top: "data" '
                     'input_param {{ shape: {{ {dims} }} }} }}',
    "netscope_lower": 'layer {{\n  name: "data"\n  type: "data"\n  top: "data"\n'
                      '  input_param {{ shape: {{ {dims} }} }}\n}}',
    "netscope_input": 'layer {{ name: "data" type: "Input" top: "data" '
                      'input_param {{ shape: {{ {dims} }} }} }}',
    "netscope_train": 'layer {{ name: "data" type: "Data" top: "data" top: "label" '
                      'include {{ phase: TRAIN }} transform_param {{ crop_size: {crop} '
                      'mirror: true }} data_param {{ source: "train_lmdb" batch_size: {n} '
                      'backend: LMDB }} }}',
}
# name -> (the input style its netscope file uses, the published output of its last stage)
NETSCOPE = {
    "alexnet": ("netscope_input", "pool5", (10, 256, 6, 6)),
    "vgg16": ("netscope_data", "pool5", (10, 512, 7, 7)),
    "googlenet": ("netscope_lower", "inception_5b/output", (10, 1024, 7, 7)),
    "resnet50": ("netscope_data", "res5c", (10, 2048, 7, 7)),
    "squeezenet_v1.0": ("netscope_train", "conv10", (10, 1000, 13, 13)),
}


def netscope(name: str) -> str:
    """The classic net ``name`` written as netscope's presets write it (batch 10)."""
    return CLASSIC[name](NETSCOPE[name][0], batch=10)


def lenet() -> str:
    """LeNet on 28x28 (the MNIST example's layout)."""
    n = Net("LeNet", (1, 1, 28, 28), input_style="Input")
    x = n.pool("pool1", n.conv("conv1", "data", 20, 5), "MAX", 2, 2)
    x = n.pool("pool2", n.conv("conv2", x, 50, 5), "MAX", 2, 2)
    x = n.relu("relu1", n.fc("ip1", x, 500))
    n.softmax("prob", n.fc("ip2", x, 10))
    return n.text()


def chain(layers: int) -> str:
    """A long generated net (conv/ReLU/BN+Scale/Eltwise repeated) for speed tests."""
    n = Net("chain", (1, 16, 32, 32))
    x = n.conv("stem", "data", 16, 3, p=1)
    i = 0
    while len(n.lines) < layers:
        y = n.conv(f"b{i}/conv", x, 16, 3, p=1, bias=False)
        n.bn_scale(f"{i}", y)
        n.relu(f"b{i}/relu", y)
        x = n.layer(f"b{i}/add", "Eltwise", [x, y], f"b{i}/add")
        i += 1
    return n.text()


CLASSIC = {"alexnet": alexnet, "vgg16": vgg16, "googlenet": googlenet, "resnet50": resnet50,
           "squeezenet_v1.0": squeezenet_v10}
ALL = {**CLASSIC, "lenet": lenet}


def random_caffemodel(graph, path, v1=False, seed=0, skip=(), reshape=None):
    """Write a caffemodel for ``graph`` with random weights, in the layers' blob order."""
    rng = np.random.default_rng(seed)
    layers = []
    for n in graph.nodes:
        layer = n.meta.get("caffe_layer")
        ws = [v for v in n.inputs if v is not None and v.is_weight and not v.meta.get("constant")]
        if not ws or layer in skip:
            continue
        if n.source_op == "BN":  # the forks' BN: slope, bias, mean, var, each (1, C, 1, 1)
            c = ws[0].data.shape[0]
            layers.append((layer, "BN", [rng.random((1, c, 1, 1)).astype("float32") + 0.5
                                         for _ in range(4)]))
            continue
        if n.op == "BatchNormalization":  # Caffe: BN blobs mean, var, factor; Scale: gamma, beta
            c = ws[0].data.shape[0]
            layers.append((layer, "BatchNorm", [rng.random(c), rng.random(c) + 1, [2.0]]))
            if "caffe_scale_layer" in n.attrs:
                layers.append((n.attrs["caffe_scale_layer"], "Scale",
                               [rng.random(c), rng.random(c)]))
            continue
        arrays = [rng.standard_normal(reshape or v.data.shape).astype("float32") for v in ws]
        layers.append((layer, n.source_op, arrays))
    from graphscope.adapters.caffe.caffemodel import write_caffemodel
    write_caffemodel(path, layers, v1=v1)
    return layers


def our_shapes(graph) -> dict:
    """Caffe layer name -> its tops' shapes as graphscope inferred them (a repeated layer
    name is numbered 'name#2' as graphscope numbers it; a fused Scale maps to its BN)."""
    out = {}
    for n in graph.nodes:
        layer = n.meta.get("caffe_layer")
        if layer is not None and (n.name == layer or n.name.startswith(layer + "#")):
            out[n.name] = [v.type.shape for v in n.outputs]
        if "caffe_scale_layer" in n.attrs:
            out[n.attrs["caffe_scale_layer"]] = [v.type.shape for v in n.outputs]
    return out


def opencv_shapes(prototxt, caffemodel, input_shapes: list) -> dict:
    """Caffe layer name -> its tops' shapes as OpenCV's cv2.dnn infers them (numbered like
    our_shapes for repeated names)."""
    import cv2
    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    ids, _, outs = net.getLayersShapes([list(s) for s in input_shapes])
    names = net.getLayerNames()
    out, seen = {}, {}
    for i, shapes in zip(ids, outs):
        if i == 0:
            continue
        layer = names[i - 1]
        seen[layer] = seen.get(layer, 0) + 1
        key = layer if seen[layer] == 1 else f"{layer}#{seen[layer]}"
        out[key] = [tuple(int(d) for d in s) for s in shapes]
    return out
