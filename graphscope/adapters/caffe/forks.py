"""Layers of the Caffe forks people use (SSD, Faster R-CNN/R-FCN, YOLO ports, PSPNet/DeepLab,
MobileNet/ShuffleNet/SENet ports, C3D, openpose-era face and pose nets), one small handler
each. Shape and cost rules live with their ops in ir/ops_caffe.py; ONNX lowerings in
convert/lower_caffe.py. Semantics follow each fork's source (named in the handler)."""
from __future__ import annotations

import re

from .layers import Builder, Layer, _channels, _spatial, conv
from .prototxt import Message


def _bottoms(b: Builder, L: Layer) -> list[str]:
    return [b.bottom(L, i) for i in range(len(L.bottoms))]


def _params(L: Layer, field: str) -> dict:
    """The layer's parameter message as plain attributes (nested messages kept as dicts)."""
    return dict(L.param(field).to_dict())


def _per_channel(b: Builder, L: Layer, index: int, role: str, c, constant=None):
    """A per-channel blob stored as (1, C, 1, 1) (the forks' BN) but used as (C,)."""
    if not isinstance(c, int):
        return None
    if b.weights is None or constant is not None:
        return b.weight(L, index, role, (c,), constant=constant)
    blobs = b.weights.get(L.name) or []
    if index < len(blobs) and blobs[index].count() == c:
        rec = blobs[index]
        name = f"{L.name}:{role}"
        from ...ir import WeightData
        v = b.g.add_weight(name, WeightData((c,), "float32", lambda: rec.array().reshape(c)))
        v.meta["layer"] = L.name
        b.used_weights.add(L.name)
        return name
    return b.weight(L, index, role, (c,))


def bn(b: Builder, L: Layer) -> None:
    """PSPNet/SegNet/TSN's ``BN``: y = slope * (x - mean) / sqrt(var + eps) + bias, four
    (1, C, 1, 1) blobs (slope, bias, mean, variance) -> one BatchNormalization."""
    p = L.param("bn_param")
    x = b.bottom(L, 0)
    c = _channels(b, x)
    ins = [x] + [_per_channel(b, L, i, role, c)
                 for i, role in enumerate(("scale", "bias", "mean", "var"))]
    b.node(L, "BatchNormalization", ins, {"epsilon": float(p.get("eps", 1e-5))})


def relu6(b: Builder, L: Layer) -> None:
    """MobileNet-v2 ports' ReLU6: min(max(x, 0), 6)."""
    b.node(L, "caffe.ReLU6", [b.bottom(L, 0)])


def swish(b: Builder, L: Layer) -> None:
    """x * sigmoid(beta * x) (BVLC's swish_param)."""
    b.node(L, "caffe.Swish", [b.bottom(L, 0)],
           {"beta": float(L.param("swish_param").get("beta", 1.0))})


def mish(b: Builder, L: Layer) -> None:
    """x * tanh(softplus(x))."""
    b.node(L, "caffe.Mish", [b.bottom(L, 0)])


def axpy(b: Builder, L: Layer) -> None:
    """SENet ports' Axpy (hujie-frank): a (N, C, 1, 1) * x (N, C, H, W) + y (N, C, H, W)."""
    b.node(L, "caffe.Axpy", [b.bottom(L, 0), b.bottom(L, 1), b.bottom(L, 2)])


def group_norm(b: Builder, L: Layer) -> None:
    """GroupNorm ports: normalise over groups of C/G channels and H, W; an optional per-channel
    scale and bias (blobs 0 and 1) when the port learns them in the layer."""
    p = L.param("group_norm_param")
    x = b.bottom(L, 0)
    groups = int(p.get("group_num", p.get("num_groups", p.get("group", 32))))
    c = _channels(b, x)
    ins = [x]
    if b.weights is not None and len(b.weights.get(L.name) or []) >= 2:
        ins += [_per_channel(b, L, 0, "scale", c), _per_channel(b, L, 1, "bias", c)]
    b.node(L, "caffe.GroupNorm", ins, {"num_groups": groups, "epsilon": float(p.get("eps", 1e-5))})


def unpooling(b: Builder, L: Layer) -> None:
    """DeconvNet's Unpooling (bottoms: x, the pooling mask): out = (in - 1) * stride + kernel
    - 2 * pad, or ``unpool_size`` / ``unpool_h``, ``unpool_w`` when given, or the size of a
    third bottom."""
    p = L.param("unpooling_param")
    attrs = {"kernel_shape": _spatial(p, "kernel", 2), "strides": _spatial(p, "stride", 1),
             "pads": _spatial(p, "pad", 0)}
    for f in ("unpool_h", "unpool_w", "unpool_size"):
        if p.has(f):
            attrs[f] = int(p.get(f))
    b.node(L, "caffe.Unpooling", _bottoms(b, L), attrs)


