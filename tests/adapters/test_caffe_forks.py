"""The Caffe forks' layer families: shapes against OpenCV's cv2.dnn where it implements the
layer, against numbers derived by hand from the fork's source otherwise; their ONNX forms
against OpenCV's outputs; the forks' data layers."""
from pathlib import Path

import numpy as np
import pytest

import graphscope
from graphscope.adapters import caffe
from graphscope.ir import run_passes
from tests.zoo.caffe_models import opencv_shapes, our_shapes, random_caffemodel

CASES = Path(__file__).parent / "caffe_cases"


def test_fork_layers_match_opencv_shapes(tmp_path):
    """ReLU6, Swish, Mish, ShuffleChannel, ConvolutionDepthwise, Interp (zoom, size),
    Reorg, Axpy, PSROIPooling, ROIPooling, ceil_mode: false, Normalize, Permute, PriorBox and
    DetectionOutput (its rows bounded by keep_top_k, as OpenCV sizes them)."""
    pytest.importorskip("cv2")
    proto = CASES / "forks_opencv.prototxt"
    g = graphscope.load(proto)
    model = tmp_path / "forks.caffemodel"
    random_caffemodel(g, model)
    theirs = opencv_shapes(proto, model, [v.type.shape for v in g.inputs])
    ours = our_shapes(g)
    compared = [layer for layer in theirs if layer in ours]
    assert sorted(compared) == sorted(ours) and len(compared) == 23  # every layer
    for layer in compared:  # (OpenCV lists a MAX pooling's mask as a second top)
        assert ours[layer][0] == theirs[layer][0], layer
    assert ours["floor"] == [(2, 8, 4, 4)] and ours["ceil"] == [(2, 8, 5, 5)]  # 8 -> 4 / 5
    assert ours["det"] == [(1, 1, 100, 7)]  # 2 images x keep_top_k 50
    assert ours["zoom"] == [(2, 8, 22, 22)] and ours["reorg"] == [(2, 32, 11, 11)]


HAND = {  # layer -> its tops' shapes, from each fork's source
    "bn": [(2, 8, 12, 12)], "dw": [(2, 8, 12, 12)], "ups": [(2, 8, 24, 24)],
    "ups_hw": [(2, 8, 24, 36)],  # YOLOv5 ports: height_scale / width_scale
    "unpool": [(2, 8, 12, 12)],  # (6 - 1) * 2 + 2 - 0
    "unpool_sized": [(2, 8, 13, 13)], "gn": [(2, 8, 12, 12)],
    "reorg_rev": [(2, 2, 24, 24)], "region": [(2, 8, 12, 12)],
    "yolo": [(1, 1, "num_detections", 7)], "roialign": [(4, 8, 7, 5)],
    "filter": [("num_selected", 8, 12, 12)], "chfilter": [(2, 5, 12, 12)],
    "im2col": [(2, 72, 10, 10)], "param": [(3, 4)], "lstm": [(6, 7)], "margin": [(2, 5)],
    # py-faster-rcnn: 9 anchors per position of the 12 x 12 score map; 5 classes
    "anchors": [(1, 1, 108, 12), (1, 36, 12, 12), (1, 36, 12, 12), (1, 36, 12, 12)],
    "proposal": [("num_rois", 5)],
    "shrink": [(2, 8, 4, 4)],  # DeepLab's Interp: (12 - 1 - 1) // 3 + 1 (OpenCV has no shrink)
    "targets": [("num_rois", 5), ("num_rois", 1)] + [("num_rois", 20)] * 3,
}
HAND_WEIGHTS = {"bn": [(8,)] * 4, "dw": [(8, 1, 3, 3)], "lstm": [(28, 10), (28,), (28, 7)],
                "margin": [(5, 1152)], "param": [(3, 4)]}


def test_fork_layers_get_their_forks_shapes():
    g = graphscope.load(CASES / "forks_hand.prototxt")
    for layer, shapes in HAND.items():
        assert [v.type.shape for v in g.node(layer).outputs] == shapes, layer
    for layer, shapes in HAND_WEIGHTS.items():
        assert [v.data.shape for v in g.node(layer).weight_inputs()] == shapes, layer
    assert g.node("bn").op == "BatchNormalization" and g.node("bn").meta["params"] == 16
    assert g.node("dw").attrs["group"] == 8
    assert g.node("param").meta["params"] == 12
    assert g.node("lstm").meta["macs"] == 6 * (28 * 10 + 28 * 7)
    mystery = g.node("mine")
    assert mystery.meta["unknown"] and mystery.outputs[0].type.shape is None
    assert mystery.attrs["module"] == "my_layers"
    assert not g.node("proposal").meta.get("unknown")


