"""Caffe -> ONNX with Caffe's exact semantics, checked at every layer against OpenCV's cv2.dnn
(which reads the same prototxt + caffemodel and computes as Caffe does)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

import graphscope
from graphscope.adapters.caffe.caffemodel import write_caffemodel
from graphscope.errors import UnsupportedError
from tests.conftest import CORPUS

cv2 = pytest.importorskip("cv2")
pytest.importorskip("onnxruntime")

BVLC = CORPUS / "caffe" / "bvlc"
TOL = 1e-4  # relative to the layer's max |value|

# Every tricky Caffe semantic in one small net.
TRICKY = '''name: "tricky"
input: "data" input_shape { dim: 1 dim: 8 dim: 13 dim: 14 }
layer { name: "c1" type: "Convolution" bottom: "data" top: "c1"
  convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
layer { name: "pmax" type: "Pooling" bottom: "c1" top: "pmax"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "pave" type: "Pooling" bottom: "c1" top: "pave"
  pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "pave2" type: "Pooling" bottom: "c1" top: "pave2"
  pooling_param { pool: AVE kernel_h: 4 kernel_w: 3 stride_h: 3 stride_w: 2 pad_h: 2 pad_w: 1 } }
layer { name: "pedge" type: "Pooling" bottom: "c1" top: "pedge"
  pooling_param { pool: MAX kernel_size: 2 stride: 5 } }
layer { name: "pedge_ave" type: "Pooling" bottom: "c1" top: "pedge_ave"
  pooling_param { pool: AVE kernel_size: 2 stride: 5 } }
layer { name: "lrn_across" type: "LRN" bottom: "c1" top: "lrn_across"
  lrn_param { local_size: 5 alpha: 0.5 beta: 0.75 } }
layer { name: "lrn_within" type: "LRN" bottom: "c1" top: "lrn_within"
  lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 norm_region: WITHIN_CHANNEL } }
layer { name: "bn" type: "BatchNorm" bottom: "c1" top: "bn" }
layer { name: "bn_scale" type: "Scale" bottom: "bn" top: "bn" scale_param { bias_term: true } }
layer { name: "sc" type: "Scale" bottom: "c1" top: "sc" scale_param { bias_term: true } }
layer { name: "pw" type: "Power" bottom: "c1" top: "pw" power_param { power: 2 scale: 0.5 shift: 1 } }
layer { name: "d1" type: "Deconvolution" bottom: "c1" top: "d1"
  convolution_param { num_output: 4 kernel_size: 4 stride: 2 pad: 1 group: 2 } }
layer { name: "crop" type: "Crop" bottom: "d1" bottom: "c1" top: "crop"
  crop_param { axis: 2 offset: 1 offset: 2 } }
layer { name: "crop1" type: "Crop" bottom: "d1" bottom: "c1" top: "crop1"
  crop_param { axis: 3 offset: 5 } }
layer { name: "sum" type: "Eltwise" bottom: "c1" bottom: "bn" bottom: "sc" top: "sum"
  eltwise_param { operation: SUM coeff: 0.5 coeff: -1 coeff: 2 } }
layer { name: "prod" type: "Eltwise" bottom: "c1" bottom: "bn" bottom: "pw" top: "prod"
  eltwise_param { operation: PROD } }
layer { name: "shuf" type: "ShuffleChannel" bottom: "sum" top: "shuf"
  shuffle_channel_param { group: 2 } }
layer { name: "norm" type: "Normalize" bottom: "shuf" top: "norm"
  norm_param { across_spatial: false channel_shared: false } }
layer { name: "r0" type: "Reshape" bottom: "pmax" top: "r0" reshape_param { shape { dim: 0 dim: -1 dim: 7 } } }
layer { name: "r1" type: "Reshape" bottom: "pave" top: "r1"
  reshape_param { shape { dim: 2 dim: -1 } axis: 1 num_axes: 1 } }
layer { name: "fl" type: "Flatten" bottom: "pave2" top: "fl" flatten_param { axis: 2 } }
layer { name: "ip" type: "InnerProduct" bottom: "pmax" top: "ip" inner_product_param { num_output: 5 } }
layer { name: "sm" type: "Softmax" bottom: "ip" top: "sm" }
'''


def scaled_caffemodel(graph, path, seed=0):
    """A caffemodel with random weights scaled by 1/sqrt(fan-in), so activations stay O(1)
    through deep nets (plain N(0, 1) weights overflow float32 in GoogLeNet)."""
    rng = np.random.default_rng(seed)
    layers = []
    for n in graph.nodes:
        layer = n.meta.get("caffe_layer")
        ws = [v for v in n.inputs if v is not None and v.is_weight and not v.meta.get("constant")]
        if not ws:
            continue
        if n.op == "BatchNormalization":  # Caffe: BN blobs mean, var, factor; Scale: gamma, beta
            c = ws[0].data.shape[0]
            layers.append((layer, "BatchNorm", [rng.random(c), rng.random(c) + 1, [2.0]]))
            layers.append((n.attrs["caffe_scale_layer"], "Scale",
                           [rng.random(c) + 0.5, rng.random(c)]))
            continue
        arrays = []
        for v in ws:
            shape = v.data.shape
            fan = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            a = rng.standard_normal(shape, dtype=np.float32)
            a *= np.float32(1 / np.sqrt(fan))
            arrays.append(a)
        layers.append((layer, n.source_op, arrays))
    write_caffemodel(path, layers)


def with_input(text: str, dims) -> str:
    """The deploy prototxt with its input shape replaced (small inputs keep tests fast)."""
    new = " ".join(f"dim: {d}" for d in dims)
    return re.sub(r"dim:\s*\d+\s+dim:\s*\d+\s+dim:\s*\d+\s+dim:\s*\d+", new, text, count=1)


def compare_with_opencv(tmp_path, name: str, text: str, seed: int = 0, quirks=None):
    """Per Caffe layer: max |ours - OpenCV| / max |OpenCV|. Returns {layer: rel_err}.
    ``quirks``: layer -> fn(ours), to look at our output before it is compared."""
    proto = tmp_path / f"{name}.prototxt"
    proto.write_text(text)
    weights = tmp_path / f"{name}.caffemodel"
    scaled_caffemodel(graphscope.load(proto), weights, seed)
    g = graphscope.load(proto, weights=weights)
    x = np.random.default_rng(seed).standard_normal(g.inputs[0].type.shape).astype("float32")

    from graphscope.convert.references import caffe_layer_values, opencv_values
    from graphscope.runtime.onnxruntime import OnnxRuntimeSession
    value_of = caffe_layer_values(g)
    ours = OnnxRuntimeSession(g, sorted(set(value_of.values()))).run({g.inputs[0].name: x})
    theirs = opencv_values(g, {g.inputs[0].name: x})  # by value name
    names = [layer for layer, value in value_of.items() if value in theirs]
    errors = {}
    for layer in names:
        a, b = ours[value_of[layer]], theirs[value_of[layer]]
        if quirks and layer in quirks:
            a = quirks[layer](a)
        assert a.shape == b.shape, f"{name}/{layer}: shape ours {a.shape}, OpenCV {b.shape}"
        errors[layer] = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))
    return errors, g


def assert_matches(errors, g, minimum):
    bad = {k: v for k, v in errors.items() if not v <= TOL}
    assert not bad, f"layers over {TOL} relative: {bad}"
    assert len(errors) >= minimum, sorted(errors)


def test_tricky_semantics_match_opencv(tmp_path):
    empty = []

    def empty_windows(a):
        """A MAX window wholly past the input: Caffe leaves -FLT_MAX, OpenCV writes 0 (and
        references.opencv_values puts Caffe's answer back, so the two must still agree)."""
        empty.append(int((a == -np.finfo(np.float32).max).sum()))
        return a

    errors, g = compare_with_opencv(tmp_path, "tricky", TRICKY, quirks={"pedge": empty_windows})
    assert empty == [8 * (4 + 4 - 1)]  # the last row and column of every channel
    print(max(errors.values()), errors)
    assert_matches(errors, g, 23)  # every layer (BatchNorm answers through its Scale)


# The other lowered layers OpenCV implements as Caffe does.
MORE = '''name: "more"
input: "data" input_shape { dim: 1 dim: 4 dim: 6 dim: 7 }
layer { name: "c0" type: "Convolution" bottom: "data" top: "c0"
  convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "exp" type: "Exp" bottom: "c0" top: "exp" exp_param { base: 2 scale: 0.5 shift: 0.1 } }
layer { name: "exp_e" type: "Exp" bottom: "c0" top: "exp_e" exp_param { scale: 0.5 } }
layer { name: "ip2" type: "InnerProduct" bottom: "c0" top: "ip2" inner_product_param { num_output: 3 axis: 2 } }
layer { name: "interp" type: "Interp" bottom: "c0" top: "interp" interp_param { zoom_factor: 2 } }
layer { name: "interp_hw" type: "Interp" bottom: "c0" top: "interp_hw" interp_param { height: 9 width: 5 } }
layer { name: "split" type: "Split" bottom: "c0" top: "s1" top: "s2" }
layer { name: "mx" type: "Eltwise" bottom: "s1" bottom: "s2" bottom: "exp" top: "mx" eltwise_param { operation: MAX } }
layer { name: "norm_sp" type: "Normalize" bottom: "c0" top: "norm_sp" norm_param { across_spatial: true channel_shared: true } }
layer { name: "flat" type: "Flatten" bottom: "c0" top: "flat" flatten_param { axis: 1 end_axis: 2 } }
layer { name: "sq" type: "Scale" bottom: "c0" bottom: "exp" top: "sq" scale_param { axis: 0 } }
layer { name: "sc2d" type: "Scale" bottom: "c0" top: "sc2d" scale_param { axis: 1 num_axes: 2 } }
'''


def test_more_lowered_layers_match_opencv(tmp_path):
    errors, g = compare_with_opencv(tmp_path, "more", MORE)
    assert_matches(errors, g, 12)
    lowered = {n.op for n in g.nodes if n.op.startswith("caffe.")}
    assert lowered == {"caffe.Exp", "caffe.InnerProduct", "caffe.Interp", "caffe.Split",
                       "caffe.Normalize", "caffe.Flatten", "caffe.Scale"}


def test_layers_opencv_lacks_follow_caffe_formulas(tmp_path):
    """Log (OpenCV ignores log_param), Threshold, Tile, Reduction and Upsample (OpenCV has
    no Caffe form of them), against Caffe's formulas in float64."""
    proto = tmp_path / "n.prototxt"
    proto.write_text('''name: "n" input: "data" input_shape { dim: 1 dim: 3 dim: 4 dim: 5 }
layer { name: "log" type: "Log" bottom: "data" top: "log" log_param { base: 10 scale: 2 shift: 9 } }
layer { name: "thr" type: "Threshold" bottom: "data" top: "thr" threshold_param { threshold: 0.3 } }
layer { name: "tile" type: "Tile" bottom: "data" top: "tile" tile_param { axis: 2 tiles: 3 } }
layer { name: "red" type: "Reduction" bottom: "data" top: "red"
  reduction_param { operation: SUMSQ axis: 1 coeff: 0.5 } }
layer { name: "up" type: "Upsample" bottom: "data" top: "up" upsample_param { scale: 2 } }''')
    g = graphscope.load(proto)
    x = np.random.default_rng(4).standard_normal((1, 3, 4, 5)).astype("float32")
    from graphscope.runtime.onnxruntime import run
    out = run(g, {"data": x}, ["log", "thr", "tile", "red", "up"])
    x64 = x.astype(np.float64)
    expected = {"log": np.log(9 + 2 * x64) / np.log(10), "thr": (x64 > 0.3).astype(float),
                "tile": np.tile(x64, (1, 1, 3, 1)), "red": 0.5 * (x64 ** 2).sum(axis=(1, 2, 3)),
                "up": x64.repeat(2, axis=2).repeat(2, axis=3)}
    for name, ref in expected.items():
        np.testing.assert_allclose(out[name], ref, rtol=1e-5, atol=1e-6, err_msg=name)

# file, input shape (small, but every layer stays valid), layers compared at least
BVLC_NETS = {
    "bvlc_alexnet__deploy": ((1, 3, 67, 67), 20),
    "bvlc_reference_caffenet__deploy": ((1, 3, 67, 67), 20),
    "bvlc_googlenet__deploy": ((1, 3, 224, 224), 140),
    "mnist__lenet": ((2, 1, 28, 28), 6),
    "cifar10__cifar10_quick": ((1, 3, 32, 32), 11),
    "cifar10__cifar10_full": ((1, 3, 32, 32), 13),
}


@pytest.mark.parametrize("name", sorted(BVLC_NETS))
def test_bvlc_net_matches_opencv_at_every_layer(tmp_path, name):
    path = BVLC / f"{name}.prototxt"
    if not path.exists():
        pytest.skip(f"corpus file {path} not present")
    dims, minimum = BVLC_NETS[name]
    errors, g = compare_with_opencv(tmp_path, name, with_input(path.read_text(), dims))
    print(name, len(errors), max(errors.values()), max(errors, key=errors.get))
    assert_matches(errors, g, minimum)


def _opencv_output(proto, weights, x, layer):
    net = cv2.dnn.readNetFromCaffe(str(proto), str(weights))
    net.enableWinograd(False)
    net.setInput(x)
    return net.forward(layer)


@pytest.fixture
def tricky_files(tmp_path):
    proto, weights, x = tmp_path / "tricky.prototxt", tmp_path / "tricky.caffemodel", \
        tmp_path / "x.npy"
    proto.write_text(TRICKY)
    scaled_caffemodel(graphscope.load(proto), weights)
    np.save(x, np.random.default_rng(1).standard_normal((1, 8, 13, 14)).astype("float32"))
    return proto, weights, x


def test_probe_runs_the_whole_net_and_matches_opencv(tricky_files, tmp_path):
    from tests.conftest import run_cli
    proto, weights, x = tricky_files
    out = tmp_path / "p.json"
    r = run_cli("probe", proto, "--weights", weights, "--input", x, "--json", out,
                "-o", tmp_path / "p.html")
    assert r.returncode == 0, r.stderr
    assert "cannot run" not in r.stderr
    layers = {L["node"]: L for L in json.loads(out.read_text())["layers"]}
    g = graphscope.load(proto)
    assert set(layers) == {n.name for n in g.nodes}  # every layer, the lowered ones too
    for name in ("sm", "norm", "crop", "pedge_ave", "lrn_within"):
        theirs = _opencv_output(proto, weights, np.load(x), name)
        stats = layers[name]["stats"]
        assert layers[name]["shape"] == list(theirs.shape)
        for key, ref in (("min", theirs.min()), ("max", theirs.max()),
                         ("mean", theirs.mean()), ("std", theirs.std())):
            assert abs(stats[key] - ref) <= TOL * np.abs(theirs).max(), (name, key)


def test_convert_verify_writes_checked_onnx(tricky_files, tmp_path):
    import onnx
    import onnxruntime as ort

    from tests.conftest import run_cli
    proto, weights, x = tricky_files
    out = tmp_path / "out.onnx"
    r = run_cli("convert", proto, "--weights", weights, "-o", out, "--verify")
    assert r.returncode == 0, r.stderr
    assert "source run by OpenCV cv2.dnn" in r.stdout
    assert "all 23 compared values agree" in r.stdout  # every layer OpenCV exposes
    model = onnx.load(out)
    onnx.checker.check_model(model, full_check=True)
    assert not [n.op_type for n in model.graph.node if n.domain not in ("", "ai.onnx")]
    # shapes ONNX infers are Caffe's (ceil-mode pooling included)
    g = graphscope.load(proto)
    inferred = {v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
                for v in model.graph.value_info}
    for n in g.nodes:
        for v in n.outputs:
            if v.name in inferred:
                assert inferred[v.name] == v.type.shape, v.name
    sess = ort.InferenceSession(out.read_bytes(), providers=["CPUExecutionProvider"])
    ours = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"data": np.load(x)})))
    assert {"sm", "norm", "fl", "r1", "crop1"} <= set(ours)
    for name in set(ours) - {"pedge"}:  # pedge: OpenCV's empty-window quirk, see above
        theirs = _opencv_output(proto, weights, np.load(x), name)
        assert np.abs(ours[name] - theirs).max() <= TOL * np.abs(theirs).max(), name