def nd_conv(b: Builder, L: Layer) -> None:
    """C3D's NdConvolution (video-caffe): kernel_shape/stride_shape/pad_shape { dim } ->
    an N-d Conv; the rest is Caffe's Convolution."""
    p = L.param("convolution_param")
    for nd, flat in (("kernel_shape", "kernel_size"), ("stride_shape", "stride"),
                     ("pad_shape", "pad")):
        m = p.get(nd)
        if isinstance(m, Message):
            p.fields = [f for f in p.fields if f[0] != nd] + \
                [(flat, int(d), m.pos) for d in m.all("dim")]
    conv(b, L)


def nd_pool(b: Builder, L: Layer) -> None:
    """C3D's NdPooling: Caffe's pooling (ceil rounding) over every spatial axis."""
    p = L.param("pooling_param")
    x = b.bottom(L, 0)
    dims = {nd: [int(d) for d in p.get(nd).all("dim")] if isinstance(p.get(nd), Message) else []
            for nd in ("kernel_shape", "stride_shape", "pad_shape")}
    k = dims["kernel_shape"] or [int(v) for v in p.all("kernel_size")]
    n = len(k)
    s = dims["stride_shape"] or [1] * n
    pad = dims["pad_shape"] or [0] * n
    kind = str(p.get("pool", "MAX"))
    kind = {"0": "MAX", "1": "AVE"}.get(kind, kind)
    b.node(L, "caffe.Pooling", [x], {"kernel_shape": k, "strides": s, "pads": pad + pad,
                                     "pool": kind, "ceil_mode": 1})


def reorg(b: Builder, L: Layer) -> None:
    """YOLOv2 ports' Reorg: (N, C, H, W) -> (N, C*s*s, H/s, W/s); ``reverse`` undoes it."""
    p = L.param("reorg_param")
    b.node(L, "caffe.Reorg", [b.bottom(L, 0)],
           {"stride": int(p.get("stride", 2)), "reverse": int(bool(p.get("reverse", False)))})


def region(b: Builder, L: Layer) -> None:
    """YOLOv2's Region (deploy): activations in place, the blob keeps its shape."""
    b.node(L, "caffe.Region", [b.bottom(L, 0)], _params(L, "region_param"))


def yolo_detection(b: Builder, L: Layer) -> None:
    """Yolov3DetectionOutput (eric612): rows of 7 like SSD's, at most keep_top_k."""
    b.node(L, "caffe.DetectionOutput", _bottoms(b, L),
           _params(L, "yolov3_detection_output_param"))


def psroi_pooling(b: Builder, L: Layer) -> None:
    """R-FCN's PSROIPooling: (R, output_dim, group_size, group_size)."""
    p = L.param("psroi_pooling_param")
    b.node(L, "caffe.PSROIPooling", [b.bottom(L, 0), b.bottom(L, 1)],
           {"output_dim": int(p.get("output_dim")), "group_size": int(p.get("group_size", 7)),
            "spatial_scale": float(p.get("spatial_scale", 1.0))})


def roi_align(b: Builder, L: Layer) -> None:
    """Mask R-CNN ports' ROIAlign: (R, C, pooled_h, pooled_w)."""
    p = L.param("roi_align_param")
    b.node(L, "caffe.ROIAlign", [b.bottom(L, 0), b.bottom(L, 1)],
           {"pooled_shape": [int(p.get("pooled_h", 7)), int(p.get("pooled_w", 7))],
            "spatial_scale": float(p.get("spatial_scale", 1.0))})


def filter_(b: Builder, L: Layer) -> None:
    """BVLC's Filter (the last bottom selects items of the others: a data-dependent count),
    or channel-pruning's one-bottom Filter that keeps ``num_output`` channels."""
    p = L.param("filter_param")
    if len(L.bottoms) == 1 and p.has("num_output"):
        b.node(L, "caffe.ChannelFilter", [b.bottom(L, 0)],
               {"num_output": int(p.get("num_output"))})
        return
    b.node(L, "caffe.Filter", _bottoms(b, L))


def parameter(b: Builder, L: Layer) -> None:
    """BVLC's Parameter: its one learned blob is its top."""
    s = L.param("parameter_param").get("shape")
    shape = tuple(int(d) for d in s.all("dim")) if isinstance(s, Message) else None
    w = b.weight(L, 0, "blob", shape)
    b.node(L, "caffe.Parameter", [w] if w else [], {"shape": list(shape or ())})


def im2col(b: Builder, L: Layer) -> None:
    p = L.param("convolution_param")
    k = _spatial(p, "kernel", None) if (p.has("kernel_h") or p.has("kernel_size")) else [1, 1]
    b.node(L, "caffe.Im2col", [b.bottom(L, 0)],
           {"kernel_shape": k, "strides": _spatial(p, "stride", 1),
            "pads": _spatial(p, "pad", 0), "dilations": _spatial(p, "dilation", 1)})


def same_shape(op: str, param: str | None = None):
    """A fork layer whose top has its first bottom's shape (CRF-as-RNN's MultiStageMeanfield,
    splitbrain's ColorConv, the margin layers' LabelSpecificAdd, CosinAddm, Division)."""
    def handler(b: Builder, L: Layer) -> None:
        b.node(L, op, _bottoms(b, L), _params(L, param) if param else {})
    return handler