def test_fork_bn_reads_its_four_blobs(tmp_path):
    """PSPNet's BN stores slope, bias, mean, variance as (1, C, 1, 1): read as (C,)."""
    proto = CASES / "forks_hand.prototxt"
    model = tmp_path / "w.caffemodel"
    written = dict((n, a) for n, _, a in random_caffemodel(graphscope.load(proto), model))
    g = graphscope.load(proto, weights=model)
    for i, v in enumerate(g.node("bn").inputs[1:]):
        np.testing.assert_array_equal(v.data.array, written["bn"][i].reshape(8))


C3D = '''name: "c3d"
layer { name: "data" type: "VideoData" top: "data" top: "label"
  video_data_param { source: "list.txt" batch_size: 5 new_height: 128 new_width: 171 new_length: 16 }
  transform_param { crop_size: 112 mean_value: 90 mean_value: 98 mean_value: 102 } }
layer { name: "conv1a" type: "NdConvolution" bottom: "data" top: "conv1a"
  convolution_param { num_output: 64 kernel_shape { dim: 3 dim: 3 dim: 3 }
    stride_shape { dim: 1 dim: 1 dim: 1 } pad_shape { dim: 1 dim: 1 dim: 1 } } }
layer { name: "pool1" type: "NdPooling" bottom: "conv1a" top: "pool1"
  pooling_param { pool: MAX kernel_shape { dim: 1 dim: 2 dim: 2 } stride_shape { dim: 1 dim: 2 dim: 2 } } }
layer { name: "pool2" type: "NdPooling" bottom: "pool1" top: "pool2"
  pooling_param { pool: MAX kernel_shape { dim: 2 dim: 3 dim: 3 } stride_shape { dim: 2 dim: 2 dim: 2 } } }
'''


def test_c3d_video_layers():
    """video-caffe: 5-D blobs (N, C, L, H, W); NdPooling rounds up as Caffe's pooling does."""
    g = run_passes(caffe.load(C3D))
    assert g.inputs[0].type.shape == (5, 3, 16, 112, 112)
    assert g.node("conv1a").outputs[0].type.shape == (5, 64, 16, 112, 112)
    assert g.node("conv1a").inputs[1].data.shape == (64, 3, 3, 3, 3)
    assert g.node("pool1").outputs[0].type.shape == (5, 64, 16, 56, 56)
    assert g.node("pool2").outputs[0].type.shape == (5, 64, 8, 28, 28)  # ceil(53/2)+1 = 28
    assert g.node("conv1a").meta["macs"] == 5 * 64 * 16 * 112 * 112 * 3 * 27


DATA_LAYERS = {  # header -> the shapes of its tops
    'layer { name: "d" type: "DenseImageData" top: "data" top: "label" '
    'dense_image_data_param { source: "l.txt" batch_size: 4 new_height: 360 new_width: 480 } }':
        [(4, 3, 360, 480), (4, 1, 360, 480)],
    'layer { name: "d" type: "ImageSegData" top: "data" top: "label" top: "data_dim" '
    'transform_param { crop_size: 321 mean_value: 104 mean_value: 117 mean_value: 123 } '
    'image_data_param { source: "l.txt" batch_size: 10 } }':
        [(10, 3, 321, 321), (10, 1, 321, 321), (10, 1, 1, 2)],
    'layer { name: "d" type: "AnnotatedData" top: "data" top: "label" '
    'transform_param { mean_value: 104 mean_value: 117 mean_value: 123 '
    'resize_param { height: 300 width: 300 } } data_param { source: "lmdb" batch_size: 32 } }':
        [(32, 3, 300, 300), (1, 1, "num_gt", 8)],
    'layer { name: "d" type: "VideoData" top: "data" top: "label" video_data_param { '
    'source: "l.txt" batch_size: 8 new_length: 5 num_segments: 3 modality: FLOW } '
    'transform_param { crop_size: 224 } }':  # TSN: segments on the batch, 2 x 5 flow frames
        [(24, 10, 224, 224), (8,)],
    'layer { name: "d" type: "MemoryData" top: "data" top: "label" '
    'memory_data_param { batch_size: 2 channels: 3 height: 4 width: 5 } }':
        [(2, 3, 4, 5), (2,)],
    'layer { name: "d" type: "HDF5Data" top: "data" top: "label" hdf5_data_param { source: "h" batch_size: 2 } }':
        [None, None],
}


