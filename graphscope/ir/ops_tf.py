"""TensorFlow / Keras ops: 'tf.*' and 'keras.*' ops with cost rules, and channels-last
(NHWC) shape inference for the canonical ops TF uses with ``data_format`` NHWC.

Shape rules in shapes.py are written for ONNX's channels-first layout. A node that records
``data_format`` 'NHWC' (or 'NWC', 'NDHWC') has its input seen as channels-first, the rule
run, and the outputs turned back, so one rule serves both layouts.
"""
from __future__ import annotations

from . import dims as D
from . import shapes, stats
from .graph import TensorType
from .ops import OPS, Attr, register

LAYOUT_OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "GlobalMaxPool",
              "GlobalAveragePool", "DepthToSpace", "SpaceToDepth", "Resize", "Upsample")


def channels_last(node) -> bool:
    fmt = node.attrs.get("data_format")
    return isinstance(fmt, str) and len(fmt) >= 3 and fmt.startswith("N") and fmt.endswith("C")


def _to_first(t: TensorType | None) -> TensorType | None:
    if t is None or t.shape is None or len(t.shape) < 3:
        return t
    s = t.shape
    return TensorType(t.dtype, (s[0], s[-1]) + tuple(s[1:-1]))


def _to_last(t: TensorType, keepdims: bool = True) -> TensorType:
    if t.shape is None or len(t.shape) < 3:
        return t
    s = t.shape
    if not keepdims:  # Keras global pools drop the spatial dims
        return TensorType(t.dtype, (s[0], s[1]))
    return TensorType(t.dtype, (s[0],) + tuple(s[2:]) + (s[1],))


def _layout_aware(rule):
    def wrapped(node, ins):
        if not channels_last(node):
            return rule(node, ins)
        outs = rule(node, [_to_first(ins[0])] + list(ins[1:]))
        keep = node.attrs.get("keepdims", 1) != 0
        return [_to_last(outs[0], keep)] + list(outs[1:])
    wrapped.__wrapped__ = rule
    return wrapped


for _op in LAYOUT_OPS:
    _rule = shapes.RULES.get(_op)
    if _rule is not None and not hasattr(_rule, "__wrapped__"):
        shapes.RULES[_op] = _layout_aware(_rule)


def _filter_to_oihw(node, w: TensorType | None) -> TensorType | None:
    """A TF filter left in its own order (``filter_layout`` HWIO, or HWIM for depthwise),
    seen as ONNX's [Cout, Cin/group, *k] for the Conv shape rule."""
    layout = node.attrs.get("filter_layout")
    if not layout or w is None or w.shape is None or len(w.shape) < 3:
        return w
    s = w.shape
    k = tuple(s[:-2])
    if layout == "HWIM":
        return TensorType(w.dtype, (D.mul(s[-2], s[-1]), 1) + k)
    return TensorType(w.dtype, (s[-1], s[-2]) + k)


def _tf_conv_shape(rule):
    def wrapped(node, ins):
        w = ins[1] if len(ins) > 1 else None
        if node.attrs.get("filter_layout") and w is not None and w.shape:
            if node.attrs["filter_layout"] == "HWIM":  # depthwise: one group per channel,
                node.attrs.setdefault("group", w.shape[-2])  # known once the filter is
            ins = [ins[0], _filter_to_oihw(node, w)] + list(ins[2:])
        return rule(node, ins)
    wrapped.__wrapped__ = rule
    return wrapped


_conv_rule = shapes.RULES["Conv"]
if not getattr(_conv_rule, "tf_filter", False):
    shapes.RULES["Conv"] = _tf_conv_shape(_conv_rule)
    shapes.RULES["Conv"].tf_filter = True

_conv_macs = stats.MAC_RULES["Conv"]


@stats.mac_rule("Conv")
def _conv_macs_any_layout(node):
    """Each output element costs (filter elements / output channels) multiply-adds, whatever
    order the filter is stored in; channels are last for NHWC nodes."""
    if not channels_last(node):
        return _conv_macs(node)
    w, y = node.inputs[1].type.shape, node.outputs[0].type.shape
    out, wn = D.numel(y), D.numel(w)
    if out is None or wn is None or not isinstance(y[-1], int) or y[-1] == 0:
        return None
    return out * wn // y[-1]


def _channel_axis_add(rule):
    """BiasAdd with data_format NCHW adds along axis 1, not the last axis."""
    def wrapped(node, ins):
        if node.attrs.get("data_format", "NHWC").startswith("NC") and len(ins) == 2 and ins[0]:
            return [ins[0]]
        return rule(node, ins)
    wrapped.__wrapped__ = rule
    return wrapped


if not hasattr(shapes.RULES.get("Add"), "__wrapped__"):
    shapes.RULES["Add"] = _channel_axis_add(shapes.RULES["Add"])


# -- Keras layers with no exact ONNX op --------------------------------------------------------
def _reg(name, category, **attrs):
    if name not in OPS:
        register(name, category, **attrs)


_reg("keras.Dense", "layer", units=Attr("int"))
_reg("keras.SeparableConv2D", "layer")
_reg("keras.Lambda", "custom")
_reg("keras.Bidirectional", "recurrent")
_reg("tf.Rsqrt", "activation")
_reg("tf.SquaredDifference", "elementwise")
_reg("keras.Normalization", "normalization", axis=Attr("ints"))
_reg("keras.Rescaling", "elementwise")


@shapes.rule("keras.Normalization", "keras.Rescaling")
def _keras_same_shape(node, ins):
    return [shapes.same(ins[0])]


@stats.mac_rule("keras.Normalization")
def _keras_normalization(node):
    """(x - mean) / sqrt(variance): a normalisation, 1 MAC per element (docs/cost_model.md)."""
    return D.numel(node.outputs[0].type.shape)


@stats.mac_rule("keras.Dense")
def _dense(node):
    """Dense on a rank > 2 input: a MatMul over the last axis (kernel is [in, out])."""
    x, y = node.inputs[0], node.outputs[0]
    k = D.numel(x.type.shape[-1:]) if x is not None and x.type.shape else None
    out = D.numel(y.type.shape)
    return None if k is None or out is None else out * k


@stats.mac_rule("keras.SeparableConv2D")
def _separable(node):
    """Depthwise [kh, kw, cin, m] on the input grid, then pointwise [1, 1, cin*m, cout]."""
    y = node.outputs[0].type.shape
    dw, pw = node.inputs[1].type.shape, node.inputs[2].type.shape
    if y is None or dw is None or pw is None:
        return None
    pixels = D.numel(y[:-1])
    if pixels is None:
        return None
    return pixels * (D.numel(dw) + D.numel(pw))
