"""Caffe layers -> canonical ops, one small handler per layer type.

The builder walks the layers in file order and infers each node's shapes as soon as it is
added (the rules in ir/shapes.py and ir/ops_caffe.py), because Caffe weight shapes depend on
the input's channels. In-place layers (top == bottom) write a fresh SSA value
'blob@layer', so the IR is a chain, never a cycle; ``Value.meta['blob']`` keeps Caffe's name.
"""
from __future__ import annotations

from ...errors import ParseError
from ...ir import Graph, TensorType, WeightData
from ...ir.ops_caffe import caffe_pool_out
from ...ir.shapes import _infer_node  # one node at a time: weights need the input's shape
from .prototxt import Message

# V1 `layers { type: CONVOLUTION }` enum -> V2 type name
V1_TYPES = {
    "ABSVAL": "AbsVal", "ACCURACY": "Accuracy", "ARGMAX": "ArgMax", "BNLL": "BNLL",
    "CONCAT": "Concat", "CONTRASTIVE_LOSS": "ContrastiveLoss", "CONVOLUTION": "Convolution",
    "DATA": "Data", "DECONVOLUTION": "Deconvolution", "DROPOUT": "Dropout",
    "DUMMY_DATA": "DummyData", "EUCLIDEAN_LOSS": "EuclideanLoss", "ELTWISE": "Eltwise",
    "EXP": "Exp", "FLATTEN": "Flatten", "HDF5_DATA": "HDF5Data", "HDF5_OUTPUT": "HDF5Output",
    "HINGE_LOSS": "HingeLoss", "IM2COL": "Im2col", "IMAGE_DATA": "ImageData",
    "INFOGAIN_LOSS": "InfogainLoss", "INNER_PRODUCT": "InnerProduct", "LRN": "LRN",
    "MEMORY_DATA": "MemoryData", "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss",
    "MVN": "MVN", "POOLING": "Pooling", "POWER": "Power", "RELU": "ReLU",
    "SIGMOID": "Sigmoid", "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss",
    "SILENCE": "Silence", "SOFTMAX": "Softmax", "SOFTMAX_LOSS": "SoftmaxWithLoss",
    "SPLIT": "Split", "SLICE": "Slice", "TANH": "TanH", "WINDOW_DATA": "WindowData",
    "THRESHOLD": "Threshold"}

from .data import DATA_LAYERS  # noqa: E402  (re-exported: tests and docs name it here)
LOSS_LAYERS = {"SoftmaxWithLoss", "EuclideanLoss", "SigmoidCrossEntropyLoss", "HingeLoss",
               "InfogainLoss", "MultinomialLogisticLoss", "ContrastiveLoss", "MultiBoxLoss",
               "SmoothL1Loss", "CenterLoss", "TripletLoss"}


class Layer:
    """One layer as the builder sees it: name, type, bottoms/tops, its message."""

    __slots__ = ("name", "type", "bottoms", "tops", "msg", "extra")

    def __init__(self, name, type_, bottoms, tops, msg, extra=None):
        self.name, self.type, self.bottoms, self.tops, self.msg = name, type_, bottoms, tops, msg
        self.extra = extra or {}  # fields graphscope does not read, kept as attributes

    def param(self, field: str) -> Message:
        p = self.msg.get(field)
        return p if isinstance(p, Message) else Message()


