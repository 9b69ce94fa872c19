"""IR -> TensorFlow, the handlers in convert/to_tf_ops.py and the runtime-valued forms of the
older ones (scales, pads, axes, K given as graph inputs): each single-op model's TF outputs
equal onnxruntime's, through the traced tf.function and the eager path."""
import numpy as np
import pytest
from onnx import TensorProto, helper

import graphscope

tf = pytest.importorskip("tensorflow")
from graphscope.convert.to_tf import build_tf_module  # noqa: E402
from tests.convert.test_to_tf import _model, _rand, assert_close, ort_outputs  # noqa: E402

DTYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64,
          np.dtype(np.int32): TensorProto.INT32, np.dtype(np.uint8): TensorProto.UINT8,
          np.dtype(np.int8): TensorProto.INT8, np.dtype(bool): TensorProto.BOOL,
          np.dtype(np.float16): TensorProto.FLOAT16}
X4 = _rand(2, 3, 7, 9)


class Op:
    """One op whose every operand is a graph input (so its value is only known at run time);
    ``None`` leaves an optional operand out."""

    def __init__(self, op, feeds: dict, n_out=1, opset=18, domain="", **attrs):
        self.feeds = {k: v for k, v in feeds.items() if v is not None}
        names = [k if v is not None else "" for k, v in feeds.items()]
        self.outputs = [f"y{i}" for i in range(n_out)]
        self.node = helper.make_node(op, names, self.outputs, name="node", domain=domain,
                                     **attrs)
        self.opset = opset

    def model(self):
        inputs = [helper.make_tensor_value_info(k, DTYPES[v.dtype], v.shape)
                  for k, v in self.feeds.items()]
        return _model([self.node], inputs, self.outputs, (), self.opset)


def i64(*v):
    return np.array(v, np.int64)


def f32(*v):
    return np.array(v, np.float32)