@pytest.mark.parametrize("header", list(DATA_LAYERS), ids=lambda h: h.split('"')[3])
def test_fork_data_layers(header):
    g = caffe.load(header + '\nlayer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n')
    assert [v.type.shape for v in g.inputs] == DATA_LAYERS[header]


# -- ONNX ---------------------------------------------------------------------------------------
ONNX_NET = '''name: "fork_onnx"
input: "data" input_shape { dim: 1 dim: 8 dim: 9 dim: 10 }
layer { name: "dw" type: "ConvolutionDepthwise" bottom: "data" top: "dw"
  convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
layer { name: "relu6" type: "ReLU6" bottom: "dw" top: "relu6" }
layer { name: "swish" type: "Swish" bottom: "dw" top: "swish" }
layer { name: "mish" type: "Mish" bottom: "dw" top: "mish" }
layer { name: "sum" type: "Eltwise" bottom: "relu6" bottom: "swish" bottom: "mish" top: "sum" }
layer { name: "shuffle" type: "ShuffleChannel" bottom: "sum" top: "shuffle" shuffle_channel_param { group: 2 } }
layer { name: "interp" type: "Interp" bottom: "shuffle" top: "interp" interp_param { zoom_factor: 2 } }
layer { name: "floor" type: "Pooling" bottom: "interp" top: "floor"
  pooling_param { pool: AVE kernel_size: 3 stride: 2 ceil_mode: false } }
'''


def test_fork_layers_convert_to_onnx_and_match_opencv(tmp_path):
    """Each fork layer's ONNX form (onnxruntime) against OpenCV running the prototxt."""
    pytest.importorskip("cv2")
    pytest.importorskip("onnxruntime")
    from tests.convert.test_caffe_onnx import assert_matches, compare_with_opencv
    errors, g = compare_with_opencv(tmp_path, "fork_onnx", ONNX_NET)
    assert_matches(errors, g, 8)


def test_fork_formulas_convert_to_onnx(tmp_path):
    """BN (PSPNet) and GroupNorm are not in OpenCV, and OpenCV's Axpy computes a * Y + X where
    the fork's source (hujie-frank/SENet) says F = a * X + Y: the ONNX model against numpy."""
    pytest.importorskip("onnxruntime")
    from graphscope.runtime.onnxruntime import OnnxRuntimeSession
    text = '''input: "data" input_shape { dim: 2 dim: 8 dim: 5 dim: 6 }
layer { name: "bn" type: "BN" bottom: "data" top: "bn" bn_param { eps: 1e-3 } }
layer { name: "gn" type: "GroupNorm" bottom: "bn" top: "gn" group_norm_param { group_num: 4 } }
layer { name: "gap" type: "Pooling" bottom: "data" top: "gap" pooling_param { pool: AVE global_pooling: true } }
layer { name: "axpy" type: "Axpy" bottom: "gap" bottom: "bn" bottom: "data" top: "axpy" }
'''
    proto = tmp_path / "norms.prototxt"
    proto.write_text(text)
    model = tmp_path / "norms.caffemodel"
    blobs = dict((n, a) for n, _, a in random_caffemodel(caffe.load(text), model))["bn"]
    g = graphscope.load(proto, weights=model)
    x = np.random.default_rng(1).standard_normal((2, 8, 5, 6)).astype("float32")
    out = OnnxRuntimeSession(g, ["bn", "gn", "axpy"]).run({"data": x})
    slope, bias, mean, var = (b.reshape(1, 8, 1, 1).astype("float64") for b in blobs)
    bn = slope * (x - mean) / np.sqrt(var + 1e-3) + bias
    np.testing.assert_allclose(out["bn"], bn, rtol=1e-4, atol=1e-4)
    grouped = bn.reshape(2, 4, -1)
    gn = (grouped - grouped.mean(2, keepdims=True)) / np.sqrt(grouped.var(2, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out["gn"], gn.reshape(bn.shape), rtol=1e-4, atol=1e-4)
    a = x.mean(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(out["axpy"], a * bn + x, rtol=1e-4, atol=1e-4)