class Builder:
    def __init__(self, graph: Graph, file: str | None, weights=None, phase_all: bool = False,
                 forgiving: bool = False):
        self.g = graph
        self.forgiving = forgiving
        self.file = file
        self.weights = weights          # layer name -> [BlobRecord] from a caffemodel, or None
        self.phase_all = phase_all
        self.blobs: dict[str, str] = {}     # Caffe blob name -> current IR value name
        self.made_by: dict[str, str] = {}   # Caffe blob name -> layer that first produced it
        self.used_weights: set[str] = set()
        self.names: set[str] = set()  # node names given so far
        self.warnings: list[str] = []
        self.left_out: dict[str, str] = {}  # blob -> layer that the phase/stage rules left out
        self.unknown_types: dict[str, tuple[str, list[str]]] = {}  # type -> (where, layers)

    # -- errors -------------------------------------------------------------------------
    def error(self, layer: Layer, message: str, field: str | None = None) -> ParseError:
        line, col = layer.msg.where(field)
        return ParseError(f"layer '{layer.name}': {message}", file=self.file, line=line, col=col)

    def where(self, layer: Layer, field: str | None = None, value=None) -> str:
        """'file:line:col' of ``layer`` (its field ``field``, the one equal to ``value``)."""
        pos = layer.msg.pos
        for n, v, p in layer.msg.fields:
            if n == field and (value is None or str(v) == str(value)):
                pos = p
                break
        line, col = layer.msg.source.line_col(pos) if layer.msg.source else (None, None)
        return f"{self.file or 'line'}:{line}:{col}"

    def liberty(self, layer: Layer, message: str, bottom: str | None = None) -> None:
        """A warning for something a strict reader refuses, drawn anyway (forgiving)."""
        self.warnings.append(f"{self.where(layer, 'bottom' if bottom else None, bottom)}: "
                             f"{message}")
        self.g.metadata.setdefault("liberties", []).append(message)

    # -- values -------------------------------------------------------------------------
    def shape(self, value_name: str):
        return self.g.values[value_name].type.shape

    def input(self, name: str, shape, layer: str | None = None, dtype="float32"):
        if name in self.blobs:
            if self.phase_all:
                return
            raise ParseError(f"input '{name}' is declared twice", file=self.file)
        v = self.g.add_input(name, TensorType(dtype, None if shape is None else tuple(shape)))
        v.meta["blob"] = name
        if layer:
            v.meta["layer"] = layer
        self.blobs[name] = name
        self.made_by[name] = layer or "input"

    def bottom(self, layer: Layer, i: int) -> str:
        if i >= len(layer.bottoms):
            raise self.error(layer, f"a {layer.type} layer needs at least {i + 1} bottom(s), "
                                    f"it has {len(layer.bottoms)}")
        name = layer.bottoms[i]
        v = self.blobs.get(name)
        if v is None:
            message = missing_bottom_message(layer, name, self.left_out.get(name))
            if not self.forgiving:
                raise ParseError(message, file=self.file,
                                 **dict(zip(("line", "col"), self._pos(layer, name))))
            self.liberty(layer, message + "; drawn as an external input", name)
            self.input(name, None, layer=None)
            self.g.values[name].meta["external"] = True
            v = name
        return v

    def _pos(self, layer: Layer, bottom: str) -> tuple:
        line_col = self.where(layer, "bottom", bottom).rsplit(":", 2)[1:]
        return tuple(int(x) if x != "None" else None for x in line_col)

    def tops(self, layer: Layer, count: int | None = None) -> list[str]:
        """IR value names for the layer's tops: fresh SSA names for in-place tops."""
        out = []
        for top in layer.tops[:count]:
            if layer.tops.count(top) > 1:
                raise self.error(layer, f"top '{top}' is listed twice", "top")
            if top in layer.bottoms:
                name = f"{top}@{layer.name}"
            elif top in self.blobs:
                if not self.phase_all:
                    raise self.error(layer, f"top '{top}' is already produced by layer "
                                            f"'{self.made_by[top]}'", "top")
                name = f"{top}@{layer.name}"
            else:
                name = top
                self.made_by[top] = layer.name
            while name in self.g.values:
                name += "'"
            out.append(name)
        return out

    def bind(self, layer: Layer, values: list[str]) -> None:
        for top, name in zip(layer.tops, values):
            self.g.values[name].meta["blob"] = top
            if not (self.phase_all and top in self.blobs and top not in layer.bottoms):
                self.blobs[top] = name

    def weight(self, layer: Layer, index: int, role: str, shape, constant=None) -> str | None:
        """A weight value for blob ``index`` of ``layer``; its data comes from the caffemodel
        lazily. Shared params (``param { name: ... }``) are one value."""
        if shape is None or any(not isinstance(d, int) for d in shape):
            return None
        specs = layer.msg.all("param")
        spec = specs[index] if index < len(specs) else None
        pname = spec.get("name") if isinstance(spec, Message) else None
        name = pname or f"{layer.name}:{role}"
        if name in self.g.values and self.g.values[name].is_weight:
            return name
        loader = None
        if constant is not None:
            import numpy as np
            loader = (lambda v=constant, s=tuple(shape): np.full(s, v, dtype="float32"))
        elif self.weights is not None:
            loader = self.blob_loader(layer, index, shape)
        v = self.g.add_weight(name, WeightData(shape, "float32", loader))
        v.meta["layer"] = layer.name
        if constant is not None:
            v.meta["constant"] = True
        return name

    def blob_loader(self, layer: Layer, index: int, shape):
        blobs = self.weights.get(layer.name)
        if blobs is None:
            raise ParseError(f"layer '{layer.name}' has no weights in the caffemodel "
                             f"(a caffemodel for a different net?)", file=self.file,
                             line=layer.msg.where()[0], col=layer.msg.where()[1])
        self.used_weights.add(layer.name)
        if index >= len(blobs):
            raise ParseError(f"layer '{layer.name}': the caffemodel has {len(blobs)} blobs, "
                             f"the prototxt needs blob {index}", file=self.file)
        rec = blobs[index]
        if not rec.matches(shape):
            raise ParseError(f"layer '{layer.name}' blob {index}: the caffemodel has shape "
                             f"{rec.shape_str()}, the prototxt needs "
                             f"{'x'.join(map(str, shape))}", file=self.file,
                             line=layer.msg.where()[0], col=layer.msg.where()[1])
        need = 1
        for d in shape:
            need *= d
        if rec.count() != need:
            raise ParseError(f"layer '{layer.name}' blob {index}: the caffemodel holds "
                             f"{rec.count()} values for shape {rec.shape_str()} (truncated "
                             f"caffemodel?)", file=self.file)
        return lambda: rec.array(shape)

    # -- nodes --------------------------------------------------------------------------
    def node(self, layer: Layer, op: str, inputs: list, attrs: dict | None = None,
             outputs: list[str] | None = None, name: str | None = None, bind: bool = True,
             **meta):
        outs = outputs if outputs is not None else self.tops(layer)
        name = name or layer.name
        if name in self.names:  # Caffe allows repeated layer names
            k = 2
            while f"{name}#{k}" in self.names:
                k += 1
            name = f"{name}#{k}"
        self.names.add(name)
        attrs = dict(attrs or {})
        if name == layer.name:  # the layer's own node carries the fields we did not read
            attrs.update(layer.extra)
        node = self.g.add_node(op, inputs, outs, attrs, name=name,
                               namespace=namespace_of(layer.name), source_op=layer.type,
                               meta={"caffe_layer": layer.name, **meta})
        _infer_node(self.g, node, False)
        if bind:
            self.bind(layer, outs)
        return node

    def inner(self, layer: Layer, base: str) -> str:
        """A fresh value name for an intermediate inside one layer's expansion."""
        name = f"{base}@{layer.name}"
        while name in self.g.values:
            name += "'"
        return name


