"""Data layers (BVLC's and the forks'): the shapes of their tops, from their parameters.

What a database or list file holds (an LMDB's image size) is not in the prototxt and stays
unknown unless the layer says it (crop_size, new_height/new_width, input_param). An image
layer whose channel count is not written gets it from the caffemodel (the first convolution
that reads it) or, when reading forgivingly, 3 with a warning.
"""
from __future__ import annotations

from .prototxt import Message

# type -> the parameter message that holds batch_size, new_height, ...
PARAMS = {"Data": "data_param", "ImageData": "image_data_param",
          "HDF5Data": "hdf5_data_param", "WindowData": "window_data_param",
          "DenseImageData": "dense_image_data_param", "ImageSegData": "image_data_param",
          "BoxData": "data_param", "AnnotatedData": "data_param",
          "VideoData": "video_data_param", "DataHeatmap": "heatmap_data_param"}
IMAGE_LAYERS = {"Data", "ImageData", "WindowData", "DenseImageData", "ImageSegData",
                "BoxData", "AnnotatedData", "VideoData", "DataHeatmap"}
DATA_LAYERS = set(PARAMS) | {"MemoryData", "DummyData", "Input"}


def is_data_layer(L) -> bool:
    """A data layer: a known one, a Python layer with no bottoms, any layer that carries an
    ``input_param`` shape (netscope writes ``type: "Data"`` or ``"data"`` with one), or an
    unknown ``*Data`` layer with no bottoms."""
    if L.type in DATA_LAYERS or (not L.bottoms and (L.type == "Python" or
                                                    L.type.endswith("Data"))):
        return True
    return not L.bottoms and _input_param_shapes(L) != []


def _dims(m: Message) -> list[int]:
    return [int(d) for d in m.all("dim")]


def _input_param_shapes(L) -> list:
    p = L.msg.get("input_param")
    if not isinstance(p, Message):
        return []
    shapes = [_dims(m) for m in p.all("shape") if isinstance(m, Message)]
    if len(shapes) == 1 and len(L.tops) > 1:
        shapes *= len(L.tops)
    return shapes


def _int(p: Message, *names):
    for n in names:
        v = p.get(n)
        if v is not None:
            return int(v)
    return None


def data_shapes(L) -> list:
    """The shapes of the layer's tops (None or None dims where unknown)."""
    given = _input_param_shapes(L)
    if given:
        return given
    t = L.type
    if t == "DummyData":
        p = L.param("dummy_data_param")
        s = [m for m in p.all("shape") if isinstance(m, Message)]
        if s:
            return [_dims(m) for m in s]
        legacy = [p.all(f) for f in ("num", "channels", "height", "width")]
        return [[int(x[i]) if i < len(x) else int(x[0]) for x in legacy]
                for i in range(max(len(x) for x in legacy))] if all(legacy) else []
    if t == "MemoryData":
        p = L.param("memory_data_param")
        n = [int(p.get(f, 0)) for f in ("batch_size", "channels", "height", "width")]
        return [n, [n[0]]]
    if t not in IMAGE_LAYERS:  # HDF5Data, Python, fork layers we do not know
        return [None] * len(L.tops)
    tp = L.param("transform_param")
    p = L.param(PARAMS[t])
    n = _int(p, "batch_size", "batchsize")
    crop = _int(tp, "crop_size") or _int(p, "crop_size", "cropsize")
    h = w = crop
    if h is None:
        h, w = _int(tp, "crop_h", "crop_height"), _int(tp, "crop_w", "crop_width")
    if h is None and t != "VideoData":
        h, w = _int(p, "new_height"), _int(p, "new_width")
    resize = tp.get("resize_param")  # SSD's AnnotatedData
    if h is None and isinstance(resize, Message):
        h, w = _int(resize, "height"), _int(resize, "width")
    means = tp.all("mean_value")
    c = len(means) if len(means) in (1, 3) else None
    if t in ("ImageData", "DenseImageData", "ImageSegData", "WindowData", "DataHeatmap"):
        c = 3 if p.get("is_color", True) else 1
    if t == "VideoData":
        return _video(L, p, tp, n, c, crop)
    data = (n, c, h, w)
    label = {"DenseImageData": (n, 1, h, w), "ImageSegData": (n, 1, h, w),
             "AnnotatedData": (1, 1, "num_gt", 8)}.get(t, (n,))
    shapes = [data, label]
    if t == "ImageSegData":
        shapes.append((n, 1, 1, 2))  # DeepLab's data_dim top: the image's height and width
    return shapes


def _video(L, p: Message, tp: Message, n, c, crop) -> list:
    """Two forks share the name: TSN's (segments stacked on the batch, frames on channels;
    it has num_segments/modality) and C3D's video-caffe (5-D N, C, L, H, W)."""
    length = _int(p, "new_length") or 1
    h = w = crop
    if h is None:
        h, w = _int(p, "new_height"), _int(p, "new_width")
    if p.has("num_segments") or p.has("modality"):
        segs = _int(p, "num_segments") or 1
        flow = str(p.get("modality", "RGB")).upper() == "FLOW"
        per = 2 if flow else 3
        return [(None if n is None else n * segs, per * length, h, w), (n,)]
    return [(n, c if c is not None else 3, length, h, w), (n,)]


def channels_from_weights(layers, top: str, weights) -> int | None:
    """The input channels of the first convolution reading ``top``, from its caffemodel
    blob (out, in/group, kh, kw) and its group."""
    if not weights:
        return None
    for L in layers:
        if top in L.bottoms and L.type in ("Convolution", "ConvolutionDepthwise",
                                           "DepthwiseConvolution"):
            blobs = weights.get(L.name)
            if not blobs:
                return None
            shape = blobs[0].shape
            if not shape or len(shape) < 2:
                return None
            group = int(L.param("convolution_param").get("group", 1))
            return int(shape[1]) * group
        if top in L.bottoms and L.type not in ("ReLU", "Dropout", "Split"):
            return None
    return None
