"""IR -> TensorFlow: the built tf.Module and the saved SavedModel compute what onnxruntime
(ONNX zoo, single-op models) and torch (torch zoo) compute, value by value; unsupported ops
are refused before anything is written."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphscope
from graphscope.errors import UnsupportedError, UsageError
from graphscope.runtime.inputs import make_feeds
from graphscope.runtime.onnxruntime import OnnxRuntimeSession

tf = pytest.importorskip("tensorflow")
from graphscope.convert.to_tf import build_tf_module, save_saved_model, to_tf  # noqa: E402
from tests.zoo import onnx_models  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5


def ort_outputs(model: onnx.ModelProto, feeds) -> dict:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {i.name: feeds[i.name] for i in sess.get_inputs()})))


def tf_outputs(module, graph, feeds) -> dict:
    got = module(*[feeds[v.name] for v in graph.inputs])
    assert isinstance(got, dict) and list(got) == [v.name for v in graph.outputs]
    return {k: v.numpy() for k, v in got.items()}


def assert_close(got: dict, expected: dict):
    assert set(got) == set(expected)
    for name, e in expected.items():
        assert got[name].shape == e.shape, name
        assert got[name].dtype == e.dtype, name
        np.testing.assert_allclose(got[name], e, rtol=RTOL, atol=ATOL, err_msg=name)


# -- the zoo ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["lenet", "small_resnet", "transformer_block", "op_coverage"])
def test_onnx_zoo_matches_onnxruntime(name):
    model = onnx_models.ALL[name]()
    graph = graphscope.load(model)
    module = build_tf_module(graph)
    for seed in (0, 1):
        feeds = make_feeds(graph, "random", seed=seed)
        assert_close(tf_outputs(module, graph, feeds), ort_outputs(model, feeds))


@pytest.mark.parametrize("name", ["resnet18", "mobilenetv2", "unet", "vit"])
def test_torch_zoo_matches_the_module(name):
    torch = pytest.importorskip("torch")
    from tests.zoo import torch_models
    make, example = torch_models.ALL[name]
    model = make().eval()
    graph = graphscope.load(model, example_inputs=(example(),))
    module = build_tf_module(graph)  # vit's torch.linear / torch.unbind are lowered first
    for seed in (0, 1):
        feeds = make_feeds(graph, "random", seed=seed)
        with torch.no_grad():
            expected = model(*[torch.from_numpy(feeds[v.name]) for v in graph.inputs]).numpy()
        (got,) = tf_outputs(module, graph, feeds).values()
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def test_every_intermediate_value_matches_onnxruntime():
    graph = graphscope.load(onnx_models.small_resnet())
    module = build_tf_module(graph)
    names = [v.name for n in graph.nodes for v in n.outputs]
    feeds = make_feeds(graph, "random", seed=3)
    expected = OnnxRuntimeSession(graph, names).run(feeds)
    got = module.run(*[feeds[v.name] for v in graph.inputs], capture=names)
    assert list(got) == names and len(names) == 39
    for name in names:  # NCHW throughout: every value compares as it is
        np.testing.assert_allclose(got[name], expected[name], rtol=RTOL, atol=ATOL,
                                   err_msg=name)
    some = module.run(*[feeds[v.name] for v in graph.inputs], capture=["nope", names[3]])
    assert list(some) == [names[3]]  # names it lacks are left out


# -- SavedModel ------------------------------------------------------------------------------
def test_saved_model_serving_signature_reproduces_outputs(tmp_path):
    model = onnx_models.transformer_block()  # symbolic batch: the signature keeps it open
    graph = graphscope.load(model)
    out = tmp_path / "model_dir"
    module = to_tf(graph, out)
    assert (out / "saved_model.pb").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["model_dir"]  # no temporary left
    serving = tf.saved_model.load(str(out)).signatures["serving_default"]
    assert set(serving.structured_input_signature[1]) == {"tokens"}
    assert set(serving.structured_outputs) == {"out"}
    for seed, batch in ((0, 1), (1, 3)):
        x = np.random.default_rng(seed).standard_normal((batch, 16, 64)).astype(np.float32)
        got = {k: v.numpy() for k, v in serving(tokens=tf.constant(x)).items()}
        assert_close(got, ort_outputs(model, {"tokens": x}))
        assert_close(got, tf_outputs(module, graph, {"tokens": x}))


def test_saved_model_sanitises_input_names_and_refuses_to_overwrite(tmp_path):
    x = helper.make_tensor_value_info("input/0:x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("2nd", TensorProto.FLOAT, [2, 3])
    node = helper.make_node("Add", ["input/0:x", "2nd"], ["sum/out"], name="add")
    model = _model([node], [x, y], ["sum/out"])
    graph = graphscope.load(model)
    module = build_tf_module(graph)
    assert module.input_names == ["input_0_x", "input_2nd"]
    (tmp_path / "empty").mkdir()
    save_saved_model(module, tmp_path / "empty")  # an empty directory is taken over
    serving = tf.saved_model.load(str(tmp_path / "empty")).signatures["serving_default"]
    a, b = np.ones((2, 3), np.float32), np.full((2, 3), 2, np.float32)
    np.testing.assert_array_equal(serving(input_0_x=a, input_2nd=b)["sum/out"].numpy(), a + b)
    before = sorted(p.name for p in (tmp_path / "empty").iterdir())
    with pytest.raises(UsageError, match="already exists"):
        save_saved_model(module, tmp_path / "empty")
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_unsupported_op_is_named_and_nothing_is_written(tmp_path):
    graph = graphscope.load(onnx_models.lenet())
    graph.nodes[0].op = "caffe.PriorBox"
    with pytest.raises(UnsupportedError) as err:
        to_tf(graph, tmp_path / "out")
    assert "caffe.PriorBox" in str(err.value) and "conv1" in str(err.value)
    assert err.value.node == "conv1"
    assert list(tmp_path.iterdir()) == []
    graph = graphscope.load(onnx_models.lenet())  # an ONNX op the builder lacks
    graph.nodes[0].op = "ImageDecoder"
    with pytest.raises(UnsupportedError, match=r"ImageDecoder \(e\.g\. node 'conv1'\)"):
        to_tf(graph, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


# -- single ops against onnxruntime ----------------------------------------------------------
def _model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "case", inputs, [onnx.ValueInfoProto(name=o) for o in outputs],
                              list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset < 21 else 10
    return model


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


class Case:
    """One op (or a short chain) over graph inputs ``feeds`` and initializers ``inits``."""

    def __init__(self, op, feeds, inits=None, n_out=1, opset=17, extra=(), **attrs):
        self.feeds = feeds
        self.inits = inits or {}
        names = list(feeds) + [k if v is not None else "" for k, v in self.inits.items()]
        outs = [f"y{i}" for i in range(n_out)]
        self.nodes = [helper.make_node(op, names, outs, name="node", **attrs)] + list(extra)
        self.outputs = outs + [o for n in extra for o in n.output]
        self.opset = opset

    def model(self):
        dtypes = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64,
                  np.dtype(bool): TensorProto.BOOL, np.dtype(np.int32): TensorProto.INT32}
        inputs = [helper.make_tensor_value_info(k, dtypes[v.dtype], v.shape)
                  for k, v in self.feeds.items()]
        inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in self.inits.items()
                 if v is not None]
        return _model(self.nodes, inputs, self.outputs, inits, self.opset)


I64 = np.iinfo(np.int64)
X4 = {"x": _rand(2, 4, 9, 10)}
CASES = {
    "conv1d_group": Case("Conv", {"x": _rand(2, 4, 9)}, {"w": _rand(6, 2, 3), "b": _rand(6)},
                         group=2, strides=[2], pads=[1, 2]),
    "conv_stride_dilation_asym_pads": Case("Conv", {"x": _rand(1, 3, 11, 11)},
                                           {"w": _rand(4, 3, 3, 3)}, strides=[2, 2],
                                           dilations=[2, 2], pads=[1, 0, 2, 1]),
    "conv_same_lower": Case("Conv", {"x": _rand(1, 2, 10, 9)}, {"w": _rand(3, 2, 4, 4)},
                            strides=[2, 2], auto_pad="SAME_LOWER"),
    "conv3d_group": Case("Conv", {"x": _rand(1, 4, 5, 6, 6)}, {"w": _rand(4, 2, 3, 3, 3)},
                         group=2, pads=[1] * 6),
    "depthwise": Case("Conv", {"x": _rand(1, 4, 8, 8)}, {"w": _rand(8, 1, 3, 3)}, group=4,
                      strides=[2, 2], pads=[1, 1, 1, 1]),
    "deconv_group_dilation": Case("ConvTranspose", {"x": _rand(1, 4, 5, 5)},
                                  {"w": _rand(4, 3, 3, 3), "b": _rand(6)}, group=2,
                                  strides=[2, 2], dilations=[2, 2], pads=[1, 0, 0, 1],
                                  output_padding=[1, 1]),
    "deconv_output_shape": Case("ConvTranspose", {"x": _rand(1, 2, 4, 4)},
                                {"w": _rand(2, 3, 3, 3)}, strides=[2, 2], output_shape=[8, 8]),
    "deconv1d": Case("ConvTranspose", {"x": _rand(1, 2, 5)}, {"w": _rand(2, 3, 4)},
                     strides=[3]),
    "maxpool_dilation": Case("MaxPool", X4, kernel_shape=[3, 3], strides=[2, 2],
                             dilations=[2, 2], pads=[1, 1, 1, 1]),
    "maxpool_same_upper": Case("MaxPool", X4, kernel_shape=[3, 3], strides=[2, 2],
                               auto_pad="SAME_UPPER"),
    "maxpool_ceil_asym": Case("MaxPool", X4, kernel_shape=[3, 2], strides=[2, 3],
                              pads=[0, 1, 1, 0], ceil_mode=1),
    "avgpool_include_pad_ceil": Case("AveragePool", X4, kernel_shape=[3, 3], strides=[2, 2],
                                     pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1),
    "avgpool_asym_exclude": Case("AveragePool", X4, kernel_shape=[2, 3], strides=[2, 1],
                                 pads=[0, 1, 1, 2]),
    "avgpool1d_ceil": Case("AveragePool", {"x": _rand(2, 3, 11)}, kernel_shape=[4],
                           strides=[3], ceil_mode=1),
    "lrn": Case("LRN", X4, size=3, alpha=0.01, beta=0.6, bias=2.0),
    "resize_linear_half_pixel": Case("Resize", X4, {"roi": None, "scales": np.array(
        [1, 1, 2.5, 1.5], np.float32)}, mode="linear"),
    "resize_linear_align_corners": Case("Resize", X4, {"roi": None, "scales": None,
                                                        "sizes": np.array([2, 4, 5, 23])},
                                        mode="linear",
                                        coordinate_transformation_mode="align_corners"),
    "resize_linear_pytorch_half_pixel": Case("Resize", X4, {"roi": None, "scales": None,
                                                             "sizes": np.array([2, 4, 1, 7])},
                                             mode="linear",
                                             coordinate_transformation_mode="pytorch_half_pixel"),
    "resize_cubic_exclude_outside": Case("Resize", X4, {"roi": None, "scales": None,
                                                         "sizes": np.array([2, 4, 6, 17])},
                                         mode="cubic", exclude_outside=1),
    "resize_cubic_asymmetric": Case("Resize", X4, {"roi": None, "scales": np.array(
        [1, 1, 2, 2], np.float32)}, mode="cubic", coordinate_transformation_mode="asymmetric"),
    "resize_nearest_down_ceil": Case("Resize", X4, {"roi": None, "scales": None,
                                                     "sizes": np.array([2, 4, 4, 6])},
                                     mode="nearest", nearest_mode="round_prefer_ceil",
                                     coordinate_transformation_mode="asymmetric"),
    # scales where float32 (onnxruntime) and float64 (ONNX's reference, which we follow)
    # agree: 2.3 x 10 floors to 23 in float32 but 22 in float64, as onnx's shape inference says
    "resize_nearest_floor_half_pixel_sym": Case(
        "Resize", X4, {"roi": None, "scales": np.array([1, 1, 1.6, 2.5], np.float32)},
        mode="nearest", nearest_mode="floor",
        coordinate_transformation_mode="half_pixel_symmetric", opset=19),
    "upsample_opset9": Case("Upsample", X4, {"scales": np.array([1, 1, 2, 3], np.float32)},
                            opset=9),
    "slice_negative_steps": Case("Slice", X4, {"starts": np.array([7, -2]),
                                               "ends": np.array([I64.min, 0]),
                                               "axes": np.array([-2, 3]),
                                               "steps": np.array([-2, -1])}),
    "slice_huge_end": Case("Slice", X4, {"starts": np.array([1, -100]),
                                         "ends": np.array([I64.max, 5]),
                                         "axes": np.array([1, 2])}),
    "pad_reflect": Case("Pad", X4, {"pads": np.array([0, 0, 2, 1, 0, 0, 3, 2])},
                        mode="reflect"),
    "pad_edge_negative": Case("Pad", X4, {"pads": np.array([0, 0, 2, -1, 0, 0, -3, 2])},
                              mode="edge"),
    "pad_constant_value": Case("Pad", X4, {"pads": np.array([0, 1, 2, 0, 1, 0, 0, 2]),
                                           "value": np.array(1.5, np.float32)}),
    "gather_negative_2d": Case("Gather", X4, {"idx": np.array([[-1, 0], [2, -3]])}, axis=1),
    "gather_elements": Case("GatherElements", {"x": _rand(3, 4)},
                            {"idx": np.array([[0, -1, 2], [1, 1, 0], [3, 2, -4]])}, axis=1),
    "softmax_opset11": Case("Softmax", X4, axis=1, opset=11),
    "logsoftmax": Case("LogSoftmax", X4, axis=1),
    "layernorm_axis1": Case("LayerNormalization", X4, {"s": _rand(4, 9, 10),
                                                       "b": _rand(4, 9, 10)}, axis=1),
    "instancenorm": Case("InstanceNormalization", X4, {"s": _rand(4), "b": _rand(4)}),
    "batchnorm_2d": Case("BatchNormalization", {"x": _rand(5, 3)},
                         {"s": _rand(3), "b": _rand(3), "m": _rand(3),
                          "v": np.array([0.5, 1, 2], np.float32)}),
    "gelu_tanh": Case("Gelu", X4, approximate="tanh", opset=20),
    "gelu": Case("Gelu", X4, opset=20),
    "reduce_sum_axes_input": Case("ReduceSum", X4, {"axes": np.array([1, -1])}, keepdims=0,
                                  opset=13),
    "reduce_max_opset18": Case("ReduceMax", X4, {"axes": np.array([2])}, opset=18),
    "reduce_l2": Case("ReduceL2", X4, axes=[1, 3]),
    "reduce_logsumexp_all": Case("ReduceLogSumExp", X4, keepdims=0),
    "argmax_last_index": Case("ArgMax", {"x": np.array([[1, 3, 3], [2, 2, 0]], np.int64)},
                              axis=1, select_last_index=1),
    "argmin": Case("ArgMin", X4, axis=2, keepdims=0),
    "topk_smallest": Case("TopK", X4, {"k": np.array([3])}, n_out=2, axis=1, largest=0),
    "einsum": Case("Einsum", {"a": _rand(2, 3, 4), "b": _rand(2, 4, 5)},
                   equation="bij,bjk->bik"),
    "depth_to_space_crd": Case("DepthToSpace", {"x": _rand(1, 8, 3, 2)}, blocksize=2,
                               mode="CRD"),
    "depth_to_space_dcr": Case("DepthToSpace", {"x": _rand(1, 8, 3, 2)}, blocksize=2),
    "space_to_depth": Case("SpaceToDepth", {"x": _rand(1, 2, 4, 6)}, blocksize=2),
    "expand_bidirectional": Case("Expand", {"x": _rand(3, 1)}, {"s": np.array([2, 1, 4])}),
    "tile": Case("Tile", {"x": _rand(2, 3)}, {"r": np.array([2, 3])}),
    "where_greater_cast": Case(
        "Greater", {"a": _rand(3, 4), "b": _rand(4, seed=1)}, extra=[
            helper.make_node("Where", ["y0", "a", "b"], ["w"]),
            helper.make_node("Cast", ["y0"], ["c"], to=TensorProto.INT32),
            helper.make_node("Not", ["y0"], ["n"])]),
    "int_div_truncates": Case("Div", {"a": np.array([7, -7, 7, -7], np.int64),
                                      "b": np.array([2, 2, -2, -2], np.int64)}),
    "mod_python_and_fmod": Case(
        "Mod", {"a": np.array([7, -7, 7, -7], np.int64), "b": np.array([3, 3, -3, -3], np.int64)},
        extra=[helper.make_node("Mod", ["a", "b"], ["f"], fmod=1)]),
    "cumsum_exclusive_reverse": Case("CumSum", X4, {"axis": np.array(2)}, exclusive=1,
                                     reverse=1),
    "shape_constantofshape_range": Case(
        "Shape", X4, start=1, end=-1, extra=[
            helper.make_node("ConstantOfShape", ["y0"], ["c"],
                             value=numpy_helper.from_array(np.array([2.5], np.float32))),
            helper.make_node("ReduceSum", ["y0"], ["n"], keepdims=0),
            helper.make_node("Range", ["n", "y0_last", "step"], ["r"])]),
    "matmul_vector": Case("MatMul", {"a": _rand(4), "b": _rand(2, 4, 3)}),
    "gemm_trans_alpha_beta": Case("Gemm", {"a": _rand(4, 3), "b": _rand(5, 4)},
                                  {"c": _rand(5)}, transA=1, transB=1, alpha=0.5, beta=2.0),
    "clip_min_only": Case("Clip", X4, {"lo": np.array(-0.2, np.float32)}),
    "split_num_outputs_uneven": Case("Split", X4, n_out=3, axis=3, num_outputs=3, opset=18),
    "squeeze_all_flatten0": Case("Squeeze", {"x": _rand(1, 3, 1, 2)}, extra=[
        helper.make_node("Flatten", ["y0"], ["f"], axis=0)]),
    "activations": Case("HardSwish", X4, opset=18, extra=[
        helper.make_node("HardSigmoid", ["x"], ["a1"], alpha=0.3, beta=0.4),
        helper.make_node("LeakyRelu", ["x"], ["a2"], alpha=0.2),
        helper.make_node("Elu", ["x"], ["a3"], alpha=0.7),
        helper.make_node("Selu", ["x"], ["a4"]),
        helper.make_node("Celu", ["x"], ["a5"], alpha=1.5),
        helper.make_node("Softplus", ["x"], ["a6"]),
        helper.make_node("Softsign", ["x"], ["a7"]),
        helper.make_node("ThresholdedRelu", ["x"], ["a8"], alpha=0.3),
        helper.make_node("Mish", ["x"], ["a9"]),
        helper.make_node("Erf", ["x"], ["a10"]),
        helper.make_node("Round", ["x"], ["a11"]),
        helper.make_node("Sign", ["x"], ["a12"]),
        helper.make_node("PRelu", ["x", "slope"], ["a13"])]),
    "attention_causal_gqa": Case("Attention", {"q": _rand(2, 4, 5, 8), "k": _rand(2, 2, 6, 8),
                                               "v": _rand(2, 2, 6, 8)}, is_causal=1,
                                 opset=23),
    "attention_3d_mask": Case("Attention", {"q": _rand(2, 5, 16), "k": _rand(2, 6, 16),
                                            "v": _rand(2, 6, 16)},
                              {"mask": _rand(5, 6)}, q_num_heads=4, kv_num_heads=4, scale=0.3,
                              opset=23),
}
CASES["shape_constantofshape_range"].inits = {"step": np.array(3, np.int64),
                                              "y0_last": np.array(40, np.int64)}
CASES["activations"].inits = {"slope": _rand(10)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_single_op_matches_onnxruntime(name):
    case = CASES[name]
    model = case.model()
    graph = graphscope.load(model)
    module = build_tf_module(graph)
    feeds = {k: v for k, v in case.feeds.items()}
    expected = ort_outputs(model, feeds)
    assert_close(tf_outputs(module, graph, feeds), expected)
    # the eager path computes the same
    assert_close(module.run(*case.feeds.values(), capture=list(expected)), expected)


def test_cli_converts_to_a_saved_model_and_verifies(tmp_path, zoo_dir):
    from tests.conftest import run_cli
    dst = tmp_path / "lenet_tf"
    r = run_cli("convert", zoo_dir / "lenet.onnx", "--to", "tf", "-o", dst, "--verify")
    assert r.returncode == 0, r.stderr
    assert "all 9 compared values agree" in r.stdout
    assert (dst / "saved_model.pb").is_file()
