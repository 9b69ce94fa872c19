"""Caffe as people have it: netscope-style files, forgiving reading for drawing (render, info)
and strict reading for running (convert, probe), the fork fields that change semantics, odd
encodings and old syntax, and every prototxt of the corpus (../shared/corpus/caffe)."""
from pathlib import Path

import pytest

import graphscope
from graphscope.adapters import caffe
from graphscope.errors import ParseError
from tests.conftest import CORPUS, run_cli
from tests.zoo import caffe_models
from tests.zoo.caffe_models import random_caffemodel

WILD = CORPUS / "caffe" / "wild"
ALL_FILES = sorted((CORPUS / "caffe").glob("*/*.prototxt"))


def write(tmp_path, text, name="net.prototxt"):
    p = tmp_path / name
    p.write_text(text)
    return p


# -- netscope's presets ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(caffe_models.NETSCOPE))
def test_netscope_style_classics_get_their_published_shapes(tmp_path, name):
    """Data/data layers with input_param, an Input with `shape: {`, a TRAIN-only Data layer
    with crop_size and no channel count (3 assumed, with a warning)."""
    style, layer, shape = caffe_models.NETSCOPE[name]
    p = write(tmp_path, caffe_models.netscope(name), f"{name}.prototxt")
    g = graphscope.load(p, forgiving=True)
    assert g.node(layer).outputs[0].type.shape == shape
    unknown = [n.name for n in g.nodes for v in n.outputs
               if v.type.shape is None or None in v.type.shape]
    assert not unknown
    liberties = g.metadata.get("liberties", [])
    assert bool(liberties) == (style == "netscope_train")
    if style == "netscope_train":
        assert any(f"{p}:2:1: layer 'data': the Data layer does not say its channel count; "
                   f"3 assumed" in w for w in g.metadata["warnings"])
        strict = graphscope.load(p, phase="train")  # strict: the channel count stays unknown
        assert strict.inputs[0].type.shape == (10, None, 227, 227)
        with pytest.raises(ParseError, match="include/exclude rules leave it out"):
            graphscope.load(p)


def test_channels_from_the_caffemodel(tmp_path):
    """A Data layer with crop_size and no channel count: conv1's weights in the caffemodel
    say how many channels it reads (here 1, where forgiving reading would assume 3)."""
    text = '''layer { name: "data" type: "Data" top: "data" top: "label"
  transform_param { crop_size: 28 } data_param { source: "x" batch_size: 4 } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 6 kernel_size: 5 } }
'''
    p = write(tmp_path, text)
    full = caffe.load(text.replace("crop_size: 28", "crop_size: 28 mean_value: 0"))
    model = tmp_path / "w.caffemodel"
    random_caffemodel(full, model)
    for forgiving in (False, True):
        g = graphscope.load(p, weights=model, forgiving=forgiving)
        assert g.inputs[0].type.shape == (4, 1, 28, 28)
        assert g.node("conv1").outputs[0].type.shape == (4, 6, 24, 24)
        assert "liberties" not in g.metadata


# -- fork fields -------------------------------------------------------------------------------
POOL = '''input: "data" input_shape { dim: 1 dim: 64 dim: 112 dim: 112 }
layer { name: "ceil" type: "Pooling" bottom: "data" top: "ceil"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "floor" type: "Pooling" bottom: "data" top: "floor"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 ceil_mode: false } }
layer { name: "round" type: "Pooling" bottom: "data" top: "round"
  pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 round_mode: FLOOR } }
layer { name: "round_ceil" type: "Pooling" bottom: "data" top: "round_ceil"
  pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 round_mode: CEIL } }
'''


def test_ceil_mode_and_round_mode_are_honoured(tmp_path):
    """DenseNet/DPN ports: 112 -> 56 with floor rounding, 57 with Caffe's ceil; the fields
    are read, not warned about."""
    g = graphscope.load(write(tmp_path, POOL))
    sizes = {n.name: n.outputs[0].type.shape[2] for n in g.nodes}
    assert sizes == {"ceil": 56 + 1, "floor": 56, "round": 56, "round_ceil": 57}
    assert g.node("floor").attrs["ceil_mode"] == 0
    assert not g.metadata.get("warnings")


