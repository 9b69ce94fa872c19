"""Caffe layers with no exact ONNX equivalent: schemas, shape rules (Caffe's own arithmetic)
and MAC rules. The Caffe adapter maps everything it can to canonical ONNX ops instead."""
from __future__ import annotations

from . import dims as D
from .graph import TensorType
from .ops import OPS, Attr, attr, register
from ..errors import ShapeError
from .shapes import norm_axis, rule, same, spatial_out, window_too_big
from .stats import _n, _shape, mac_rule

for _op, _cat in (("caffe.Power", "activation"), ("caffe.Exp", "activation"),
                  ("caffe.Log", "activation"), ("caffe.Threshold", "activation"),
                  ("caffe.LRN", "normalization"), ("caffe.Scale", "elementwise"),
                  ("caffe.Bias", "elementwise"), ("caffe.Normalize", "normalization"),
                  ("caffe.ShuffleChannel", "shape"), ("caffe.Eltwise", "elementwise"),
                  ("caffe.Split", "tensor"), ("caffe.Crop", "tensor"),
                  ("caffe.Flatten", "shape"), ("caffe.Reshape", "shape"),
                  ("caffe.Pooling", "pool"), ("caffe.ArgMax", "reduce"),
                  ("caffe.Reduction", "reduce"), ("caffe.Tile", "tensor"),
                  ("caffe.Embed", "layer"), ("caffe.LSTM", "recurrent"),
                  ("caffe.RNN", "recurrent"), ("caffe.PriorBox", "custom"),
                  ("caffe.DetectionOutput", "custom"), ("caffe.Proposal", "custom"),
                  ("caffe.Upsample", "tensor"), ("caffe.Interp", "tensor"),
                  ("caffe.Accuracy", "output"), ("caffe.Loss", "output"),
                  ("caffe.Silence", "output"), ("caffe.Python", "custom"),
                  ("caffe.InnerProduct", "layer")):
    if _op not in OPS:
        register(_op, _cat, "Caffe layer (see docs/caffe.md)")
OPS["caffe.Pooling"].attrs.update(pool=Attr("string", "MAX"), kernel_shape=Attr("ints"),
                                  strides=Attr("ints"), pads=Attr("ints"))


@rule("caffe.Power", "caffe.Exp", "caffe.Log", "caffe.Threshold", "caffe.LRN", "caffe.Scale",
      "caffe.Bias", "caffe.Normalize", "caffe.ShuffleChannel", "caffe.Eltwise")
def _same(node, ins):
    return [same(ins[0])]


@rule("caffe.Split")
def _split(node, ins):
    return [same(ins[0]) for _ in node.outputs]


@rule("caffe.Pooling")
def _pool(node, ins):
    """Caffe's pooling exactly: ceil rounding, and a last window that starts in the padding
    dropped only when there is padding (ONNX drops it always)."""
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    k, s, p = node.attrs["kernel_shape"], node.attrs["strides"], node.attrs["pads"]
    ceil = bool(node.attrs.get("ceil_mode", 1))
    sp = [caffe_pool_out(x.shape[2 + i], k[i], s[i], p[i], ceil) for i in range(len(k))]
    return [TensorType(x.dtype, (*x.shape[:2], *sp))]