def missing_bottom_message(layer: Layer, blob: str, maker: str | None) -> str:
    hint = (f" (layer '{maker}' makes it, but its include/exclude rules leave it out of this "
            f"phase/stage)" if maker else "")
    return (f"layer '{layer.name}': bottom '{blob}' is not produced by any earlier layer or "
            f"input{hint}")


def namespace_of(layer_name: str) -> str:
    """'inception_3a/1x1' -> 'inception_3a' (Caffe names layers with '/' prefixes)."""
    return layer_name.rsplit("/", 1)[0] if "/" in layer_name else ""


# -- parameter helpers ------------------------------------------------------------------------
def _spatial(p: Message, field: str, default: int | None, n: int = 2) -> list[int]:
    """Caffe's kernel_size/pad/stride/dilation: repeated, scalar or field_h/field_w."""
    h, w = p.get(f"{field}_h"), p.get(f"{field}_w")
    if h is not None or w is not None:
        return [int(h if h is not None else default), int(w if w is not None else default)]
    vals = [int(v) for v in p.all(field if field != "kernel" else "kernel_size")]
    if not vals:
        vals = [default] if default is not None else []
    if len(vals) == 1:
        vals = vals * n
    return vals


def _kernel(b: Builder, layer: Layer, p: Message) -> list[int]:
    h, w = p.get("kernel_h"), p.get("kernel_w")
    if h is not None and w is not None:
        return [int(h), int(w)]
    k = [int(v) for v in p.all("kernel_size")]
    if not k:
        raise b.error(layer, "kernel size is missing (kernel_size or kernel_h/kernel_w)")
    return k * 2 if len(k) == 1 else k


def _channels(b: Builder, x: str):
    s = b.shape(x)
    return s[1] if s is not None and len(s) > 1 else None