CASES = {
    # runtime scales / sizes / roi
    "resize_linear_runtime_scales": Op("Resize", {"x": X4, "roi": None,
                                                  "scales": f32(1, 1, 1.5, 0.6)}, mode="linear"),
    "resize_cubic_antialias_sizes": Op("Resize", {"x": X4, "roi": None, "scales": None,
                                                  "sizes": i64(2, 3, 4, 5)},
                                       mode="cubic", antialias=1),
    "resize_linear_antialias_axes": Op("Resize", {"x": X4, "roi": None, "scales": f32(0.5, 0.4)},
                                       mode="linear", antialias=1, axes=[2, 3]),
    "resize_crop_and_resize": Op("Resize", {"x": X4, "roi": f32(0, 0, 0.2, 0.1, 1, 1, 0.9, 1.2),
                                            "scales": None, "sizes": i64(2, 3, 5, 6)},
                                 mode="linear", extrapolation_value=-3.0,
                                 coordinate_transformation_mode="tf_crop_and_resize"),
    "resize_nearest_not_larger": Op("Resize", {"x": X4, "roi": None, "scales": None,
                                               "sizes": i64(4, 13)},
                                    mode="nearest", axes=[2, 3],
                                    keep_aspect_ratio_policy="not_larger"),
    # runtime pads / axes / K / split
    "pad_runtime_negative_axes": Op("Pad", {"x": X4, "pads": i64(2, -1, 0, 3),
                                            "value": f32(1.5), "axes": i64(-1, 2)}),
    "pad_runtime_edge": Op("Pad", {"x": X4, "pads": i64(0, 0, 2, 1, 0, 0, 1, 3)}, mode="edge"),
    "pad_runtime_wrap": Op("Pad", {"x": X4, "pads": i64(0, 1, 2, 1, 0, 0, 1, 3)}, mode="wrap",
                           opset=19),
    "slice_runtime_axes_steps": Op("Slice", {"x": X4, "starts": i64(-1, 1), "ends": i64(-100, 8),
                                             "axes": i64(3, -2), "steps": i64(-2, 3)}),
    "topk_runtime_k_smallest": Op("TopK", {"x": X4, "k": i64(3)}, n_out=2, axis=2, largest=0),
    "split_runtime_sizes": Op("Split", {"x": X4, "split": i64(2, 0, 5)}, n_out=3, axis=2),
    "unsqueeze_runtime_axes": Op("Unsqueeze", {"x": X4, "axes": i64(-1, 1)}),
    "squeeze_runtime_axes": Op("Squeeze", {"x": _rand(2, 1, 3, 1), "axes": i64(-1, 1)}),
    "cumsum_runtime_axis": Op("CumSum", {"x": X4, "axis": i64(-2)}, exclusive=1, reverse=1),
    # indexing and scatter
    "gathernd_batch_dims": Op("GatherND", {"x": X4, "idx": i64(1, -2, 0, 2, 6, -1).reshape(2, 1, 3)},
                              batch_dims=1),
    "scatternd_add": Op("ScatterND", {"x": X4, "idx": i64(1, 2, 1, 2, 0, -1).reshape(3, 2),
                                      "u": _rand(3, 7, 9, seed=1)}, reduction="add"),
    "scatter_elements_max": Op("ScatterElements", {"x": X4, "idx": np.tile(i64(0, 6, -1, 0),
                                                                           (2, 3, 1, 1)),
                                                   "u": _rand(2, 3, 1, 4, seed=2)},
                               axis=2, reduction="max"),
    "onehot_negative_axis": Op("OneHot", {"i": i64(0, -1, 3, 2).reshape(2, 2), "d": f32(4),
                                          "v": f32(-2, 5)}, axis=-2),
    "unique_sorted_axis": Op("Unique", {"x": np.array([[2, 1], [0, 3], [2, 1], [0, 3], [1, 1]],
                                                      np.float32)}, n_out=4, axis=0, sorted=1),
    "compress_axis": Op("Compress", {"x": X4, "c": np.array([1, 0, 1], bool)}, axis=1),
    "reverse_sequence": Op("ReverseSequence", {"x": _rand(4, 3, 2), "lens": i64(4, 1, 3)},
                           batch_axis=1, time_axis=0),
    "eyelike_k": Op("EyeLike", {"x": _rand(3, 5)}, k=2, dtype=TensorProto.INT32),
    # bits, norms, pooling
    "bitshift_uint8": Op("BitShift", {"a": np.array([16, 4, 255], np.uint8),
                                      "b": np.array([1, 2, 7], np.uint8)}, direction="RIGHT"),
    "group_norm": Op("GroupNormalization", {"x": _rand(2, 6, 3, 4), "s": _rand(6, seed=3),
                                            "b": _rand(6, seed=4)}, num_groups=3, opset=21),
    "lp_norm_l1": Op("LpNormalization", {"x": X4}, axis=2, p=1),
    "lppool_pads": Op("LpPool", {"x": X4}, kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1],
                      p=3),
    "mvn": Op("MeanVarianceNormalization", {"x": X4}),
    "shrink": Op("Shrink", {"x": X4}, bias=0.3, lambd=0.7),
    # quantization
    "quantize_per_axis_int8": Op("QuantizeLinear", {"x": X4 * 40, "s": f32(0.5, 1, 2),
                                                    "z": np.array([3, -2, 0], np.int8)}, axis=1),
    "dequantize_uint8": Op("DequantizeLinear", {"x": np.arange(24, dtype=np.uint8).reshape(4, 6),
                                                "s": f32(0.25), "z": np.array(7, np.uint8)}),
    "dynamic_quantize": Op("DynamicQuantizeLinear", {"x": X4}, n_out=3),
    "qlinear_matmul": Op("QLinearMatMul", {
        "a": np.arange(12, dtype=np.uint8).reshape(3, 4), "as": f32(0.1),
        "az": np.array(2, np.uint8), "b": np.arange(8, dtype=np.uint8).reshape(4, 2) * 9,
        "bs": f32(0.05), "bz": np.array(4, np.uint8), "ys": f32(0.2),
        "yz": np.array(10, np.uint8)}),
    "conv_integer": Op("ConvInteger", {"x": np.arange(50, dtype=np.uint8).reshape(1, 2, 5, 5),
                                       "w": np.ones((3, 2, 2, 2), np.uint8),
                                       "xz": np.array(3, np.uint8)}, pads=[1, 0, 0, 1]),
    # sampling, images, detection
    "grid_sample_bilinear_border": Op("GridSample", {"x": X4, "g": _rand(2, 4, 5, 2) * 0.8},
                                      mode="linear", padding_mode="border", opset=20),
    "grid_sample_nearest_reflect": Op("GridSample", {"x": X4, "g": _rand(2, 4, 5, 2) * 1.5},
                                      mode="nearest", padding_mode="reflection",
                                      align_corners=1, opset=20),
    "grid_sample_cubic_zeros": Op("GridSample", {"x": X4, "g": _rand(2, 3, 3, 2) * 1.2},
                                  mode="cubic", opset=20),
    "affine_grid": Op("AffineGrid", {"t": _rand(2, 2, 3), "size": i64(2, 3, 4, 5)}, opset=20),
    "col2im_pads_strides": Op("Col2Im", {"x": _rand(1, 8, 9), "img": i64(5, 6),
                                         "blk": i64(2, 2)}, strides=[2, 2], pads=[1, 0, 0, 1]),
    "nms": Op("NonMaxSuppression", {
        "boxes": np.array([[[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, -0.1, 1, 0.9], [0, 10, 1, 11],
                            [0, 10.1, 1, 11.1], [0, 100, 1, 101]]], np.float32),
        "scores": np.array([[[0.9, 0.75, 0.6, 0.95, 0.5, 0.3]]], np.float32),
        "max": i64(3), "iou": f32(0.5), "score": f32(0.0)}),
    "dft_onesided_axis": Op("DFT", {"x": _rand(2, 8, 3, 1), "n": i64(6), "axis": i64(1)},
                            onesided=1, opset=20),
    "hann_window": Op("HannWindow", {"n": np.array(10, np.int64)}, periodic=0, opset=17),
    "maxpool_indices_ceil_column_major": Op("MaxPool", {"x": X4}, n_out=2, kernel_shape=[3, 2],
                                            strides=[2, 2], pads=[1, 0, 1, 1], ceil_mode=1,
                                            storage_order=1),
    "stft_window": Op("STFT", {"x": _rand(2, 32, 1), "step": np.array(6, np.int64),
                               "w": np.hanning(10).astype(np.float32),
                               "n": np.array(10, np.int64)}, opset=17),
    "mel_weight_matrix": Op("MelWeightMatrix", {
        "m": np.array(8, np.int64), "d": np.array(64, np.int64), "r": np.array(8000, np.int64),
        "lo": np.array(100, np.float32), "hi": np.array(3500, np.float32)}, opset=17),
    "roi_align_max": Op("RoiAlign", {"x": X4, "rois": np.array([[0.5, 1, 6, 5], [2, 0, 9, 3.5]],
                                                                np.float32),
                                     "b": i64(1, 0)}, mode="max", output_height=3,
                        output_width=2, spatial_scale=0.9, opset=16),
    "roi_align_avg_adaptive": Op("RoiAlign", {"x": X4, "rois": np.array([[0, 0, 8, 6]],
                                                                         np.float32),
                                              "b": i64(1)}, output_height=2, output_width=3,
                                 opset=16),
    "deform_conv_mask": Op("DeformConv", {"x": _rand(1, 4, 6, 5), "w": _rand(2, 2, 2, 3, seed=1),
                                          "off": _rand(1, 2 * 6 * 2, 7, 4, seed=2),
                                          "b": _rand(2, seed=3),
                                          "m": np.abs(_rand(1, 2 * 6, 7, 4, seed=4))},
                           group=2, offset_group=2, pads=[1, 1, 1, 0], opset=19),
    "mod_float16": Op("Mod", {"a": _rand(3, 4).astype(np.float16),
                              "b": np.full((3, 4), 0.7, np.float16)}, fmod=1),
}


