"""Caffe adapter: classic nets' published figures, the BVLC corpus, every layer type, phases,
in-place chains, caffemodel weights, and one-line errors."""
from pathlib import Path

import numpy as np
import pytest

import graphscope
from graphscope.adapters.caffe.caffemodel import write_caffemodel
from graphscope.errors import ParseError, UsageError
from tests.conftest import CORPUS, needs_dot, run_cli
from tests.zoo import caffe_models
from tests.zoo.caffe_models import random_caffemodel  # noqa: F401  (shared with other tests)

BVLC = CORPUS / "caffe" / "bvlc"
CASES = Path(__file__).parent / "caffe_cases"


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    d = tmp_path_factory.mktemp("caffe_zoo")
    for name, make in caffe_models.ALL.items():
        (d / f"{name}.prototxt").write_text(make())
    return d


def load_text(tmp_path, text, name="net.prototxt", **options):
    p = tmp_path / name
    p.write_text(text)
    return graphscope.load(p, **options)


# -- published figures -------------------------------------------------------------------------
# (last feature map, its shape, params, MACs) from DESIGN.md; SqueezeNet from its paper.
FIGURES = {
    "alexnet": ("pool5", (1, 256, 6, 6), 61.0e6, 0.72e9),
    "vgg16": ("pool5", (1, 512, 7, 7), 138e6, 15.5e9),
    "googlenet": ("inception_5b/output", (1, 1024, 7, 7), 7.0e6, 1.6e9),
    "resnet50": ("res5c", (1, 2048, 7, 7), 25.6e6, 3.9e9),
    "squeezenet_v1.0": ("conv10", (1, 1000, 13, 13), 1.248e6, 0.83e9),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_classic_nets_match_published_figures(zoo, name):
    node, shape, params, macs = FIGURES[name]
    g = graphscope.load(zoo / f"{name}.prototxt")
    assert g.node(node).outputs[0].type.shape == shape
    t = g.totals()
    assert abs(t["params"] - params) / params < 0.01, t["params"]
    if name == "googlenet":  # DESIGN.md's "1.6 G" has two digits; the paper says 1.5 G
        assert round(t["macs"] / 1e9, 1) == 1.6 and t["macs"] == 1_582_671_872
    else:
        assert abs(t["macs"] - macs) / macs < 0.01, t["macs"]
    assert t["unknown_macs"] == 0


def test_resnet50_fuses_batchnorm_and_scale(zoo):
    g = graphscope.load(zoo / "resnet50.prototxt")
    bns = [n for n in g.nodes if n.op == "BatchNormalization"]
    assert len(bns) == 53 and all(n.source_op == "BatchNorm+Scale" for n in bns)
    assert not [n for n in g.nodes if n.op == "caffe.Scale"]
    # exact: convs + fc + 2 learnable per BN channel (gamma, beta)
    convs = sum(n.meta["params"] for n in g.nodes if n.op in ("Conv", "Gemm"))
    bn = sum(2 * n.outputs[0].type.shape[1] for n in bns)
    assert g.totals()["params"] == convs + bn == 25_557_096


def test_squeezenet_pooling_uses_caffe_ceil_rounding(zoo):
    g = graphscope.load(zoo / "squeezenet_v1.0.prototxt")
    shapes = {n.name: n.outputs[0].type.shape[2:] for n in g.nodes if n.name.startswith("pool")}
    assert shapes == {"pool1": (55, 55), "pool4": (27, 27), "pool8": (13, 13), "pool10": (1, 1)}
    assert all(g.node(p).attrs["ceil_mode"] == 1 for p in ("pool1", "pool4", "pool8"))


# -- the BVLC corpus ---------------------------------------------------------------------------
# For nets whose data layers do not say every dim (LMDB/HDF5 sources), the sizes the data has.
DATA_DIMS = {"bvlc_alexnet": (3, 227), "bvlc_reference_caffenet": (3, 227), "cifar10": (3, 32),
             "mnist": (1, 28), "siamese": (2, 28)}


def corpus_shapes(path: Path, g) -> dict:
    """Input shapes completing what the data layers leave unknown."""
    out = {}
    for v in g.inputs:
        if v.type.is_static():
            continue
        if "hdf5" in path.name:
            out[v.name] = (10, 4) if v.name == "data" else (10,)
            continue
        c, hw = next(d for k, d in DATA_DIMS.items() if path.name.startswith(k))
        s = v.type.shape
        out[v.name] = (s[0], c, hw, hw) if len(s) == 4 else s
    return out


@pytest.mark.parametrize("path", sorted(BVLC.glob("*.prototxt")), ids=lambda p: p.stem)
@pytest.mark.parametrize("phase", ["test", "train"])
def test_bvlc_corpus_parses_and_infers_every_shape(path, phase):
    stages = ["test-on-test"]  # mnist_autoencoder's TEST data layers are stage-gated
    g = graphscope.load(path, phase=phase, stages=stages)
    shapes = corpus_shapes(path, g)
    if shapes:
        g = graphscope.load(path, phase=phase, stages=stages, input_shapes=shapes)
    # (a Python layer's output is whatever its code makes: never run, so never known)
    unknown = [(n.name, v.type.shape) for n in g.nodes for v in n.outputs
               if (v.type.shape is None or None in v.type.shape) and n.op != "caffe.Python"]
    assert not unknown
    assert g.nodes and g.outputs


@needs_dot
def test_bvlc_corpus_renders_to_svg(tmp_path):
    for path in sorted(BVLC.glob("*deploy.prototxt"))[:3] + [BVLC / "mnist__lenet_train_test.prototxt"]:
        out = tmp_path / f"{path.stem}.svg"
        r = run_cli("render", path, "-o", out, "--theme", "caffe", "--blobs", "--phase", "train")
        assert r.returncode == 0, r.stderr
        svg = out.read_text()
        assert svg.startswith("<?xml") and "#ff5050" in svg.lower()  # draw_net's conv red


# -- every layer type --------------------------------------------------------------------------
EXPECTED = {
    "conv_hw": [(1, 4, 5, 10)], "dw": [(1, 8, 10, 10)], "deconv": [(1, 4, 20, 20)],
    "gpool": [(1, 8, 1, 1)], "spool": [(1, 8, 5, 5)], "ip_axis2": [(1, 8, 3)], "ip_t": [(1, 3)],
    "lrn_within": [(1, 8, 10, 10)], "cat0": [(2, 8, 10, 10)],
    "slice": [(1, 2, 10, 10), (1, 3, 10, 10), (1, 3, 10, 10)],
    "split": [(1, 8, 10, 10)] * 2, "crop": [(1, 8, 5, 10)], "flat": [(1, 800)],
    "flat2": [(1, 8, 100)], "reshape": [(1, 160, 5)], "reshape_ax": [(1, 2, 4, 10, 10)],
    "permute": [(1, 10, 10, 8)], "argmax": [(1, 1, 3)], "argmax_ax": [(1, 1, 10, 10)],
    "tile": [(1, 16, 10, 10)], "reduction": [(1, 8)], "embed": [(5, 16)],
    "lstm": [(4, 2, 7)], "rnn": [(4, 2, 7)], "prior": [(1, 2, 1600)],
    "detect": [(1, 1, 200, 7)], "roi": [(3, 8, 2, 2)],
    "proposal": [("num_rois", 5)], "upsample": [(1, 8, 20, 20)], "interp": [(1, 8, 19, 19)],
    "loss": [()], "acc": [()], "silence": [],
}
WEIGHTS = {"conv_hw": [(4, 8, 3, 1), (4,)], "dw": [(8, 1, 3, 3)], "deconv": [(8, 4, 2, 2), (4,)],
           "ip_axis2": [(3, 100), (3,)], "ip_t": [(800, 3), (3,)], "prelu": [(8,)],
           "embed": [(100, 16), (16,)], "lstm": [(28, 6), (28,), (28, 7)],
           "norm": [(8,)], "scale_alone": [(8,), (8,)], "bias_alone": [(8,)]}


def test_every_layer_type_gets_caffes_shapes():
    g = graphscope.load(CASES / "layers.prototxt")
    for name, shapes in EXPECTED.items():
        assert [v.type.shape for v in g.node(name).outputs] == shapes, name
    for name, shapes in WEIGHTS.items():
        assert [v.data.shape for v in g.node(name).weight_inputs()] == shapes, name
    same = ("bn_alone", "elt_coeff", "elt_prod", "elt_max", "softmax", "leaky", "elu", "tanh",
            "bnll", "power", "exp", "log", "threshold", "drop", "norm", "shuffle", "mvn")
    for name in same:
        assert g.node(name).outputs[0].type.shape == (1, 8, 10, 10), name
    assert g.node("dw").attrs["group"] == 8
    assert g.node("elt_coeff").attrs["coeff"] == [1.0, -1.0]
    assert g.node("bn_alone").meta["params"] == 0  # Caffe's BatchNorm learns nothing
    assert g.node("lrn_within").attrs["norm_region"] == "WITHIN_CHANNEL"


def test_unknown_layer_is_drawn_with_params_and_unknown_shape():
    g = graphscope.load(CASES / "layers.prototxt")
    fancy = g.node("fancy")
    assert fancy.op == "caffe.FancyNewLayer" and fancy.meta["unknown"]
    assert fancy.attrs == {"fancy.knob": 3}
    assert fancy.outputs[0].type.shape is None
    py = g.node("py")
    assert py.attrs["module"] == "evil" and py.outputs[0].type.shape is None
    warnings = g.metadata["warnings"]
    # its parameters are drawn, not ignored: no unknown-field warning for them
    assert not any("unknown field 'fancy_param'" in w for w in warnings)
    assert any("layers.prototxt:72:23: layer 'fancy': unknown layer type 'FancyNewLayer'" in w
               for w in warnings)


# -- inputs, phases, in-place ------------------------------------------------------------------
BODY = '''layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 4 kernel_size: 3 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "drop1" type: "Dropout" bottom: "conv1" top: "conv1" include { phase: TRAIN } }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
'''


@pytest.mark.parametrize("header", [
    'input: "data" input_dim: 2 input_dim: 3 input_dim: 9 input_dim: 9',
    'input: "data" input_shape { dim: 2 dim: 3 dim: 9 dim: 9 }',
    'layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 9 dim: 9 } } }',
    'layer { name: "d" type: "DummyData" top: "data" dummy_data_param { shape { dim: 2 dim: 3 dim: 9 dim: 9 } } }',
    'layer { name: "d" type: "MemoryData" top: "data" top: "label" memory_data_param { batch_size: 2 channels: 3 height: 9 width: 9 } }',
    'layer { name: "d" type: "ImageData" top: "data" top: "label" image_data_param { batch_size: 2 new_height: 9 new_width: 9 } }',
    'layer { name: "d" type: "Data" top: "data" top: "label" transform_param { crop_size: 9 mean_value: 1 mean_value: 2 mean_value: 3 } data_param { batch_size: 2 } }',
    'layer { name: "d" type: "WindowData" top: "data" top: "label" transform_param { crop_size: 9 } window_data_param { batch_size: 2 } }',
])
def test_every_input_style(tmp_path, header):
    g = load_text(tmp_path, header + "\n" + BODY)
    assert g.node("pool1").outputs[0].type.shape == (2, 4, 4, 4)


def test_input_shape_override_and_unknown_name(tmp_path):
    text = 'input: "data" input_dim: 1 input_dim: 3 input_dim: 9 input_dim: 9\n' + BODY
    g = load_text(tmp_path, text, input_shapes={"data": (5, 3, 17, 17)})
    assert g.node("pool1").outputs[0].type.shape == (5, 4, 8, 8)
    assert g.node("conv1").inputs[1].data.shape == (4, 3, 3, 3)
    with pytest.raises(UsageError, match="no input 'image'"):
        load_text(tmp_path, text, input_shapes={"image": (1, 3, 9, 9)})


def test_in_place_layers_form_a_chain_with_fresh_values(tmp_path):
    text = 'input: "data" input_dim: 1 input_dim: 3 input_dim: 9 input_dim: 9\n' + BODY
    g = load_text(tmp_path, text, phase="train")
    relu, drop = g.node("relu1"), g.node("drop1")
    assert relu.inputs[0].name == "conv1" and relu.outputs[0].name == "conv1@relu1"
    assert drop.inputs[0] is relu.outputs[0] and drop.outputs[0].name == "conv1@drop1"
    assert g.node("pool1").inputs[0] is drop.outputs[0]
    assert drop.outputs[0].meta["blob"] == "conv1"  # Caffe's own blob name, for tooltips
    assert [n.name for n in g.nodes] == ["conv1", "relu1", "drop1", "pool1"]


def test_phases_and_rules(tmp_path):
    text = '''input: "data" input_dim: 1 input_dim: 3 input_dim: 9 input_dim: 9
layer { name: "a" type: "ReLU" bottom: "data" top: "a" include { phase: TRAIN } }
layer { name: "a_test" type: "Sigmoid" bottom: "data" top: "a" include { phase: TEST } }
layer { name: "staged" type: "TanH" bottom: "a" top: "s" include { stage: "deploy" } }
layer { name: "notstaged" type: "AbsVal" bottom: "a" top: "n" exclude { stage: "deploy" } }
layer { name: "lvl" type: "BNLL" bottom: "a" top: "l" include { min_level: 2 } }
'''
    ops = lambda **kw: {n.name: n.op for n in load_text(tmp_path, text, **kw).nodes}
    assert ops() == {"a_test": "Sigmoid", "notstaged": "Abs"}
    assert ops(phase="train") == {"a": "Relu", "notstaged": "Abs"}
    assert ops(phase="test", stages=["deploy"]) == {"a_test": "Sigmoid", "staged": "Tanh"}
    assert "lvl" in ops(caffe_level=2)
    both = load_text(tmp_path, text, phase="all")
    assert {"a", "a_test"} <= {n.name for n in both.nodes}  # one drawing with both phases


def test_v1_layers_syntax(tmp_path):
    text = '''name: "old"
input: "data" input_dim: 1 input_dim: 1 input_dim: 28 input_dim: 28
layers { name: "conv1" type: CONVOLUTION bottom: "data" top: "conv1" blobs_lr: 1
  convolution_param { num_output: 20 kernel_size: 5 } }
layers { name: "pool1" type: POOLING bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layers { name: "ip1" type: INNER_PRODUCT bottom: "pool1" top: "ip1" inner_product_param { num_output: 10 } }
layers { name: "prob" type: SOFTMAX bottom: "ip1" top: "prob" }
'''
    g = load_text(tmp_path, text)
    assert [n.op for n in g.nodes] == ["Conv", "MaxPool", "Flatten", "Gemm", "Softmax"]
    assert g.node("ip1").outputs[0].type.shape == (1, 10)
    assert g.totals()["params"] == 20 * 25 + 20 + 2880 * 10 + 10


def test_namespaces_from_layer_name_prefixes(zoo):
    g = graphscope.load(zoo / "googlenet.prototxt")
    assert g.node("inception_3a/1x1").namespace == "inception_3a"
    assert g.node("pool5/7x7_s1").namespace == "pool5"
    assert g.node("prob").namespace == ""


def test_pbtxt_is_claimed_only_when_it_looks_like_caffe(tmp_path):
    from graphscope.adapters import caffe
    a = tmp_path / "a.pbtxt"
    a.write_text('input: "x"\nlayer { name: "r" type: "ReLU" bottom: "x" top: "y" }\n')
    b = tmp_path / "b.pbtxt"
    b.write_text('node { name: "x" op: "Placeholder" }\n')
    assert caffe.match(a) and not caffe.match(b) and caffe.match(Path("m.prototxt"))


# -- weights -----------------------------------------------------------------------------------
@pytest.mark.parametrize("v1", [False, True])
def test_caffemodel_weights_attach_lazily(zoo, tmp_path, v1):
    net = zoo / "lenet.prototxt"
    written = dict((name, arrays) for name, _, arrays in
                   random_caffemodel(graphscope.load(net), tmp_path / "w.caffemodel", v1=v1))
    g = graphscope.load(net, weights=tmp_path / "w.caffemodel")
    w = g.node("conv1").inputs[1]
    assert not w.data.loaded  # structure first; data when asked
    np.testing.assert_array_equal(w.data.array, written["conv1"][0])
    np.testing.assert_array_equal(g.node("ip1").inputs[1].data.array, written["ip1"][0])
    assert g.node("ip2").inputs[2].data.array.shape == (10,)


def test_batchnorm_statistics_divided_by_caffes_factor(zoo, tmp_path):
    text = caffe_models.resnet50()
    p = tmp_path / "r.prototxt"
    p.write_text(text)
    written = random_caffemodel(graphscope.load(p), tmp_path / "r.caffemodel")
    g = graphscope.load(p, weights=tmp_path / "r.caffemodel")
    mean, var, factor = dict((n, a) for n, _, a in written)["bn_conv1"]
    bn = g.node("bn_conv1")
    np.testing.assert_allclose(bn.inputs[3].data.array, np.float32(mean) / 2.0)
    np.testing.assert_allclose(bn.inputs[4].data.array, np.float32(var) / 2.0)


def test_caffemodel_mismatches_are_clear_errors(zoo, tmp_path):
    net = zoo / "lenet.prototxt"
    g = graphscope.load(net)
    random_caffemodel(g, tmp_path / "missing.caffemodel", skip=("ip1",))
    with pytest.raises(ParseError, match="layer 'ip1' has no weights in the caffemodel"):
        graphscope.load(net, weights=tmp_path / "missing.caffemodel")
    other = tmp_path / "other.prototxt"
    other.write_text(caffe_models.lenet().replace("num_output: 500", "num_output: 400"))
    random_caffemodel(graphscope.load(other), tmp_path / "other.caffemodel")
    with pytest.raises(ParseError, match=r"layer 'ip1' blob 0: the caffemodel has shape "
                                         r"400x800, the prototxt needs 500x800"):
        graphscope.load(net, weights=tmp_path / "other.caffemodel")
    good = tmp_path / "good.caffemodel"
    random_caffemodel(g, good)
    data = good.read_bytes()
    (tmp_path / "cut.caffemodel").write_bytes(data[:len(data) // 2])
    r = run_cli("info", net, "--weights", tmp_path / "cut.caffemodel")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "cut.caffemodel" in r.stderr and "truncated caffemodel" in r.stderr


# -- bad input ---------------------------------------------------------------------------------
BAD = [
    ('layer { name: "a" type: "ReLU" bottom: "data" top: "a"\n', "1:1: unbalanced braces"),
    ('layer { name: "a" type: "ReLU" } }\n', "1:34: unbalanced braces: unexpected '}'"),
    ('input: "data"\ninput_dim: 1x\n', "2:12: bad number '1x'"),
    ('input: "data\n', "1:8: unterminated string"),
    ('name: "a\\q"\n', "1:9: bad string escape"),
    ('input: "data" input_shape { dim: 1 }\nlayer { name: "r" type: "ReLU" bottom: "nope" top: "r" }\n',
     "2:32: layer 'r': bottom 'nope' is not produced"),
    ('input: "data" input_shape { dim: 1 }\nlayer { name: "r" type: "ReLU" bottom: "data" top: "x" }\n'
     'layer { name: "s" type: "ReLU" bottom: "data" top: "x" }\n',
     "3:47: layer 's': top 'x' is already produced by layer 'r'"),
]


@pytest.mark.parametrize("text,message", BAD, ids=[m.split(":")[2].strip()[:20] for _, m in BAD])
def test_bad_prototxt_gives_one_line_error(tmp_path, text, message):
    p = tmp_path / "bad.prototxt"
    p.write_text(text)
    # info draws a net with a dangling bottom (forgiving, a warning); convert refuses it
    r = run_cli("convert", p, "-o", tmp_path / "x.onnx") if "not produced" in message \
        else run_cli("info", p)
    assert r.returncode == 2
    assert r.stderr == f"graphscope: error: {p}:{message}" + r.stderr.split(message, 1)[1]
    assert r.stderr.count("\n") == 1


def test_unknown_field_warns_and_loads(tmp_path):
    p = tmp_path / "fork.prototxt"
    p.write_text('input: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
                 'layer { name: "c" type: "Convolution" bottom: "data" top: "c"\n'
                 '  convolution_param { num_output: 2 kernel_size: 3 fork_knob: 7 } }\n')
    r = run_cli("info", p)
    assert r.returncode == 0
    assert f"graphscope: warning: {p}:3:52: layer 'c' convolution_param: unknown field " \
           f"'fork_knob' kept as an attribute, not used" in r.stderr
    assert "1x2x6x6" in r.stdout
    # kept for the tooltip, never exported (caffe_ attributes stay out of ONNX)
    assert graphscope.load(p).node("c").attrs["caffe_convolution_param.fork_knob"] == 7


def test_caffemodel_given_as_the_model_is_a_clear_error(zoo, tmp_path):
    random_caffemodel(graphscope.load(zoo / "lenet.prototxt"), tmp_path / "w.caffemodel")
    w = tmp_path / "w.prototxt"
    w.write_bytes((tmp_path / "w.caffemodel").read_bytes())
    with pytest.raises(ParseError):
        graphscope.load(w)


def test_caffe_source_formulas_where_opencv_differs(tmp_path):
    """Deconvolution output = stride*(in-1) + dilation*(k-1)+1 - 2*pad (deconv_layer.cpp), and
    a lone pad_h pads only the height (pooling_layer.cpp reads pad_w as 0)."""
    g = load_text(tmp_path, '''input: "data" input_shape { dim: 1 dim: 4 dim: 17 dim: 19 }
layer { name: "d" type: "Deconvolution" bottom: "data" top: "d"
  convolution_param { num_output: 4 kernel_size: 3 stride: 3 dilation: 2 pad: 1 } }
layer { name: "p" type: "Pooling" bottom: "data" top: "p"
  pooling_param { pool: MAX kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 3 pad_h: 1 } }
''')
    assert g.node("d").outputs[0].type.shape == (1, 4, 3 * 16 + 5 - 2, 3 * 18 + 5 - 2)
    assert g.node("p").outputs[0].type.shape == (1, 4, 9, 7)


def test_generated_5000_layer_net_gets_every_shape(tmp_path):
    g = load_text(tmp_path, caffe_models.chain(5000))
    assert len(g.nodes) > 3000
    assert all(v.type.is_static() for n in g.nodes for v in n.outputs)
    assert g.outputs[0].type.shape == (1, 16, 32, 32)