# -- handlers ---------------------------------------------------------------------------------
def conv(b: Builder, L: Layer, depthwise: bool = False) -> None:
    p = L.param("convolution_param")
    x = b.bottom(L, 0)
    k = _kernel(b, L, p)
    n = len(k)
    pads = _spatial(p, "pad", 0, n)
    strides = _spatial(p, "stride", 1, n)
    dil = _spatial(p, "dilation", 1, n)
    cin = _channels(b, x)
    cout = p.get("num_output")
    if cout is None:
        raise b.error(L, "num_output is missing", "convolution_param")
    group = int(p.get("group", 1))
    if depthwise:
        group = cin if isinstance(cin, int) else group
    attrs = {"kernel_shape": k, "strides": strides, "pads": pads + pads, "dilations": dil,
             "group": group}
    deconv = L.type == "Deconvolution"
    if deconv:
        wshape = None if not isinstance(cin, int) else (cin, cout // group, *k)
    else:
        wshape = None if not isinstance(cin, int) else (cout, cin // group, *k)
    if isinstance(cin, int) and (cin % group or cout % group):
        raise b.error(L, f"group {group} does not divide channels in={cin} out={cout}")
    w = b.weight(L, 0, "weight", wshape)
    bias = b.weight(L, 1, "bias", (cout,)) if p.get("bias_term", True) else None
    node = b.node(L, "ConvTranspose" if deconv else "Conv", [x, w, bias] if bias else [x, w],
                  attrs)
    if w is None:  # channels unknown: the weight could not be made, but num_output is known
        out = node.outputs[0]
        s = out.type.shape
        out.type = TensorType("float32", (s[0], cout, *s[2:]) if s else None)


def pooling(b: Builder, L: Layer) -> None:
    p = L.param("pooling_param")
    x = b.bottom(L, 0)
    kind = str(p.get("pool", "MAX"))
    if kind in ("0", "1", "2"):
        kind = ("MAX", "AVE", "STOCHASTIC")[int(kind)]
    if p.get("global_pooling", False):
        b.node(L, "GlobalMaxPool" if kind == "MAX" else "GlobalAveragePool", [x],
               {"caffe_pool": kind} if kind == "STOCHASTIC" else {})
        return
    k = _kernel(b, L, p)
    pads = _spatial(p, "pad", 0)
    strides = _spatial(p, "stride", 1)
    ceil = pool_ceil(p)
    attrs = {"kernel_shape": k, "strides": strides, "pads": pads + pads,
             "ceil_mode": int(ceil)}
    op = {"MAX": "MaxPool", "AVE": "AveragePool"}.get(kind, "caffe.Pooling")
    if op == "AveragePool":
        attrs["count_include_pad"] = 1
    shape = b.shape(x)
    if not ceil:
        if op == "caffe.Pooling":
            attrs["pool"] = kind
        b.node(L, op, [x], attrs)  # floor rounding: Caffe's and ONNX's sizes agree
        return
    if shape is not None and len(shape) == 4 and op != "caffe.Pooling":
        # ONNX drops a last window starting in the padding even with no padding; Caffe
        # only with padding. Where that differs, keep Caffe's own op and rule.
        for i in range(2):
            size = shape[2 + i]
            if isinstance(size, int) and pads[i] == 0:
                span = size - k[i]
                if (-(-span // strides[i])) * strides[i] >= size:
                    op = "caffe.Pooling"
            # with padding both drop it, but ONNX's shape inference does not: keep Caffe's
            if isinstance(size, int) and pads[i] > 0:
                span = size + 2 * pads[i] - k[i]
                if (-(-span // strides[i])) * strides[i] >= size + pads[i]:
                    op = "caffe.Pooling"
    if op == "caffe.Pooling":
        attrs["pool"] = kind
    b.node(L, op, [x], attrs)


def pool_ceil(p: Message) -> bool:
    """Caffe rounds pooled sizes up; forks add ``ceil_mode: false`` (DenseNet/DPN ports,
    OpenCV reads it) and ``round_mode: FLOOR`` (NVIDIA's caffe) to round down."""
    if p.has("round_mode"):
        return str(p.get("round_mode")).upper() not in ("FLOOR", "1")
    return bool(p.get("ceil_mode", True))


def inner_product(b: Builder, L: Layer) -> None:
    p = L.param("inner_product_param")
    x = b.bottom(L, 0)
    n = p.get("num_output")
    if n is None:
        raise b.error(L, "num_output is missing", "inner_product_param")
    shape = b.shape(x)
    axis = int(p.get("axis", 1))
    if shape is not None and axis < 0:
        axis += len(shape)
    k = None
    if shape is not None:
        k = 1
        for d in shape[axis:]:
            k = k * d if isinstance(d, int) and isinstance(k, int) else None
    transpose = bool(p.get("transpose", False))
    w = b.weight(L, 0, "weight", (k, n) if transpose else (n, k))
    bias = b.weight(L, 1, "bias", (n,)) if p.get("bias_term", True) else None
    if axis == 1:
        flat = x
        if shape is None or len(shape) != 2:
            flat = b.inner(L, "flatten")
            b.node(L, "Flatten", [x], {"axis": 1}, outputs=[flat], name=f"{L.name}/flatten",
                   bind=False)
            b.g.nodes[-1].namespace = namespace_of(L.name)
        ins = [flat, w] + ([bias] if bias else [])
        node = b.node(L, "Gemm", ins, {"transB": 0 if transpose else 1})
    else:
        node = b.node(L, "caffe.InnerProduct", [x, w] + ([bias] if bias else []),
                      {"axis": axis, "num_output": n, "transpose": int(transpose)})
        if shape is not None:
            node.outputs[0].type = TensorType("float32", (*shape[:axis], n))
    if w is None:
        out = node.outputs[0]
        out.type = TensorType("float32", (shape[0] if shape else None, n))


def lrn(b: Builder, L: Layer) -> None:
    p = L.param("lrn_param")
    x = b.bottom(L, 0)
    attrs = {"size": int(p.get("local_size", 5)), "alpha": float(p.get("alpha", 1.0)),
             "beta": float(p.get("beta", 0.75)), "bias": float(p.get("k", 1.0))}
    if str(p.get("norm_region", "ACROSS_CHANNELS")) == "WITHIN_CHANNEL":
        attrs["norm_region"] = "WITHIN_CHANNEL"
        b.node(L, "caffe.LRN", [x], attrs)
    else:  # Caffe's ACROSS alpha is divided by local_size, as ONNX's is
        b.node(L, "LRN", [x], attrs)


def batch_norm(b: Builder, L: Layer, scale: Layer | None = None) -> None:
    """BatchNorm (+ the Scale that follows it) -> one BatchNormalization."""
    p = L.param("batch_norm_param")
    x = b.bottom(L, 0)
    c = _channels(b, x)
    shape = (c,) if isinstance(c, int) else None
    if scale is not None:
        gamma = b.weight(scale, 0, "scale", shape)
        beta = (b.weight(scale, 1, "bias", shape)
                if scale.param("scale_param").get("bias_term", False)
                else b.weight(scale, 1, "bias", shape, constant=0.0))
    else:
        gamma = b.weight(L, 9, "scale", shape, constant=1.0)
        beta = b.weight(L, 10, "bias", shape, constant=0.0)
    mean = b.bn_stat(L, 0, "mean", shape) if b.weights is not None else \
        b.weight(L, 0, "mean", shape)
    var = b.bn_stat(L, 1, "var", shape) if b.weights is not None else \
        b.weight(L, 1, "var", shape)
    attrs = {"epsilon": float(p.get("eps", 1e-5))}
    if scale is not None:
        attrs["caffe_scale_layer"] = scale.name
    tops = b.tops(L)
    node = b.node(L, "BatchNormalization", [x, gamma, beta, mean, var], attrs, outputs=tops)
    if scale is not None:
        node.source_op = "BatchNorm+Scale"
        b.bind(scale, tops)


def _bn_stat(self: Builder, layer: Layer, index: int, role: str, shape):
    """Caffe stores mean and variance times a moving-average factor (blob 2)."""
    name = self.weight(layer, index, role, shape)
    if name is None:
        return None
    v = self.g.values[name]
    raw = v.data._loader
    factor = self.blob_loader(layer, 2, (1,))

    def load():
        f = float(factor().reshape(-1)[0])
        return raw() / (f if f != 0 else 1.0)
    v.data._loader = load
    return name


Builder.bn_stat = _bn_stat


def scale(b: Builder, L: Layer) -> None:
    p = L.param("scale_param")
    x = b.bottom(L, 0)
    ins = [x]
    axis = int(p.get("axis", 1))
    shape = b.shape(x)
    if len(L.bottoms) > 1:
        ins.append(b.bottom(L, 1))
    else:
        na = int(p.get("num_axes", 1))
        wshape = None
        if shape is not None:
            a = axis + len(shape) if axis < 0 else axis
            wshape = tuple(shape[a:] if na == -1 else shape[a:a + na])
        ins.append(b.weight(L, 0, "scale", wshape))
    if p.get("bias_term", False):  # blob 1 after a learned scale, blob 0 after a bottom one
        index = 0 if len(L.bottoms) > 1 else 1
        ins.append(b.weight(L, index, "bias", b.g.values[ins[1]].type.shape
                            if ins[1] else None))
    b.node(L, "caffe.Scale", ins, {"axis": axis})


def bias(b: Builder, L: Layer) -> None:
    p = L.param("bias_param")
    x = b.bottom(L, 0)
    shape = b.shape(x)
    ins = [x]
    if len(L.bottoms) > 1:
        ins.append(b.bottom(L, 1))
    else:
        axis, na = int(p.get("axis", 1)), int(p.get("num_axes", 1))
        w = None
        if shape is not None:
            a = axis + len(shape) if axis < 0 else axis
            w = tuple(shape[a:] if na == -1 else shape[a:a + na])
        ins.append(b.weight(L, 0, "bias", w))
    b.node(L, "caffe.Bias", ins, {"axis": int(p.get("axis", 1))})


def eltwise(b: Builder, L: Layer) -> None:
    p = L.param("eltwise_param")
    xs = [b.bottom(L, i) for i in range(len(L.bottoms))]
    kind = str(p.get("operation", "SUM"))
    kind = {"0": "PROD", "1": "SUM", "2": "MAX"}.get(kind, kind)
    coeff = [float(c) for c in p.all("coeff")]
    if kind == "SUM" and coeff and any(c != 1.0 for c in coeff):
        b.node(L, "caffe.Eltwise", xs, {"operation": "SUM", "coeff": coeff})
        return
    op = {"SUM": "Add", "PROD": "Mul", "MAX": "Max"}.get(kind)
    if op is None:
        raise b.error(L, f"unknown eltwise operation '{kind}'", "eltwise_param")
    if op == "Add" and len(xs) > 2:
        op = "Sum"
    if len(xs) > 2 and op in ("Mul",):
        b.node(L, "caffe.Eltwise", xs, {"operation": kind})
        return
    b.node(L, op, xs)


def concat(b: Builder, L: Layer) -> None:
    p = L.param("concat_param")
    axis = int(p.get("axis", p.get("concat_dim", 1)))
    b.node(L, "Concat", [b.bottom(L, i) for i in range(len(L.bottoms))], {"axis": axis})


def slice_(b: Builder, L: Layer) -> None:
    p = L.param("slice_param")
    x = b.bottom(L, 0)
    axis = int(p.get("axis", p.get("slice_dim", 1)))
    points = [int(v) for v in p.all("slice_point")]
    attrs = {"axis": axis}
    shape = b.shape(x)
    if points:
        if shape is not None and isinstance(shape[axis], int):
            edges = [0, *points, shape[axis]]
            attrs["split"] = [e - s for s, e in zip(edges, edges[1:])]
        else:
            attrs["slice_point"] = points
    b.node(L, "Split", [x], attrs)


def split(b: Builder, L: Layer) -> None:
    b.node(L, "caffe.Split", [b.bottom(L, 0)])


def crop(b: Builder, L: Layer) -> None:
    p = L.param("crop_param")
    b.node(L, "caffe.Crop", [b.bottom(L, 0), b.bottom(L, 1)],
           {"axis": int(p.get("axis", 2)), "offset": [int(o) for o in p.all("offset")]})


def flatten(b: Builder, L: Layer) -> None:
    p = L.param("flatten_param")
    x = b.bottom(L, 0)
    axis, end = int(p.get("axis", 1)), int(p.get("end_axis", -1))
    if axis == 1 and end == -1:
        b.node(L, "Flatten", [x], {"axis": 1})
    else:
        b.node(L, "caffe.Flatten", [x], {"axis": axis, "end_axis": end})


def reshape(b: Builder, L: Layer) -> None:
    p = L.param("reshape_param")
    x = b.bottom(L, 0)
    s = p.get("shape")
    dims = [int(d) for d in s.all("dim")] if isinstance(s, Message) else []
    axis, na = int(p.get("axis", 0)), int(p.get("num_axes", -1))
    if axis == 0 and na == -1:
        b.node(L, "Reshape", [x], {"shape": dims})
    else:
        b.node(L, "caffe.Reshape", [x], {"shape": dims, "axis": axis, "num_axes": na})


def permute(b: Builder, L: Layer) -> None:
    x = b.bottom(L, 0)
    order = [int(o) for o in L.param("permute_param").all("order")]
    shape = b.shape(x)
    if shape is not None:
        order += [i for i in range(len(shape)) if i not in order]
    b.node(L, "Transpose", [x], {"perm": order})


def softmax(b: Builder, L: Layer) -> None:
    b.node(L, "Softmax", [b.bottom(L, 0)], {"axis": int(L.param("softmax_param").get("axis", 1))})


def relu(b: Builder, L: Layer) -> None:
    slope = float(L.param("relu_param").get("negative_slope", 0.0))
    if slope:
        b.node(L, "LeakyRelu", [b.bottom(L, 0)], {"alpha": slope})
    else:
        b.node(L, "Relu", [b.bottom(L, 0)])


def prelu(b: Builder, L: Layer) -> None:
    x = b.bottom(L, 0)
    c = _channels(b, x)
    shared = L.param("prelu_param").get("channel_shared", False)
    w = b.weight(L, 0, "slope", (1,) if shared else (c,) if isinstance(c, int) else None)
    if w is not None and not shared:
        b.g.values[w].meta["broadcast_axis"] = 1
    b.node(L, "PRelu", [x, w] if w else [x])


def simple(op: str, param: str | None = None, fields: tuple = ()):
    """A one-input layer whose attributes are copied from its parameter message."""
    def handler(b: Builder, L: Layer) -> None:
        attrs = {}
        if param:
            p = L.param(param)
            for f, default in fields:
                attrs[f] = p.get(f, default)
        b.node(L, op, [b.bottom(L, 0)], attrs)
    return handler


def elu(b: Builder, L: Layer) -> None:
    b.node(L, "Elu", [b.bottom(L, 0)], {"alpha": float(L.param("elu_param").get("alpha", 1.0))})


def exp_log(b: Builder, L: Layer) -> None:
    p = L.param("exp_param" if L.type == "Exp" else "log_param")
    attrs = {f: float(p.get(f, d)) for f, d in (("base", -1.0), ("scale", 1.0), ("shift", 0.0))}
    if attrs == {"base": -1.0, "scale": 1.0, "shift": 0.0}:
        b.node(L, L.type, [b.bottom(L, 0)])
    else:
        b.node(L, f"caffe.{L.type}", [b.bottom(L, 0)], attrs)


def dropout(b: Builder, L: Layer) -> None:
    b.node(L, "Dropout", [b.bottom(L, 0)],
           {"ratio": float(L.param("dropout_param").get("dropout_ratio", 0.5))})


def argmax(b: Builder, L: Layer) -> None:
    p = L.param("argmax_param")
    attrs = {"top_k": int(p.get("top_k", 1)), "out_max_val": int(bool(p.get("out_max_val")))}
    if p.has("axis"):
        attrs["axis"] = int(p.get("axis"))
    b.node(L, "caffe.ArgMax", [b.bottom(L, 0)], attrs)


def loss(b: Builder, L: Layer) -> None:
    op = "caffe.Accuracy" if L.type == "Accuracy" else "caffe.Loss"
    attrs = {}
    if L.type == "Accuracy":
        attrs["top_k"] = int(L.param("accuracy_param").get("top_k", 1))
    b.node(L, op, [b.bottom(L, i) for i in range(len(L.bottoms))], attrs)


def silence(b: Builder, L: Layer) -> None:
    b.node(L, "caffe.Silence", [b.bottom(L, i) for i in range(len(L.bottoms))], outputs=[])


def tile(b: Builder, L: Layer) -> None:
    p = L.param("tile_param")
    b.node(L, "caffe.Tile", [b.bottom(L, 0)],
           {"axis": int(p.get("axis", 1)), "tiles": int(p.get("tiles", 1))})


def reduction(b: Builder, L: Layer) -> None:
    p = L.param("reduction_param")
    b.node(L, "caffe.Reduction", [b.bottom(L, 0)],
           {"operation": str(p.get("operation", "SUM")), "axis": int(p.get("axis", 0)),
            "coeff": float(p.get("coeff", 1.0))})


def embed(b: Builder, L: Layer) -> None:
    p = L.param("embed_param")
    n, k = int(p.get("num_output")), int(p.get("input_dim"))
    ins = [b.bottom(L, 0), b.weight(L, 0, "weight", (k, n))]
    if p.get("bias_term", True):
        ins.append(b.weight(L, 1, "bias", (n,)))
    b.node(L, "caffe.Embed", ins, {"num_output": n, "input_dim": k})


def recurrent(b: Builder, L: Layer) -> None:
    p = L.param("recurrent_param")
    x = b.bottom(L, 0)
    h = int(p.get("num_output"))
    shape = b.shape(x)
    i = None
    if shape is not None and all(isinstance(d, int) for d in shape[2:]):
        i = 1
        for d in shape[2:]:
            i *= d
    ins = [x] + [b.bottom(L, j) for j in range(1, len(L.bottoms))]
    if L.type == "LSTM":
        ws = [("W_xc", (4 * h, i)), ("b_c", (4 * h,)), ("W_hc", (4 * h, h))]
    else:
        ws = [("W_xh", (h, i)), ("b_h", (h,)), ("W_hh", (h, h)), ("W_ho", (h, h)),
              ("b_o", (h,))]
    ins += [b.weight(L, j, role, s) for j, (role, s) in enumerate(ws)]
    b.node(L, f"caffe.{L.type}", ins, {"num_output": h})


def normalize(b: Builder, L: Layer) -> None:
    p = L.param("norm_param")
    x = b.bottom(L, 0)
    c = _channels(b, x)
    shared = p.get("channel_shared", True)
    w = b.weight(L, 0, "scale", (1,) if shared else (c,) if isinstance(c, int) else None)
    b.node(L, "caffe.Normalize", [x, w] if w else [x],
           {"across_spatial": int(bool(p.get("across_spatial", True))),
            "channel_shared": int(bool(shared)), "eps": float(p.get("eps", 1e-10))})


def prior_box(b: Builder, L: Layer) -> None:
    p = L.param("prior_box_param")
    ratios = [1.0]
    flip = p.get("flip", True)
    for ar in (float(a) for a in p.all("aspect_ratio")):
        if all(abs(ar - r) > 1e-6 for r in ratios):
            ratios.append(ar)
            if flip:
                ratios.append(1.0 / ar)
    mins, maxs = p.all("min_size"), p.all("max_size")
    num = len(ratios) * len(mins) + len(maxs)
    b.node(L, "caffe.PriorBox", [b.bottom(L, i) for i in range(len(L.bottoms))],
           {"num_priors": num, "min_size": [float(m) for m in mins],
            "max_size": [float(m) for m in maxs], "aspect_ratio": ratios, "flip": int(bool(flip)),
            "clip": int(bool(p.get("clip", False)))})


def roi_pooling(b: Builder, L: Layer) -> None:
    p = L.param("roi_pooling_param")
    b.node(L, "MaxRoiPool", [b.bottom(L, 0), b.bottom(L, 1)],
           {"pooled_shape": [int(p.get("pooled_h", 0)), int(p.get("pooled_w", 0))],
            "spatial_scale": float(p.get("spatial_scale", 1.0))})


def with_params(op: str, param: str):
    """Any-bottom layer whose whole parameter message becomes attributes."""
    def handler(b: Builder, L: Layer) -> None:
        attrs = {k: v for k, v in L.param(param).to_dict().items()}
        b.node(L, op, [b.bottom(L, i) for i in range(len(L.bottoms))], attrs)
    return handler


def upsample(b: Builder, L: Layer) -> None:
    attrs = {k: v for k, v in L.param("upsample_param").to_dict().items()
             if isinstance(v, (int, float))}
    b.node(L, "caffe.Upsample", [b.bottom(L, i) for i in range(len(L.bottoms))], attrs)


def unknown(b: Builder, L: Layer) -> None:
    """Drawn with its parameters, marked unknown to graphscope; its outputs stay unknown
    rather than guessed. Each unknown type is reported once (see ``unknown_type_warnings``)."""
    attrs = {}
    for field, value, _ in L.msg.fields:
        if field.endswith("_param") and isinstance(value, Message):
            for k, v in value.to_dict().items():
                attrs[f"{field[:-6]}.{k}"] = v
    b.node(L, f"caffe.{L.type}", [b.bottom(L, i) for i in range(len(L.bottoms))],
           attrs, unknown=True)
    first, names = b.unknown_types.setdefault(L.type, (b.where(L, "type"), []))
    names.append(L.name)


def unknown_type_warnings(b: Builder) -> list[str]:
    out = []
    for t, (where, names) in b.unknown_types.items():
        which = ", ".join(f"'{n}'" for n in names[:3]) + (", ..." if len(names) > 3 else "")
        out.append(f"{where}: layer '{names[0]}': unknown layer type '{t}' ({len(names)} "
                   f"layer{'s' if len(names) > 1 else ''}: {which}): drawn with its parameters, "
                   f"output shape unknown; a plugin can give its shape rule "
                   f"(--plugin FILE.py, see docs/caffe.md)")
    return out


def known_types() -> set[str]:
    """Every layer type graphscope reads (plugins' types included)."""
    from ... import plugins
    return set(HANDLERS) | set(DATA_LAYERS) | LOSS_LAYERS | {"Python"} | \
        set(plugins.caffe_types())


HANDLERS = {
    "Convolution": conv, "Deconvolution": conv,
    "ConvolutionDepthwise": lambda b, L: conv(b, L, depthwise=True),
    "DepthwiseConvolution": lambda b, L: conv(b, L, depthwise=True),
    "Pooling": pooling, "InnerProduct": inner_product, "LRN": lrn,
    "BatchNorm": batch_norm, "Scale": scale, "Bias": bias, "Eltwise": eltwise,
    "Concat": concat, "Slice": slice_, "Split": split, "Crop": crop, "Flatten": flatten,
    "Reshape": reshape, "Permute": permute, "Softmax": softmax, "ReLU": relu, "PReLU": prelu,
    "ELU": elu, "Sigmoid": simple("Sigmoid"), "TanH": simple("Tanh"), "AbsVal": simple("Abs"),
    "BNLL": simple("Softplus"),
    "Power": simple("caffe.Power", "power_param",
                    (("power", 1.0), ("scale", 1.0), ("shift", 0.0))),
    "Exp": exp_log, "Log": exp_log,
    "Threshold": simple("caffe.Threshold", "threshold_param", (("threshold", 0.0),)),
    "Dropout": dropout, "ArgMax": argmax, "Accuracy": loss, "Silence": silence, "Tile": tile,
    "Reduction": reduction, "Embed": embed, "LSTM": recurrent, "RNN": recurrent,
    "Normalize": normalize, "PriorBox": prior_box,
    "DetectionOutput": with_params("caffe.DetectionOutput", "detection_output_param"),
    "ROIPooling": roi_pooling, "Proposal": with_params("caffe.Proposal", "proposal_param"),
    "Upsample": upsample, "Interp": with_params("caffe.Interp", "interp_param"),
    "ShuffleChannel": with_params("caffe.ShuffleChannel", "shuffle_channel_param"),
    "MVN": simple("MeanVarianceNormalization"),
    **{t: loss for t in LOSS_LAYERS},
}


def pool_out(size: int, k: int, s: int, p: int) -> int:
    """Caffe's pooled size (exported for tests and docs)."""
    return caffe_pool_out(size, k, s, p)
