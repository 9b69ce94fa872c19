"""Canonical ops: one registration per op with its category and attribute schema.

Canonical names and attribute meanings are ONNX's, so that ONNX is the hub for conversion.
Ops with no ONNX equivalent keep a framework prefix ('caffe.PriorBox', 'tf.Where') and are
looked up by their prefix's fallback schema. Shape rules live in shapes.py and cost rules in
stats.py, both keyed by the same names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Categories drive colours and shapes in every renderer (see renderers/theme.py).
CATEGORIES = ("input", "output", "layer", "activation", "pool", "normalization", "dropout",
              "elementwise", "shape", "tensor", "reduce", "recurrent", "attention", "control",
              "constant", "custom")


@dataclass(frozen=True)
class Attr:
    type: str            # int | ints | float | floats | string | strings | tensor | graph
    default: Any = None
    doc: str = ""


@dataclass(frozen=True)
class OpSchema:
    name: str
    category: str
    attrs: dict[str, Attr] = field(default_factory=dict)
    doc: str = ""


OPS: dict[str, OpSchema] = {}


def register(name: str, category: str, doc: str = "", **attrs: Attr) -> OpSchema:
    assert category in CATEGORIES, category
    schema = OpSchema(name, category, dict(attrs), doc)
    OPS[name] = schema
    return schema


def schema(op: str) -> OpSchema | None:
    return OPS.get(op)


def category(op: str) -> str:
    s = OPS.get(op)
    return s.category if s else "custom"


def attr(node, name: str):
    """The node's attribute ``name``, or the schema's default for it."""
    if name in node.attrs:
        return node.attrs[name]
    s = OPS.get(node.op)
    a = s.attrs.get(name) if s else None
    return None if a is None else a.default


def _conv_attrs(**extra: Attr) -> dict[str, Attr]:
    return dict(auto_pad=Attr("string", "NOTSET"), dilations=Attr("ints"), group=Attr("int", 1),
                kernel_shape=Attr("ints"), pads=Attr("ints"), strides=Attr("ints"), **extra)


def _pool_attrs(**extra: Attr) -> dict[str, Attr]:
    return dict(auto_pad=Attr("string", "NOTSET"), ceil_mode=Attr("int", 0),
                kernel_shape=Attr("ints"), pads=Attr("ints"), strides=Attr("ints"),
                dilations=Attr("ints"), **extra)


# -- layers with weights ------------------------------------------------------------------
register("Conv", "layer", "N-d convolution", **_conv_attrs())
register("ConvTranspose", "layer", "N-d transposed convolution",
         **_conv_attrs(output_padding=Attr("ints"), output_shape=Attr("ints")))
register("Gemm", "layer", "Y = alpha*A'*B' + beta*C", alpha=Attr("float", 1.0),
         beta=Attr("float", 1.0), transA=Attr("int", 0), transB=Attr("int", 0))
register("MatMul", "layer", "numpy-style matrix product")
register("Einsum", "layer", equation=Attr("string"))
register("Gather", "tensor", axis=Attr("int", 0))
register("Embedding", "layer", "table lookup (Gather on a weight)")

# -- activations --------------------------------------------------------------------------
for _op in ("Relu", "Sigmoid", "Tanh", "Softplus", "Softsign", "Erf", "Gelu", "Mish", "Swish",
            "HardSwish", "Abs", "Exp", "Log", "Sqrt", "Neg", "Reciprocal", "Floor", "Ceil",
            "Round", "Sign", "Sin", "Cos", "Not", "IsNaN", "IsInf", "Silu"):
    register(_op, "activation")
register("LeakyRelu", "activation", alpha=Attr("float", 0.01))
register("Elu", "activation", alpha=Attr("float", 1.0))
register("Selu", "activation", alpha=Attr("float", 1.67326), gamma=Attr("float", 1.0507))
register("Celu", "activation", alpha=Attr("float", 1.0))
register("HardSigmoid", "activation", alpha=Attr("float", 0.2), beta=Attr("float", 0.5))
register("ThresholdedRelu", "activation", alpha=Attr("float", 1.0))
register("PRelu", "activation", "slope is a weight")
register("Clip", "activation", min=Attr("float"), max=Attr("float"))
register("Softmax", "activation", axis=Attr("int", -1))
register("LogSoftmax", "activation", axis=Attr("int", -1))
register("Hardmax", "activation", axis=Attr("int", -1))

# -- pooling ------------------------------------------------------------------------------
register("MaxPool", "pool", **_pool_attrs(storage_order=Attr("int", 0)))
register("AveragePool", "pool", **_pool_attrs(count_include_pad=Attr("int", 0)))
register("LpPool", "pool", **_pool_attrs(p=Attr("int", 2)))
register("GlobalMaxPool", "pool")
register("GlobalAveragePool", "pool")
register("MaxRoiPool", "pool", pooled_shape=Attr("ints"), spatial_scale=Attr("float", 1.0))
register("RoiAlign", "pool", output_height=Attr("int", 1), output_width=Attr("int", 1),
         sampling_ratio=Attr("int", 0), spatial_scale=Attr("float", 1.0),
         mode=Attr("string", "avg"))

# -- normalization ------------------------------------------------------------------------
register("BatchNormalization", "normalization", epsilon=Attr("float", 1e-5),
         momentum=Attr("float", 0.9), training_mode=Attr("int", 0))
register("InstanceNormalization", "normalization", epsilon=Attr("float", 1e-5))
register("LayerNormalization", "normalization", axis=Attr("int", -1),
         epsilon=Attr("float", 1e-5), stash_type=Attr("int", 1))
register("GroupNormalization", "normalization", epsilon=Attr("float", 1e-5),
         num_groups=Attr("int"))
register("LpNormalization", "normalization", axis=Attr("int", -1), p=Attr("int", 2))
register("LRN", "normalization", alpha=Attr("float", 1e-4), beta=Attr("float", 0.75),
         bias=Attr("float", 1.0), size=Attr("int"))
register("MeanVarianceNormalization", "normalization", axes=Attr("ints", [0, 2, 3]))
register("Dropout", "dropout", ratio=Attr("float", 0.5), seed=Attr("int"))

# -- elementwise (broadcasting) ---------------------------------------------------------------
for _op in ("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Equal", "Greater",
            "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor", "Where", "Mod",
            "BitShift"):
    register(_op, "elementwise")

# -- shape and tensor manipulation ----------------------------------------------------------
register("Identity", "tensor")
register("Cast", "tensor", to=Attr("int"))
register("CastLike", "tensor")
register("Concat", "tensor", axis=Attr("int"))
register("Split", "tensor", axis=Attr("int", 0), split=Attr("ints"), num_outputs=Attr("int"))
register("Reshape", "shape", allowzero=Attr("int", 0), shape=Attr("ints"))
register("Flatten", "shape", axis=Attr("int", 1))
register("Transpose", "shape", perm=Attr("ints"))
register("Squeeze", "shape", axes=Attr("ints"))
register("Unsqueeze", "shape", axes=Attr("ints"))
register("Slice", "tensor", starts=Attr("ints"), ends=Attr("ints"), axes=Attr("ints"))
register("Pad", "tensor", mode=Attr("string", "constant"), pads=Attr("ints"),
         value=Attr("float", 0.0))
register("Resize", "tensor", mode=Attr("string", "nearest"),
         coordinate_transformation_mode=Attr("string", "half_pixel"))
register("Upsample", "tensor", mode=Attr("string", "nearest"), scales=Attr("floats"))
register("Tile", "tensor")
register("Expand", "tensor")
register("Shape", "shape", start=Attr("int", 0), end=Attr("int"))
register("Size", "shape")
register("ConstantOfShape", "constant", value=Attr("tensor"))
register("Constant", "constant", value=Attr("tensor"))
register("Range", "tensor")
register("DepthToSpace", "shape", blocksize=Attr("int"), mode=Attr("string", "DCR"))
register("SpaceToDepth", "shape", blocksize=Attr("int"))
register("GatherElements", "tensor", axis=Attr("int", 0))
register("GatherND", "tensor", batch_dims=Attr("int", 0))
register("ScatterND", "tensor")
register("ScatterElements", "tensor", axis=Attr("int", 0))
register("TopK", "tensor", axis=Attr("int", -1), largest=Attr("int", 1), sorted=Attr("int", 1))
register("ArgMax", "reduce", axis=Attr("int", 0), keepdims=Attr("int", 1))
register("ArgMin", "reduce", axis=Attr("int", 0), keepdims=Attr("int", 1))
register("NonZero", "tensor")
register("NonMaxSuppression", "tensor", center_point_box=Attr("int", 0))
register("OneHot", "tensor", axis=Attr("int", -1))
register("CumSum", "tensor", exclusive=Attr("int", 0), reverse=Attr("int", 0))
for _op in ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
            "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare"):
    register(_op, "reduce", axes=Attr("ints"), keepdims=Attr("int", 1),
             noop_with_empty_axes=Attr("int", 0))

# -- recurrent and attention ------------------------------------------------------------------
for _op in ("LSTM", "GRU", "RNN"):
    register(_op, "recurrent", hidden_size=Attr("int"), direction=Attr("string", "forward"),
             layout=Attr("int", 0))
register("Attention", "attention", "scaled dot-product attention (ONNX opset 23)",
         is_causal=Attr("int", 0), scale=Attr("float"), q_num_heads=Attr("int"),
         kv_num_heads=Attr("int"))

# -- control flow (bodies are subgraphs) ------------------------------------------------------
register("If", "control", then_branch=Attr("graph"), else_branch=Attr("graph"))
register("Loop", "control", body=Attr("graph"))
register("Scan", "control", body=Attr("graph"), num_scan_inputs=Attr("int"))