@pytest.mark.parametrize("name", list(CASES))
def test_op_matches_onnxruntime(name):
    case = CASES[name]
    model = case.model()
    graph = graphscope.load(model)
    module = build_tf_module(graph)
    expected = ort_outputs(model, case.feeds)
    got = module(*[case.feeds[v.name] for v in graph.inputs])
    assert_close({k: v.numpy() for k, v in got.items()}, expected)
    assert_close(module.run(*case.feeds.values(), capture=list(expected)), expected)


def test_float8_cast_saturates_like_onnxruntime():
    # float -> float8 (saturating by default, or not) -> float
    x = np.array([[0.3, -1.7, 300.0, 1e6], [-1e6, 448.0, np.inf, -np.inf]], np.float32)
    nodes = [helper.make_node("Cast", ["x"], ["a"], to=TensorProto.FLOAT8E4M3FN),
             helper.make_node("Cast", ["a"], ["y0"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["x"], ["b"], to=TensorProto.FLOAT8E5M2, saturate=0),
             helper.make_node("Cast", ["b"], ["y1"], to=TensorProto.FLOAT)]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                   ["y0", "y1"], (), 19)
    graph = graphscope.load(model)
    got = build_tf_module(graph).run(x)
    expected = ort_outputs(model, {"x": x})
    for k in expected:
        np.testing.assert_array_equal(got[k], expected[k], err_msg=k)
    assert got["y0"][0, 3] == 448.0 and np.isinf(got["y1"][0, 3])  # saturated / not


def test_attention_with_cache_matches_onnxruntime():
    # 3-D inputs, grouped K/V heads, a past cache and its present outputs, causal mask
    q, k, v = _rand(2, 3, 8), _rand(2, 3, 4, seed=1), _rand(2, 3, 4, seed=2)
    pk, pv = _rand(2, 2, 2, 2, seed=3), _rand(2, 2, 2, 2, seed=4)
    feeds = {"q": q, "k": k, "v": v, "mask": None, "pk": pk, "pv": pv}
    case = Op("Attention", feeds, n_out=3, opset=23, q_num_heads=4, kv_num_heads=2,
              is_causal=1, softcap=2.0)
    model = case.model()
    graph = graphscope.load(model)
    got = build_tf_module(graph).run(*case.feeds.values())
    assert_close(got, ort_outputs(model, case.feeds))