def margin_inner_product(b: Builder, L: Layer) -> None:
    """LargeMarginInnerProduct / InnerDistance: an InnerProduct-shaped (N, num_output) whose
    weight is (num_output, K); the other bottoms are labels."""
    field = {"LargeMarginInnerProduct": "largemargin_inner_product_param",
             "InnerDistance": "inner_distance_param"}[L.type]
    p = L.param(field)
    x = b.bottom(L, 0)
    n = int(p.get("num_output")) if p.has("num_output") else None
    shape = b.shape(x)
    k = None
    if shape is not None and all(isinstance(d, int) for d in shape[1:]):
        k = 1
        for d in shape[1:]:
            k *= d
    w = b.weight(L, 0, "weight", (n, k) if k and n else None)
    ins = [x] + ([w] if w else []) + [b.bottom(L, i) for i in range(1, len(L.bottoms))]
    b.node(L, "caffe.MarginInnerProduct", ins, {"num_output": n} if n else {})


def lstm_junhyukoh(b: Builder, L: Layer) -> None:
    """junhyukoh/caffe-lstm's Lstm: (T, I) and clip (T, 1) -> (T, num_output); weights
    W_x (4H, I), W_h (4H, H), b (4H)."""
    p = L.param("lstm_param")
    x = b.bottom(L, 0)
    h = int(p.get("num_output"))
    shape = b.shape(x)
    i = None
    if shape is not None and all(isinstance(d, int) for d in shape[1:]):
        i = 1
        for d in shape[1:]:
            i *= d
    ws = [b.weight(L, 0, "W_x", (4 * h, i) if i else None), b.weight(L, 1, "b", (4 * h,)),
          b.weight(L, 2, "W_h", (4 * h, h))]
    ins = [x] + [b.bottom(L, j) for j in range(1, len(L.bottoms))] + [w for w in ws if w]
    b.node(L, "caffe.Lstm", ins, {"num_output": h})


# -- Python layers --------------------------------------------------------------------------
def _param_str(L: Layer) -> dict:
    """py-faster-rcnn's param_str is a YAML/Python dict literal: read numbers by regex, never
    evaluate it."""
    text = str(L.param("python_param").get("param_str", ""))
    return {k: float(v) for k, v in re.findall(r"['\"]?(\w+)['\"]?\s*:\s*(-?[0-9.]+)", text)}


def _anchors(ps: dict) -> int:
    return int(ps.get("num_anchors", 9))


def python(b: Builder, L: Layer) -> None:
    """Python layers are never run. py-faster-rcnn's well-known modules get the shapes their
    code gives; any other module is drawn with its module/layer names, shapes unknown."""
    p = L.param("python_param")
    module, layer = str(p.get("module", "")), str(p.get("layer", ""))
    ps = _param_str(L)
    attrs = {"module": module, "layer": layer}
    if p.has("param_str"):
        attrs["param_str"] = str(p.get("param_str"))
    key = module.rsplit(".", 1)[-1] if module else ""
    known = key in PY_KNOWN or module in PY_KNOWN
    if known:
        attrs["num_classes"] = int(ps.get("num_classes", 21))
        attrs["num_anchors"] = _anchors(ps)
        attrs["py_module"] = module if module in PY_KNOWN else key
    b.node(L, "caffe.Python", _bottoms(b, L), attrs, unknown=not known)


PY_KNOWN = {"proposal_layer", "rpn.proposal_layer", "anchor_target_layer",
            "rpn.anchor_target_layer", "proposal_target_layer", "rpn.proposal_target_layer"}


HANDLERS = {
    "BN": bn, "ReLU6": relu6, "Swish": swish, "Mish": mish, "Axpy": axpy,
    "GroupNorm": group_norm, "Unpooling": unpooling, "NdConvolution": nd_conv,
    "NdPooling": nd_pool, "Reorg": reorg, "Region": region,
    "Yolov3DetectionOutput": yolo_detection, "PSROIPooling": psroi_pooling,
    "ROIAlign": roi_align, "Filter": filter_, "Parameter": parameter, "Im2col": im2col,
    "Python": python, "Lstm": lstm_junhyukoh,
    "LargeMarginInnerProduct": margin_inner_product, "InnerDistance": margin_inner_product,
    "MultiStageMeanfield": same_shape("caffe.MultiStageMeanfield", "multi_stage_meanfield_param"),
    "DenseCRF": same_shape("caffe.DenseCRF", "dense_crf_param"),
    "ColorConv": same_shape("caffe.ColorConv"),
    "LabelSpecificAdd": same_shape("caffe.LabelSpecificAdd", "label_specific_add_param"),
    "CosinAddm": same_shape("caffe.CosinAddm", "cosin_add_m_param"),
    "Division": same_shape("caffe.Division"),
    "BoxAnnotatorOHEM": same_shape("caffe.BoxAnnotatorOHEM", "box_annotator_ohem_param"),
}