# -- phase-excluded and missing producers ---------------------------------------------------------
TRAIN_ONLY = '''name: "n"
layer { name: "data" type: "Data" top: "data" include { phase: TRAIN }
  transform_param { crop_size: 8 mean_value: 1 } data_param { batch_size: 2 } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 4 kernel_size: 3 } }
layer { name: "add" type: "Eltwise" bottom: "conv" bottom: "ghost" top: "add" }
'''
EXCLUDED = ("layer 'conv': bottom 'data' is not produced by any earlier layer or input "
            "(layer 'data' makes it, but its include/exclude rules leave it out of this "
            "phase/stage)")


def test_forgiving_reading_keeps_excluded_producers_and_draws_dangling_bottoms(tmp_path):
    p = write(tmp_path, TRAIN_ONLY)
    g = graphscope.load(p, forgiving=True)
    assert g.node("conv").outputs[0].type.shape == (2, 4, 6, 6)
    assert [v.name for v in g.inputs] == ["data", "ghost"]
    assert g.values["ghost"].type.shape is None and g.values["ghost"].meta["external"]
    warnings = g.metadata["warnings"]
    assert f"{p}:4:42: {EXCLUDED}; kept layer 'data' to draw the net" in warnings
    assert any(w.startswith(f"{p}:6:52: layer 'add': bottom 'ghost' is not produced")
               and w.endswith("drawn as an external input") for w in warnings)


def test_strict_reading_refuses_with_the_same_message(tmp_path):
    p = write(tmp_path, TRAIN_ONLY)
    with pytest.raises(ParseError) as e:
        graphscope.load(p)
    assert str(e.value) == f"{p}:4:42: {EXCLUDED}"


def test_cli_render_and_info_forgive_convert_refuses(tmp_path):
    p = write(tmp_path, TRAIN_ONLY)
    r = run_cli("info", p)
    assert r.returncode == 0, r.stderr
    assert f"graphscope: warning: {p}:4:42: {EXCLUDED}; kept layer 'data'" in r.stderr
    assert "conv" in r.stdout and "2x4x6x6" in r.stdout
    r = run_cli("render", p, "-o", tmp_path / "n.dot")
    assert r.returncode == 0 and (tmp_path / "n.dot").exists(), r.stderr
    r = run_cli("convert", p, "--to", "onnx", "-o", tmp_path / "n.onnx")
    assert r.returncode == 2 and not (tmp_path / "n.onnx").exists()
    assert r.stderr.strip() == f"graphscope: error: {p}:4:42: {EXCLUDED}"


# -- encodings and old syntax -----------------------------------------------------------------
def test_gbk_comments_are_read(tmp_path):
    """Caffe's parser reads bytes: a GBK comment is no reason to refuse the file."""
    text = '# 网络结构：输入层\ninput: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n' \
           'layer { name: "c" type: "Convolution" bottom: "data" top: "c" # 卷积\n' \
           '  convolution_param { num_output: 2 kernel_size: 3 } }\n'
    p = tmp_path / "gbk.prototxt"
    p.write_bytes(text.encode("gbk"))
    g = graphscope.load(p)
    assert g.node("c").outputs[0].type.shape == (1, 2, 6, 6)
    assert g.metadata["warnings"] == [f"{p}:1:3: the file is not UTF-8; read as GB18030/GBK"]
    binary = tmp_path / "model.prototxt"
    binary.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(ParseError, match="is this a .caffemodel"):
        graphscope.load(binary)


def test_v0_layers_and_padding_layers(tmp_path):
    """The V0 form (`layers { layer { type: "conv" kernelsize: 11 } }`): upgraded as Caffe
    does, its `padding` layer folded into the convolution that reads it."""
    g = graphscope.load(WILD / "kevinlin311tw__caffe-cvprw15__examples__cvprw15-cifar10__"
                               "train_CIFAR10_48.prototxt")
    assert g.inputs[0].type.shape == (32, None, 227, 227)
    g = graphscope.load(WILD / "kevinlin311tw__caffe-cvprw15__examples__cvprw15-cifar10__"
                               "train_CIFAR10_48.prototxt", forgiving=True)
    assert g.node("conv1").outputs[0].type.shape == (32, 96, 55, 55)
    conv2 = g.node("conv2")
    assert conv2.attrs["pads"] == [2, 2, 2, 2] and conv2.outputs[0].type.shape == (32, 256, 27, 27)
    assert not [n for n in g.nodes if "pad" in n.name]