def caffe_pool_out(size, k: int, s: int, p: int, ceil: bool = True):
    if not isinstance(size, int):
        if size is None:
            return None
        span = D.sub(D.add(size, 2 * p), k)
        return D.add(D.ceildiv(span, s) if ceil else D.floordiv(span, s), 1)
    span = size + 2 * p - k
    if span < 0:
        raise ShapeError(window_too_big(size, k, 1, 2 * p))
    out = (-(-span // s) if ceil else span // s) + 1
    if p > 0 and (out - 1) * s >= size + p:
        out -= 1
    return out


@rule("caffe.Crop")
def _crop(node, ins):
    a, b = ins[0], ins[1]
    if a is None or a.shape is None or b is None or b.shape is None:
        return [TensorType(a and a.dtype)]
    axis = norm_axis(attr(node, "axis") if "axis" in node.attrs else 2, len(a.shape))
    return [TensorType(a.dtype, (*a.shape[:axis], *b.shape[axis:]))]


@rule("caffe.Flatten")
def _flatten(node, ins):
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    r = len(x.shape)
    a = norm_axis(node.attrs.get("axis", 1), r)
    e = norm_axis(node.attrs.get("end_axis", -1), r)
    return [TensorType(x.dtype, (*x.shape[:a], D.product(x.shape[a:e + 1]), *x.shape[e + 1:]))]


@rule("caffe.Reshape")
def _reshape(node, ins):
    """Caffe's Reshape: replace dims [axis, axis+num_axes) by ``shape``; 0 copies, -1 infers."""
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    r = len(x.shape)
    axis = node.attrs.get("axis", 0)
    start = axis + r + 1 if axis < 0 else axis
    num = node.attrs.get("num_axes", -1)
    end = r if num == -1 else start + num
    target = list(node.attrs.get("shape", []))
    for i, d in enumerate(target):
        if d == 0:
            target[i] = x.shape[start + i]
    out = [*x.shape[:start], *target, *x.shape[end:]]
    if -1 in target:
        i = start + target.index(-1)
        known = D.product([d for j, d in enumerate(out) if j != i])
        total = D.product(x.shape)
        if isinstance(total, int) and isinstance(known, int) and known:
            if total % known:
                from ..errors import ShapeError
                raise ShapeError(f"cannot reshape {x.shape_str()} to {target}")
            out[i] = total // known
        else:
            out[i] = None
    return [TensorType(x.dtype, tuple(out))]


@rule("caffe.ArgMax")
def _argmax(node, ins):
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType("float32")]
    k = node.attrs.get("top_k", 1)
    if "axis" in node.attrs:
        shape = list(x.shape)
        shape[norm_axis(node.attrs["axis"], len(shape))] = k
    else:
        shape = [1] * max(len(x.shape), 3)
        shape[0], shape[1], shape[2] = x.shape[0], 2 if node.attrs.get("out_max_val") else 1, k
    return [TensorType("float32", tuple(shape))]


@rule("caffe.Reduction")
def _reduction(node, ins):
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    return [TensorType(x.dtype, x.shape[:norm_axis(node.attrs.get("axis", 0), len(x.shape))])]


@rule("caffe.Tile")
def _tile(node, ins):
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    shape = list(x.shape)
    a = norm_axis(node.attrs.get("axis", 1), len(shape))
    shape[a] = D.mul(shape[a], node.attrs.get("tiles", 1))
    return [TensorType(x.dtype, tuple(shape))]


@rule("caffe.Embed")
def _embed(node, ins):
    x = ins[0]
    n = node.attrs["num_output"]
    return [TensorType("float32", None if x is None or x.shape is None else (*x.shape, n))]


@rule("caffe.LSTM", "caffe.RNN")
def _recurrent(node, ins):
    x = ins[0]
    n = node.attrs["num_output"]
    return [TensorType("float32", None if x is None or x.shape is None else (*x.shape[:2], n))]


@rule("caffe.PriorBox")
def _prior_box(node, ins):
    x = ins[0]
    if x is None or x.shape is None or len(x.shape) < 4:
        return [TensorType("float32")]
    per_cell = node.attrs["num_priors"] * 4
    return [TensorType("float32", (1, 2, D.mul(D.mul(x.shape[2], x.shape[3]), per_cell)))]


@rule("caffe.DetectionOutput")
def _detection_output(node, ins):
    """Rows of [image, label, score, x1, y1, x2, y2]; how many is data-dependent, at most
    keep_top_k per image when it is set (OpenCV sizes its output by it)."""
    keep = node.attrs.get("keep_top_k", -1)
    x = ins[0] if ins else None
    n = x.shape[0] if x is not None and x.shape else None
    if isinstance(keep, int) and keep > 0 and isinstance(n, int):
        return [TensorType("float32", (1, 1, n * keep, 7))]
    return [TensorType("float32", (1, 1, "num_detections", 7))]


@rule("caffe.Proposal")
def _proposal(node, ins):
    """(rois, 5): how many is data-dependent, at most post_nms_topn (OpenCV sizes by it)."""
    top = node.attrs.get("post_nms_topn")
    rois = top if isinstance(top, int) and top > 0 else "num_rois"
    return [TensorType("float32", (rois, 5))] + \
        [TensorType("float32", (rois,))] * (len(node.outputs) - 1)


@rule("caffe.Upsample")
def _upsample(node, ins):
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    a = node.attrs
    if "upsample_h" in a:
        h, w = a["upsample_h"], a["upsample_w"]
    else:
        h, w = D.mul(x.shape[2], a.get("scale_h", a.get("height_scale", a.get("scale", 2)))), \
            D.mul(x.shape[3], a.get("scale_w", a.get("width_scale", a.get("scale", 2))))
    if len(ins) > 2 and ins[2] is not None and ins[2].shape is not None:  # SegNet mask size
        h, w = ins[2].shape[2], ins[2].shape[3]
    return [TensorType(x.dtype, (*x.shape[:2], h, w))]


@rule("caffe.Interp")
def _interp(node, ins):
    """PSPNet/DeepLab Interp: shrink, zoom, explicit size, or another blob's size."""
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    a = node.attrs
    h, w = x.shape[2], x.shape[3]
    if len(ins) > 1 and ins[1] is not None and ins[1].shape is not None:
        h, w = ins[1].shape[2], ins[1].shape[3]
    elif "height" in a and "width" in a:
        h, w = a["height"], a["width"]
    else:
        pb, pe = a.get("pad_beg", 0), a.get("pad_end", 0)
        h, w = D.add(h, pb + pe), D.add(w, pb + pe)
        if "shrink_factor" in a:
            s = a["shrink_factor"]
            h, w = D.add(D.floordiv(D.sub(h, 1), s), 1), D.add(D.floordiv(D.sub(w, 1), s), 1)
        if "zoom_factor" in a:
            z = a["zoom_factor"]
            h, w = D.add(h, D.mul(D.sub(h, 1), z - 1)), D.add(w, D.mul(D.sub(w, 1), z - 1))
    return [TensorType(x.dtype, (*x.shape[:2], h, w))]


@rule("caffe.InnerProduct")
def _inner_product(node, ins):
    """InnerProduct with axis != 1: dims before ``axis`` kept, the rest become num_output."""
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    axis = norm_axis(node.attrs["axis"], len(x.shape))
    return [TensorType(x.dtype, (*x.shape[:axis], node.attrs["num_output"]))]


@rule("caffe.Accuracy", "caffe.Loss")
def _scalar(node, ins):
    outs = [TensorType("float32", ())]
    if len(node.outputs) > 1 and node.source_op == "SoftmaxWithLoss":
        # top 1: the probabilities; R-FCN's OHEM fork adds top 2, the loss per item
        x = ins[0]
        n = x.shape[0] if x is not None and x.shape else None
        return outs + [same(x), TensorType("float32", (n,))][:len(node.outputs) - 1]
    if len(node.outputs) > 1:  # Accuracy's per-class output
        x = ins[0]
        c = x.shape[1] if x is not None and x.shape and len(x.shape) > 1 else None
        outs.append(TensorType("float32", (c,)))
    return outs


# -- MACs ---------------------------------------------------------------------------------
@mac_rule("caffe.Scale", "caffe.Bias", "caffe.Normalize", "caffe.LRN", "caffe.Power")
def _per_element(node):
    return _n(_shape(node.outputs[0]))


@mac_rule("caffe.LSTM", "caffe.RNN")
def _rnn_macs(node):
    x = _shape(node.inputs[0])
    if x is None:
        return None
    steps = _n(x[:2])
    weights = sum(v.data.size for v in node.inputs[1:] if v is not None and v.data is not None
                  and len(v.data.shape) == 2)
    return None if steps is None else steps * weights


@mac_rule("caffe.InnerProduct")
def _ip_macs(node):
    out, w = _n(_shape(node.outputs[0])), node.inputs[1]
    if out is None or w is None or w.data is None:
        return None
    return out * (w.data.size // node.attrs["num_output"])


@mac_rule("caffe.Embed")
def _embed_macs(node):
    return 0


# -- the forks' layers (graphscope/adapters/caffe/forks.py) -----------------------------------
for _op, _cat in (("caffe.ReLU6", "activation"), ("caffe.Swish", "activation"),
                  ("caffe.Mish", "activation"), ("caffe.Axpy", "elementwise"),
                  ("caffe.GroupNorm", "normalization"), ("caffe.Unpooling", "pool"),
                  ("caffe.Reorg", "shape"), ("caffe.Region", "custom"),
                  ("caffe.PSROIPooling", "pool"), ("caffe.ROIAlign", "pool"),
                  ("caffe.Filter", "tensor"), ("caffe.ChannelFilter", "tensor"),
                  ("caffe.Parameter", "constant"), ("caffe.Im2col", "tensor"),
                  ("caffe.MultiStageMeanfield", "custom"), ("caffe.DenseCRF", "custom"),
                  ("caffe.ColorConv", "custom"), ("caffe.LabelSpecificAdd", "elementwise"),
                  ("caffe.CosinAddm", "elementwise"), ("caffe.Division", "elementwise"),
                  ("caffe.BoxAnnotatorOHEM", "custom"), ("caffe.MarginInnerProduct", "layer"),
                  ("caffe.Lstm", "recurrent")):
    if _op not in OPS:
        register(_op, _cat, "Caffe fork layer (see docs/caffe.md)")


@rule("caffe.ReLU6", "caffe.Swish", "caffe.Mish", "caffe.GroupNorm", "caffe.Region",
      "caffe.MultiStageMeanfield", "caffe.DenseCRF", "caffe.ColorConv",
      "caffe.LabelSpecificAdd", "caffe.CosinAddm", "caffe.Division")
def _fork_same(node, ins):
    return [same(ins[0])]


@rule("caffe.Axpy")
def _axpy(node, ins):
    return [same(ins[1])]  # a (N, C, 1, 1) scales x, y is added: x's shape


@rule("caffe.BoxAnnotatorOHEM")
def _ohem(node, ins):
    return [same(ins[2]), same(ins[3])][:len(node.outputs)]  # labels, bbox weights


@rule("caffe.Unpooling")
def _unpooling(node, ins):
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    if len(ins) > 2 and ins[2] is not None and ins[2].shape is not None:
        return [TensorType(x.dtype, (*x.shape[:2], *ins[2].shape[2:]))]
    a = node.attrs
    if "unpool_h" in a or "unpool_size" in a:
        return [TensorType(x.dtype, (*x.shape[:2], a.get("unpool_h", a.get("unpool_size")),
                                     a.get("unpool_w", a.get("unpool_size"))))]
    k, s, p = a["kernel_shape"], a["strides"], a["pads"]
    sp = [D.add(D.mul(D.sub(x.shape[2 + i], 1), s[i]), k[i] - 2 * p[i]) for i in range(2)]
    return [TensorType(x.dtype, (*x.shape[:2], *sp))]


@rule("caffe.Reorg")
def _reorg(node, ins):
    x = ins[0]
    if x is None or x.shape is None or len(x.shape) != 4:
        return [TensorType(x and x.dtype)]
    s = node.attrs.get("stride", 2)
    n, c, h, w = x.shape
    if node.attrs.get("reverse"):
        return [TensorType(x.dtype, (n, D.floordiv(c, s * s), D.mul(h, s), D.mul(w, s)))]
    return [TensorType(x.dtype, (n, D.mul(c, s * s), D.floordiv(h, s), D.floordiv(w, s)))]


def _rois(ins, i=1):
    r = ins[i] if len(ins) > i else None
    return r.shape[0] if r is not None and r.shape else "num_rois"


@rule("caffe.PSROIPooling")
def _psroi(node, ins):
    g = node.attrs["group_size"]
    return [TensorType("float32", (_rois(ins), node.attrs["output_dim"], g, g))]


@rule("caffe.ROIAlign")
def _roi_align(node, ins):
    x = ins[0]
    c = x.shape[1] if x is not None and x.shape and len(x.shape) > 1 else None
    return [TensorType("float32", (_rois(ins), c, *node.attrs["pooled_shape"]))]


@rule("caffe.Filter")
def _filter(node, ins):
    """The selector (last bottom) picks a data-dependent number of items."""
    return [TensorType(x and x.dtype, None if x is None or x.shape is None
                       else ("num_selected", *x.shape[1:])) for x in ins[:len(node.outputs)]]


@rule("caffe.ChannelFilter")
def _channel_filter(node, ins):
    x = ins[0]
    if x is None or x.shape is None:
        return [TensorType(x and x.dtype)]
    return [TensorType(x.dtype, (x.shape[0], node.attrs["num_output"], *x.shape[2:]))]


@rule("caffe.Parameter")
def _parameter(node, ins):
    return [TensorType("float32", tuple(node.attrs["shape"]) or None)]


@rule("caffe.Im2col")
def _im2col(node, ins):
    x = ins[0]
    if x is None or x.shape is None or len(x.shape) != 4:
        return [TensorType(x and x.dtype)]
    a = node.attrs
    k, s, p, d = a["kernel_shape"], a["strides"], a["pads"], a["dilations"]
    sp = [spatial_out(x.shape[2 + i], k[i], s[i], d[i], p[i], p[i], "NOTSET") for i in range(2)]
    return [TensorType(x.dtype, (x.shape[0], D.mul(x.shape[1], k[0] * k[1]), *sp))]


@rule("caffe.MarginInnerProduct")
def _margin_ip(node, ins):
    """(N, num_output); NormFace's InnerDistance may take its weight (M, K) as bottom 1."""
    x = ins[0]
    n = x.shape[0] if x is not None and x.shape else None
    m = node.attrs.get("num_output")
    if m is None and len(ins) > 1 and ins[1] is not None and ins[1].shape:
        m = ins[1].shape[0]
    return [TensorType("float32", (n, m))]


@rule("caffe.Lstm")
def _lstm_junhyukoh(node, ins):
    x = ins[0]
    t = x.shape[0] if x is not None and x.shape else None
    return [TensorType("float32", (t, node.attrs["num_output"]))]


@rule("caffe.Python")
def _python(node, ins):
    """py-faster-rcnn's modules, as their reshape() writes the tops; others unknown."""
    mod = node.attrs.get("py_module")
    if mod is None:
        return [TensorType("float32") for _ in node.outputs]
    k, a = node.attrs.get("num_classes", 21), node.attrs.get("num_anchors", 9)
    if mod.endswith("anchor_target_layer"):
        x = ins[0]
        h, w = (x.shape[2], x.shape[3]) if x is not None and x.shape and len(x.shape) == 4 \
            else (None, None)
        outs = [(1, 1, D.mul(h, a), w)] + [(1, 4 * a, h, w)] * 3
    elif mod.endswith("proposal_target_layer"):
        outs = [("num_rois", 5), ("num_rois", 1)] + [("num_rois", 4 * k)] * 3
    else:  # proposal_layer: rois and (optionally) their scores
        outs = [("num_rois", 5), ("num_rois", 1)]
    return [TensorType("float32", s) for s in outs[:len(node.outputs)]]


# -- MACs of the forks' layers ------------------------------------------------------------------
@mac_rule("caffe.Axpy", "caffe.GroupNorm", "caffe.Swish", "caffe.Mish")
def _fork_per_element(node):
    return _n(_shape(node.outputs[0]))


@mac_rule("caffe.MarginInnerProduct")
def _margin_ip_macs(node):
    out = _n(_shape(node.outputs[0]))
    w = node.inputs[1] if len(node.inputs) > 1 else None
    if out is None or w is None or w.type.shape is None or len(w.type.shape) != 2:
        return None
    return D.numel((out, w.type.shape[1]))


@mac_rule("caffe.Lstm")
def _lstm_macs(node):
    t = _shape(node.inputs[0])
    ws = [v for v in node.inputs[1:] if v is not None and v.data is not None
          and len(v.data.shape) == 2]
    return None if t is None or not isinstance(t[0], int) else t[0] * sum(v.data.size for v in ws)


@mac_rule("caffe.PSROIPooling", "caffe.ROIAlign", "caffe.Unpooling", "caffe.Reorg",
          "caffe.Filter", "caffe.ChannelFilter", "caffe.Im2col", "caffe.Parameter",
          "caffe.ReLU6", "caffe.Region")
def _no_macs(node):
    return 0