def test_lrn_k_and_bias_follow_caffe(tmp_path):
    """Two layers OpenCV gets wrong or lacks, checked against Caffe's formulas in float64:
    ACROSS_CHANNELS LRN with k != 1 (OpenCV ignores k) and a Bias layer."""
    proto = tmp_path / "k.prototxt"
    proto.write_text('''name: "k" input: "data" input_shape { dim: 1 dim: 6 dim: 5 dim: 4 }
layer { name: "lrn" type: "LRN" bottom: "data" top: "lrn"
  lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 k: 2 } }
layer { name: "b" type: "Bias" bottom: "lrn" top: "b" bias_param { axis: 1 num_axes: 2 } }''')
    weights = tmp_path / "k.caffemodel"
    bias = np.random.default_rng(2).standard_normal((6, 5)).astype("float32")
    write_caffemodel(weights, [("b", "Bias", [bias])])
    g = graphscope.load(proto, weights=weights)
    x = np.random.default_rng(3).standard_normal((1, 6, 5, 4)).astype("float32") * 2
    from graphscope.runtime.onnxruntime import run
    out = run(g, {"data": x}, ["lrn", "b"])
    x64 = x.astype(np.float64)
    sq = np.pad(x64 ** 2, ((0, 0), (1, 1), (0, 0), (0, 0)))
    lrn = x64 * (2 + 0.5 / 3 * sum(sq[:, i:i + 6] for i in range(3))) ** -0.75
    np.testing.assert_allclose(out["lrn"], lrn, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["b"], lrn + bias[None, :, :, None], rtol=1e-5, atol=1e-6)


