"""Old and loose spellings of layers, brought to the V2 form the builder reads.

- V0 nets (``layers { layer { type: "conv" kernelsize: 11 ... } bottom: ... }``): the flat
  parameters move into their ``*_param`` messages, as Caffe's UpgradeV0Net does, and a V0
  ``padding`` layer is folded into the convolution that reads it.
- A type written in another case or as a V1 enum (``relu``, ``Lstm``, ``INTERP``,
  ``MULTI_STAGE_MEANFIELD``) is matched to a known type ignoring case and underscores, with
  a warning: Caffe's registry is case-sensitive, but netscope and the forks' users are not.
"""
from __future__ import annotations

from .prototxt import Message

V0_TYPES = {
    "accuracy": "Accuracy", "bnll": "BNLL", "concat": "Concat", "conv": "Convolution",
    "data": "Data", "dropout": "Dropout", "euclidean_loss": "EuclideanLoss",
    "flatten": "Flatten", "hdf5_data": "HDF5Data", "hdf5_output": "HDF5Output",
    "im2col": "Im2col", "images": "ImageData", "infogain_loss": "InfogainLoss",
    "innerproduct": "InnerProduct", "lrn": "LRN", "pool": "Pooling", "relu": "ReLU",
    "sigmoid": "Sigmoid", "softmax": "Softmax", "softmax_loss": "SoftmaxWithLoss",
    "split": "Split", "tanh": "TanH", "window_data": "WindowData",
    "multinomial_logistic_loss": "MultinomialLogisticLoss", "padding": "padding"}

# V0 flat field -> (the V2 parameter message per type, the V2 field name)
_CONV_IP = {"Convolution": "convolution_param", "InnerProduct": "inner_product_param"}
_DATA = {"Data": "data_param", "ImageData": "image_data_param",
         "WindowData": "window_data_param", "HDF5Data": "hdf5_data_param"}
V0_FIELDS = {
    "num_output": (_CONV_IP, "num_output"), "biasterm": (_CONV_IP, "bias_term"),
    "weight_filler": (_CONV_IP, "weight_filler"), "bias_filler": (_CONV_IP, "bias_filler"),
    "pad": ({"Convolution": "convolution_param", "padding": "padding"}, "pad"),
    "kernelsize": ({"Convolution": "convolution_param", "Pooling": "pooling_param"},
                   "kernel_size"),
    "group": ({"Convolution": "convolution_param"}, "group"),
    "stride": ({"Convolution": "convolution_param", "Pooling": "pooling_param"}, "stride"),
    "pool": ({"Pooling": "pooling_param"}, "pool"),
    "dropout_ratio": ({"Dropout": "dropout_param"}, "dropout_ratio"),
    "local_size": ({"LRN": "lrn_param"}, "local_size"),
    "alpha": ({"LRN": "lrn_param"}, "alpha"), "beta": ({"LRN": "lrn_param"}, "beta"),
    "k": ({"LRN": "lrn_param"}, "k"),
    "source": (_DATA, "source"), "batchsize": (_DATA, "batch_size"),
    "cropsize": ({t: "transform_param" for t in _DATA}, "crop_size"),
    "mirror": ({t: "transform_param" for t in _DATA}, "mirror"),
    "meanfile": ({t: "transform_param" for t in _DATA}, "mean_file"),
    "scale": ({t: "transform_param" for t in _DATA}, "scale"),
    "new_height": ({"ImageData": "image_data_param"}, "new_height"),
    "new_width": ({"ImageData": "image_data_param"}, "new_width"),
    "concat_dim": ({"Concat": "concat_param"}, "concat_dim"),
}


def is_v0(msg: Message) -> bool:
    return isinstance(msg.get("layer"), Message)


def upgrade_v0(msg: Message) -> Message:
    """``layers { layer { ... } bottom top }`` -> a V2-shaped layer message."""
    inner = msg.get("layer")
    out = Message(msg.pos, msg.source)
    v0type = str(inner.get("type", ""))
    type_ = V0_TYPES.get(v0type.lower(), v0type)
    params: dict[str, Message] = {}
    for name, value, pos in inner.fields:
        if name == "type":
            out.fields.append(("type", type_, pos))
        elif name in ("name", "blobs_lr", "weight_decay", "blobs"):
            out.fields.append((name, value, pos))
        elif name in V0_FIELDS and type_ in V0_FIELDS[name][0]:
            holder, field = V0_FIELDS[name][0][type_], V0_FIELDS[name][1]
            if holder not in params:
                params[holder] = Message(pos, msg.source)
                out.fields.append((holder, params[holder], pos))
            if name == "pool" and str(value) in ("0", "1", "2"):
                value = ("MAX", "AVE", "STOCHASTIC")[int(value)]
            params[holder].fields.append((field, value, pos))
        else:
            out.fields.append((name, value, pos))  # kept; the unknown-field check warns
    out.fields.extend(f for f in msg.fields if f[0] != "layer")
    return out


def fold_padding(layers: list) -> list:
    """Caffe's UpgradeV0PaddingLayers: a V0 padding layer's pad moves into the convolution
    that reads its top, which then reads the padding layer's bottom."""
    pads = {L.tops[0]: L for L in layers if L.type == "padding" and L.tops and L.bottoms}
    if not pads:
        return layers
    out = []
    for L in layers:
        if L.type == "padding":
            continue
        for i, b in enumerate(L.bottoms):
            if b in pads and L.type == "Convolution":
                pad = pads[b].msg.get("padding")
                value = pad.get("pad", 0) if isinstance(pad, Message) else 0
                p = L.msg.get("convolution_param")
                if isinstance(p, Message):
                    p.fields = [f for f in p.fields if f[0] != "pad"]
                    p.fields.append(("pad", value, p.pos))
                L.bottoms[i] = pads[b].bottoms[0]
        out.append(L)
    return out


def _key(type_: str) -> str:
    return type_.replace("_", "").lower()


def canonical_type(type_: str, known) -> str | None:
    """The known type that ``type_`` spells loosely (case, underscores), or None."""
    if type_ in known:
        return type_
    table = {_key(t): t for t in known}
    return table.get(_key(type_))