def test_loose_type_spellings(tmp_path):
    text = '''input: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }
layer { name: "r" type: "relu" bottom: "data" top: "r" }
layers { name: "i" type: INTERP bottom: "r" top: "i" interp_param { zoom_factor: 2 } }
'''
    g = graphscope.load(write(tmp_path, text))
    assert g.node("r").op == "Relu" and g.node("i").outputs[0].type.shape == (1, 3, 15, 15)
    assert g.metadata["warnings"] == [f"{tmp_path / 'net.prototxt'}:2:19: layer type 'relu' "
                                      f"read as 'ReLU'"]


# -- unknown layer types -----------------------------------------------------------------------
UNKNOWN = '''input: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }
layer { name: "w1" type: "Warp" bottom: "data" top: "w1" warp_param { mode: 2 } }
layer { name: "w2" type: "Warp" bottom: "w1" top: "w2" }
layer { name: "s" type: "Sparkle" bottom: "w2" top: "s" }
'''


def test_unknown_types_are_listed_once_and_drawn_as_unknown(tmp_path):
    p = write(tmp_path, UNKNOWN)
    r = run_cli("info", p)
    assert r.returncode == 0
    lines = r.stderr.strip().splitlines()
    assert lines == [
        f"graphscope: warning: {p}:2:20: layer 'w1': unknown layer type 'Warp' (2 layers: "
        f"'w1', 'w2'): drawn with its parameters, output shape unknown; a plugin can give its "
        f"shape rule (--plugin FILE.py, see docs/caffe.md)",
        f"graphscope: warning: {p}:4:19: layer 's': unknown layer type 'Sparkle' (1 layer: "
        f"'s'): drawn with its parameters, output shape unknown; a plugin can give its shape "
        f"rule (--plugin FILE.py, see docs/caffe.md)"]
    r = run_cli("render", p, "-o", tmp_path / "u.dot")
    dot = (tmp_path / "u.dot").read_text()
    w1 = next(line for line in dot.splitlines() if 'id="n:w1"' in line or "caffe.Warp\\nw1" in line)
    assert "unknown to graphscope" in w1 and "warp.mode = 2" in w1
    assert 'fillcolor="#fff3cd"' in w1 and 'color="#c0392b"' in w1


# -- the corpus ------------------------------------------------------------------------------------
# Files a strict reader refuses: a TRAIN/TEST data layer the test phase leaves out, or a
# bottom no layer makes.
STRICT_REFUSES = {
    "mnist__mnist_autoencoder", "LisaAnne", "Strand2013", "choasup", "chuckcho",
    "jay-mahadeokar", "sfzhang15", "xialuxi__arcface-caffe__cosin_add_m"}


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.stem[:48])
def test_every_corpus_file_is_read(path):
    g = graphscope.load(path, forgiving=True)
    assert g.nodes and g.outputs
    strict_ok = not any(path.name.startswith(s) for s in STRICT_REFUSES)
    if strict_ok:
        graphscope.load(path)
    else:
        with pytest.raises(ParseError, match="is not produced by any earlier layer"):
            graphscope.load(path)
    unknown_types = {n.source_op for n in g.nodes if n.meta.get("unknown")}
    assert unknown_types <= {"Python", "EuclideanLossHeatmap"}, unknown_types


def test_corpus_shapes_known_overall():
    """Over the 68 files: layers whose every top has a known shape (what an LMDB holds is not
    in the prototxt, so some stay unknown)."""
    known = total = 0
    for path in ALL_FILES:
        g = graphscope.load(path, forgiving=True)
        per = {}
        for n in g.nodes:
            ok = all(v.type.shape is not None and None not in v.type.shape for v in n.outputs)
            per[n.meta.get("caffe_layer")] = per.get(n.meta.get("caffe_layer"), True) and ok
        known += sum(per.values())
        total += len(per)
    assert known / total > 0.93, (known, total)


def test_corpus_agrees_with_opencv_on_a_sample(tmp_path):
    """benchmarks/caffe_corpus.py runs every file; CI runs three (BVLC, SSD fork, SENet)."""
    pytest.importorskip("cv2")
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import caffe_corpus
    names = ["bvlc_googlenet__deploy.prototxt",
             "chuanqi305__MobileNetv2-SSDLite__ssdlite__voc__deploy.prototxt",
             "shicai__SENet-Caffe__se_resnet_50_v1_deploy.prototxt"]
    total = 0
    for name in names:
        path = next(p for p in ALL_FILES if p.name == name)
        compared, agree, bad, _ = caffe_corpus.compare_with_opencv(path, tmp_path)
        assert compared > 100 and agree == compared, bad
        total += compared
    assert total > 600