NO_ONNX = '''name: "ssd_head" input: "data" input_shape { dim: 1 dim: 3 dim: 16 dim: 16 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "priors" type: "PriorBox" bottom: "conv" bottom: "data" top: "priors"
  prior_box_param { min_size: 4 aspect_ratio: 2 } }
'''


def test_layers_without_onnx_form_are_named_and_nothing_is_written(tmp_path):
    from tests.conftest import run_cli
    proto = tmp_path / "ssd.prototxt"
    proto.write_text(NO_ONNX)
    weights = tmp_path / "ssd.caffemodel"
    scaled_caffemodel(graphscope.load(proto), weights)
    with pytest.raises(UnsupportedError, match=r"priors \(caffe.PriorBox\)"):
        graphscope.convert(proto, to="onnx", weights=weights)
    out = tmp_path / "ssd.onnx"
    r = run_cli("convert", proto, "--weights", weights, "-o", out)
    assert r.returncode == 2
    assert "priors (caffe.PriorBox)" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob("*.onnx*"))


def test_argmax_and_embed_follow_caffe(tmp_path):
    proto = tmp_path / "a.prototxt"
    proto.write_text('''name: "a"
input: "data" input_shape { dim: 2 dim: 3 dim: 4 dim: 5 }
input: "ids" input_shape { dim: 2 dim: 6 }
layer { name: "am" type: "ArgMax" bottom: "data" top: "am" argmax_param { top_k: 3 out_max_val: true } }
layer { name: "am1" type: "ArgMax" bottom: "data" top: "am1" argmax_param { top_k: 2 } }
layer { name: "amx" type: "ArgMax" bottom: "data" top: "amx" argmax_param { axis: 1 top_k: 2 } }
layer { name: "emb" type: "Embed" bottom: "ids" top: "emb" embed_param { num_output: 4 input_dim: 10 } }''')
    rng = np.random.default_rng(5)
    w, b = rng.standard_normal((10, 4)).astype("float32"), rng.standard_normal(4).astype("float32")
    weights = tmp_path / "a.caffemodel"
    write_caffemodel(weights, [("emb", "Embed", [w, b])])
    g = graphscope.load(proto, weights=weights)
    x = rng.standard_normal((2, 3, 4, 5)).astype("float32")
    ids = rng.integers(0, 10, (2, 6)).astype("float32")
    from graphscope.runtime.onnxruntime import run
    out = run(g, {"data": x, "ids": ids}, ["am", "am1", "amx", "emb"])
    flat = x.reshape(2, -1)
    top = np.argsort(-flat, axis=1)[:, :3]
    expected_am = np.stack([top, np.take_along_axis(flat, top, 1)], 1)[..., None]
    np.testing.assert_allclose(out["am"], expected_am, rtol=1e-6)
    np.testing.assert_array_equal(out["am1"], top[:, None, :2, None])
    np.testing.assert_array_equal(out["amx"], np.argsort(-x, axis=1)[:, :2])
    np.testing.assert_allclose(out["emb"], w[ids.astype(int)] + b, rtol=1e-6)


def test_verify_runs_opencv_as_the_source_and_names_a_perturbed_layer(tmp_path):
    """`convert --verify` on a Caffe net compares against cv2.dnn, layer by layer; a conversion
    whose conv3 weights are nudged after the fact is caught at conv3, and not before."""
    from onnx import numpy_helper

    from graphscope.convert.api import verify_conversion
    from tests.conftest import run_cli
    path = BVLC / "cifar10__cifar10_quick.prototxt"
    if not path.exists():
        pytest.skip(f"corpus file {path} not present")
    proto, weights = tmp_path / "quick.prototxt", tmp_path / "quick.caffemodel"
    proto.write_text(path.read_text())
    scaled_caffemodel(graphscope.load(proto), weights)
    dst = tmp_path / "quick.onnx"
    r = run_cli("convert", proto, "--weights", weights, "-o", dst, "--verify")
    assert r.returncode == 0, r.stderr
    assert "source run by OpenCV cv2.dnn" in r.stdout
    assert "all 12 compared values agree" in r.stdout

    graph = graphscope.load(proto, weights=weights)
    model = graphscope.convert(graph, to="onnx")
    conv3 = next(n for n in graph.nodes if n.meta.get("caffe_layer") == "conv3")
    w = next(t for t in model.graph.initializer if t.name == conv3.inputs[1].name)
    w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w) * np.float32(1.01), w.name))
    report = verify_conversion(graph, "onnx", model, 1e-4, 1e-5)
    assert report.reference == "OpenCV cv2.dnn"
    assert report.first_divergence.node == conv3.name
    assert all(d.ok for d in report.layers[:report.layers.index(report.first_divergence)])
    assert len(report.layers) == 12
