"""Readable PyTorch source generated from the IR: the generated module computes what
onnxruntime (ONNX zoo) or the original module (PyTorch zoo) computes, the written .py imports
only torch and runs in a Python where graphscope cannot be imported, and the source reads like
a hand-written model (one nn layer per weighted node, one statement per node)."""
import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphscope
from graphscope.errors import UnsupportedError
from graphscope.runtime.inputs import make_feeds

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
from graphscope.convert.torch_source import generate, instantiate, write  # noqa: E402
from tests.zoo import onnx_models, torch_models  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RTOL, ATOL = 1e-4, 1e-5


def run_generated(module, graph, feeds) -> list[np.ndarray]:
    with torch.no_grad():
        out = module(*[torch.from_numpy(feeds[v.name]) for v in graph.inputs])
    return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


def assert_matches_onnxruntime(model, graph, module, feeds_list):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for feeds in feeds_list:
        expected = sess.run(None, feeds)
        got = run_generated(module, graph, feeds)
        assert len(got) == len(expected)
        for name, e, g in zip([o.name for o in sess.get_outputs()], expected, got):
            assert g.shape == e.shape, name
            np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL, err_msg=name)


def forward_statements(code: str) -> list[str]:
    """The statements of forward() (docstring and return left out)."""
    tree = ast.parse(code)
    forward = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
                   and n.name == "forward")
    return [ast.unparse(s) for s in forward.body
            if not isinstance(s, ast.Return) and not (isinstance(s, ast.Expr)
                                                      and isinstance(s.value, ast.Constant))]


def more_ops():
    """Ops and layouts beyond the zoo's: asymmetric pads, 1-D layers, lookups, broadcasting,
    negative-step slices, equal splits, generic Gemm, Constant nodes, integer division."""
    b = onnx_models.Builder("more_ops")
    x = b.input("x", [2, 4, 9, 9])
    ids = b.input("ids", [2, 5], TensorProto.INT64)
    # 2-D layers with asymmetric pads
    c = b.op("Conv", [x, b.weight("c.w", (6, 4, 3, 3)), b.weight("c.b", (6,))], name="conv_asym",
             kernel_shape=[3, 3], strides=[2, 2], pads=[0, 1, 1, 2])
    p = b.op("MaxPool", [c], name="pool_asym", kernel_shape=[3, 3], strides=[1, 1],
             pads=[0, 1, 1, 1])
    p = b.op("PRelu", [p, b.weight("slope", (6, 1, 1))], name="prelu")
    t = b.op("ConvTranspose", [p, b.weight("ct.w", (6, 3, 3, 3))], name="deconv_asym",
             strides=[2, 2], pads=[0, 1, 1, 0])
    t = b.op("InstanceNormalization", [t, b.weight("in.s", (3,)), b.weight("in.b", (3,))],
             name="inorm", epsilon=1e-5)
    t = b.op("LeakyRelu", [t], name="leaky", alpha=0.1)
    t = b.op("Elu", [t], name="elu", alpha=0.5)
    t = b.op("HardSigmoid", [t], name="hsig")
    t = b.op("HardSwish", [t], name="hswish")
    t = b.op("Clip", [t, b.const("lo", 0.1, np.float32), b.const("hi", 0.8, np.float32)],
             name="clip")
    t = b.op("Resize", [t, "", b.const("scales", [1, 1, 2, 2], np.float32)], name="bilinear",
             mode="linear")
    b.op("AveragePool", [t], name="avgpool_pad", kernel_shape=[3, 3], strides=[2, 2],
         pads=[1, 1, 1, 1], count_include_pad=1, outputs=["y_image"])
    # 1-D layers
    s = b.op("Reshape", [x, b.const("to1d", [2, 4, 81])], name="to_1d")
    s = b.op("Conv", [s, b.weight("c1.w", (5, 4, 3)), b.weight("c1.b", (5,))], name="conv1d",
             kernel_shape=[3], pads=[1, 1])
    s = b.bn(s, 5, name="bn1d")
    b.op("ReduceMax", [s], name="rmax", axes=[2], keepdims=0, outputs=["y_seq"])
    # lookups: a table (nn.Embedding), a constant index, constant index lists
    e = b.op("Gather", [b.weight("table", (10, 6)), ids], name="embed", axis=0)
    first = b.op("Gather", [e, b.const("one", 1)], name="pick", axis=1)
    b.op("Gather", [e, b.const("pair", [0, 2])], name="pick_pair", axis=-1,
         outputs=["y_pair"])
    # elementwise with broadcasting and scalars
    pos = b.op("Greater", [first, b.const("zero", 0.0, np.float32)], name="positive")
    wh = b.op("Where", [pos, first, b.op("Neg", [first], name="neg")], name="where")
    pw = b.op("Pow", [wh, b.const("two", 2.0, np.float32)], name="pow")
    mx = b.op("Max", [pw, first, b.op("Erf", [first], name="erf")], name="max3")
    mn = b.op("Min", [mx, b.op("Softsign", [first], name="softsign")], name="min")
    sm = b.op("Sum", [mn, mx, pw], name="sum3")
    mean = b.op("Mean", [sm, pw], name="mean2")
    ints = b.op("Cast", [b.op("Mul", [mean, b.const("ten", 10.0, np.float32)], name="x10")],
                name="to_int", to=TensorProto.INT32)
    third = b.op("Div", [ints, b.const("three", 3, np.int32)], name="int_div")
    b.op("Cast", [third, ], name="to_float", to=TensorProto.FLOAT, outputs=["y_int"])
    ex = b.op("Expand", [b.op("Unsqueeze", [mean, b.const("ax1", [-2])], name="unsq"),
                         b.const("eshape", [2, 3, 6])], name="expand")
    b.op("Tile", [ex, b.const("reps", [1, 2, 1])], name="tile", outputs=["y_tile"])
    b.op("ArgMax", [mean], name="argmax", axis=1, keepdims=0, outputs=["y_argmax"])
    b.op("LogSoftmax", [mean], name="logsoftmax", axis=-1, outputs=["y_logsoftmax"])
    # Gemm that is no nn.Linear (alpha, beta, a constant first operand), a Constant node
    g = b.op("Gemm", [mean, b.weight("g.w", (6, 3)), b.weight("g.c", (3,))], name="gemm_scaled",
             alpha=0.5, beta=2.0)
    k = numpy_helper.from_array(np.array([1.0, -1.0, 0.5], np.float32))
    b.nodes.append(helper.make_node("Constant", [], ["k_out"], name="k", value=k))
    g = b.op("Add", [g, "k_out"], name="add_const")
    b.op("MatMul", [b.weight("left", (4, 2)), g], name="matmul_const_a", outputs=["y_gemm"])
    # slicing: a negative step, an equal split, reflect padding, Flatten at axis 2
    sl = b.op("Slice", [x, b.const("ss", [-1]), b.const("se", [-100]), b.const("sa", [3]),
                        b.const("sst", [-2])], name="reverse_cols")
    halves = b.op("Split", [sl], n_out=2, name="halves", axis=1)
    pd = b.op("Pad", [halves[1], b.const("pp", [0, 0, 1, 2, 0, 0, 2, 1])], name="reflect",
              mode="reflect")
    b.op("Flatten", [pd], name="flat2", axis=2, outputs=["y_flat"])
    b.op("ReduceSum", [halves[0], b.const("rs_axes", [1, -1])], name="rsum", keepdims=1,
         outputs=["y_rsum"])
    for name, rank in (("y_image", 4), ("y_seq", 2), ("y_pair", 3), ("y_int", 2),
                       ("y_tile", 3), ("y_logsoftmax", 2), ("y_gemm", 2), ("y_flat", 2),
                       ("y_rsum", 4)):
        b.output(name, rank)
    b.output("y_argmax", 1, TensorProto.INT64)
    return b.model()


ONNX_ZOO = {"lenet": onnx_models.lenet, "small_resnet": onnx_models.small_resnet,
            "transformer_block": onnx_models.transformer_block,
            "op_coverage": onnx_models.op_coverage, "more_ops": more_ops,
            "resnet50": lambda: onnx_models.resnet50(size=64)}


@pytest.mark.parametrize("name", sorted(ONNX_ZOO))
def test_onnx_models_match_onnxruntime(name):
    model = ONNX_ZOO[name]()
    graph = graphscope.load(model)
    module = instantiate(generate(graph))
    assert_matches_onnxruntime(model, graph, module,
                               [make_feeds(graph, "random", seed=s) for s in (0, 1)])


@pytest.mark.parametrize("name", ["resnet18", "mobilenetv2", "unet", "vit"])
def test_pytorch_models_match_the_original_module(name):
    make, example = torch_models.ALL[name]
    model = make().eval()
    graph = graphscope.load(model, example_inputs=(example(),))
    generated = generate(graph, class_name="Regenerated")
    module = instantiate(generated)
    assert set(module.state_dict()) == set(generated.state_dict)
    for seed in (0, 1):
        x = torch.from_numpy(make_feeds(graph, "random", seed=seed)[graph.inputs[0].name])
        with torch.no_grad():
            expected, got = model(x), module(x)
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=RTOL, atol=ATOL)


def test_small_resnet_source_reads_like_a_hand_written_model():
    graph = graphscope.load(onnx_models.small_resnet())
    generated = generate(graph, class_name="SmallResnet")
    code = generated.code
    ops = [n.op for n in graph.nodes]
    assert code.count("nn.Conv2d(") == ops.count("Conv") == 11
    assert code.count("nn.BatchNorm2d(") == ops.count("BatchNormalization") == 11
    assert code.count("nn.Linear(") == 1
    assert "self.layer1_0_conv1 = nn.Conv2d(16, 16, 3, padding=1)" in code
    assert "self.layer2_0_conv2 = nn.Conv2d(32, 32, 3, padding=1, groups=4)" in code
    assert "self.layer3_0_conv2 = nn.Conv2d(64, 64, 3, padding=2, dilation=2)" in code
    assert "F.max_pool2d(" in code and "F.adaptive_avg_pool2d(" in code
    assert len(forward_statements(code)) == len(graph.nodes)
    assert code.startswith("# PyTorch source generated by graphscope from the model "
                           "'small_resnet'")
    assert "class SmallResnet(nn.Module):" in code
    assert generated.node_of["layer1_0_conv1"] == "/layer1/0/conv1/Conv"
    assert len(generated.node_of) == 11 + 11 + 1
    assert generated.state_dict["stem_bn.running_var"].shape == (16,)


def test_constant_shape_arithmetic_folds_and_a_symbolic_batch_still_runs():
    """transformer_block reshapes through Shape -> Gather -> Concat: the folded source has
    -1 for the batch and no shape code, and runs at a batch size other than the example's."""
    model = onnx_models.transformer_block()
    graph = graphscope.load(model)
    generated = generate(graph)
    code = generated.code
    assert ".reshape(-1, 16, 4, 16)" in code and ".reshape(-1, 16, 64)" in code
    assert "shape" not in "\n".join(forward_statements(code)).replace(".reshape(", "")
    assert code.count("nn.Linear(") == 6 and code.count("nn.LayerNorm(64)") == 2
    # q/k/v MatMul + bias Add became one nn.Linear each
    assert len(forward_statements(code)) == len(graph.nodes) - 4 - 3
    module = instantiate(generated)
    rng = np.random.default_rng(3)
    feeds = {"tokens": rng.standard_normal((3, 16, 64)).astype(np.float32)}
    assert_matches_onnxruntime(model, graph, module, [feeds])


def test_written_source_imports_only_torch(tmp_path):
    graph = graphscope.load(onnx_models.op_coverage())
    generated = generate(graph)
    py, pth = write(generated, tmp_path / "op_coverage.py")
    assert pth == tmp_path / "op_coverage.pth" and pth.stat().st_size > 0
    tree = ast.parse(py.read_text())
    imported = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            imported |= {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom):
            imported.add(n.module)
    assert imported == {"torch", "torch.nn", "torch.nn.functional"}
    assert "graphscope" not in "\n".join(ast.unparse(n) for n in ast.walk(tree)
                                         if isinstance(n, (ast.Import, ast.ImportFrom)))
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries
    saved = torch.load(pth, weights_only=True)
    assert set(saved) == set(generated.state_dict) and saved
    for key, tensor in saved.items():
        np.testing.assert_array_equal(tensor.numpy(), generated.state_dict[key])


def test_written_files_reproduce_outputs_in_a_python_without_graphscope(tmp_path):
    model = onnx_models.small_resnet()
    graph = graphscope.load(model)
    py, pth = write(generate(graph, class_name="SmallResnet"), tmp_path / "small_resnet.py")
    feeds = make_feeds(graph, "random", seed=5)
    torch.save(torch.from_numpy(feeds["image"]), tmp_path / "input.pt")
    script = textwrap.dedent("""
        import importlib.util, sys
        root = sys.argv[1]
        sys.path[:] = [p for p in sys.path if "site-packages" in p or not p.startswith(root)]
        sys.modules["graphscope"] = None  # importing graphscope now fails
        import torch
        spec = importlib.util.spec_from_file_location("small_resnet", sys.argv[2])
        generated = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(generated)
        model = generated.SmallResnet()
        model.load_state_dict(torch.load(sys.argv[3], weights_only=True))
        model.eval()
        with torch.no_grad():
            y = model(torch.load(sys.argv[4], weights_only=True))
        torch.save(y, sys.argv[5])
        print(sorted(m for m in sys.modules if m.split(".")[0] == "graphscope"))
    """)
    done = subprocess.run([sys.executable, "-I", "-c", script, str(ROOT), str(py), str(pth),
                           str(tmp_path / "input.pt"), str(tmp_path / "out.pt")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['graphscope']"  # only the blocked entry, never loaded
    got = torch.load(tmp_path / "out.pt", weights_only=True).numpy()
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(got, sess.run(None, feeds)[0], rtol=RTOL, atol=ATOL)


def test_unsupported_op_names_the_op_and_a_node():
    b = onnx_models.Builder("tfidf_net")
    x = b.input("x", [1, 5], TensorProto.INT64)
    y = b.op("Abs", [x], name="abs")
    b.op("TfIdfVectorizer", [y], name="the_tfidf", outputs=["y"], mode="TF",
         min_gram_length=1, max_gram_length=1, max_skip_count=0, ngram_counts=[0],
         ngram_indexes=[0], pool_int64s=[2])
    b.output("y", 2)
    graph = graphscope.load(b.model())
    with pytest.raises(UnsupportedError) as info:
        generate(graph)
    assert "TfIdfVectorizer" in str(info.value) and "the_tfidf" in str(info.value)
    assert info.value.node == "the_tfidf"


def test_dead_statements_and_their_weights_are_left_out():
    """A node nobody reads is dropped with its layer: state_dict and source agree."""
    b = onnx_models.Builder("dead_branch")
    x = b.input("x", [1, 3, 8, 8])
    y = b.conv(x, 3, 4, 3, pad=1, name="used")
    b.conv(x, 3, 4, 3, pad=1, name="unused")
    b.op("Relu", [y], name="relu", outputs=["y"])
    b.output("y", 4)
    generated = generate(graphscope.load(b.model()))
    assert "unused" not in generated.code
    assert set(generated.state_dict) == {"used.weight", "used.bias"}
    assert generated.node_of == {"used": "used"}


def test_names_are_valid_and_unique_identifiers():
    """Keywords, builtins, nn.Module attributes and odd characters in names give valid,
    unique identifiers; a model name cannot escape the header comment."""
    b = onnx_models.Builder("names\nimport os")
    x = b.input("class", [1, 4])
    y = b.op("Relu", [x], name="/0/lambda/Relu", outputs=["1st output"])
    y = b.op("Gemm", [y, b.weight("w", (4, 4))], name="forward", outputs=["for"], transB=1)
    y = b.op("Gemm", [y, b.weight("w2", (4, 4))], name="forward.", outputs=["y"], transB=1)
    b.output("y", 2)
    graph = graphscope.load(b.model())
    generated = generate(graph, class_name="Names")
    ast.parse(generated.code)
    assert "def forward(self, class_):" in generated.code
    assert generated.node_of == {"forward_": "forward", "forward_1": "forward."}
    assert not [n for n in ast.parse(generated.code).body
                if isinstance(n, ast.Import) and n.names[0].name == "os"]
    module = instantiate(generated)
    assert_matches_onnxruntime(b.model(), graph, module, [make_feeds(graph, "random")])


def test_symbolic_dims_are_read_from_the_input_shape():
    """Reshape(x, Concat(Shape(x)[0:2], [2, 2])) with two symbolic dims: folded to
    x.reshape(x.shape[0], x.shape[1], 2, 2), right for any N and M."""
    b = onnx_models.Builder("symbolic")
    x = b.input("x", ["N", "M", 4])
    head = b.op("Slice", [b.op("Shape", [x], name="shape"), b.const("s0", [0]),
                          b.const("s2", [2])], name="head")
    target = b.op("Concat", [head, b.const("tail", [2, 2])], name="target", axis=0)
    b.op("Reshape", [x, target], name="split_last", outputs=["y"])
    b.output("y", 4)
    model = b.model()
    graph = graphscope.load(model)
    generated = generate(graph)
    assert forward_statements(generated.code) == ["y = x.reshape(x.shape[0], x.shape[1], 2, 2)"]
    feeds = {"x": np.random.default_rng(0).standard_normal((3, 5, 4)).astype(np.float32)}
    assert_matches_onnxruntime(model, graph, instantiate(generated), [feeds])


def test_shapes_unknown_until_run_time_become_shape_code():
    """A graph with no shape information: Shape -> Gather -> Concat -> Reshape is written
    out as tensor code, and computes what the torch interpreter computes."""
    from graphscope.ir.graph import Graph, TensorType, WeightData
    from graphscope.runtime.torch import build_module
    g = Graph("dynamic")
    g.add_input("x", TensorType("float32", None))
    g.add_weight("idx", WeightData.from_array(np.array([0, 1], np.int64)))
    g.add_weight("tail", WeightData.from_array(np.array([-1], np.int64)))
    g.add_node("Shape", ["x"], ["s"], name="shape")
    g.add_node("Gather", ["s", "idx"], ["s01"], {"axis": 0}, name="gather")
    g.add_node("Concat", ["s01", "tail"], ["target"], {"axis": 0}, name="concat")
    g.add_node("Reshape", ["x", "target"], ["y"], name="reshape")
    g.add_node("Relu", ["y"], ["z"], name="relu")
    g.add_output("z")
    generated = generate(g)
    assert "torch.tensor(x.shape, dtype=torch.int64)" in generated.code  # rank unknown
    assert set(generated.state_dict) == {"tail"}
    module = instantiate(generated)
    x = torch.randn(2, 3, 4, 5)
    with torch.no_grad():
        got, expected = module(x), build_module(g)(x)
    assert got.shape == (2, 3, 20)
    np.testing.assert_allclose(got.numpy(), expected.numpy())


CAFFE_NET = """name: "lowered" input: "data" input_shape { dim: 1 dim: 4 dim: 7 dim: 9 }
layer { name: "pmax" type: "Pooling" bottom: "data" top: "pmax"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "pave" type: "Pooling" bottom: "data" top: "pave"
  pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "sum" type: "Eltwise" bottom: "data" bottom: "data" top: "sum"
  eltwise_param { operation: SUM coeff: 0.5 coeff: -2 } }
layer { name: "pw" type: "Power" bottom: "sum" top: "pw"
  power_param { power: 2 scale: 0.5 shift: 1 } }
layer { name: "log" type: "Log" bottom: "pw" top: "log" log_param { base: 10 scale: 2 shift: 9 } }
layer { name: "thr" type: "Threshold" bottom: "data" top: "thr" threshold_param { threshold: 0.3 } }
layer { name: "tile" type: "Tile" bottom: "pmax" top: "tile" tile_param { axis: 2 tiles: 3 } }
layer { name: "red" type: "Reduction" bottom: "data" top: "red"
  reduction_param { operation: SUMSQ axis: 1 coeff: 0.5 } }
layer { name: "up" type: "Upsample" bottom: "pave" top: "up" upsample_param { scale: 2 } }
layer { name: "lrn" type: "LRN" bottom: "data" top: "lrn"
  lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 norm_region: WITHIN_CHANNEL } }
layer { name: "shuf" type: "ShuffleChannel" bottom: "data" top: "shuf"
  shuffle_channel_param { group: 2 } }
"""


def test_caffe_layers_are_lowered_to_onnx_ops_first(tmp_path):
    """caffe.* ops have no generator of their own: the converter's lowering to ONNX ops is
    applied first, and the source computes what onnxruntime computes for the graph."""
    from graphscope.runtime.onnxruntime import run
    proto = tmp_path / "lowered.prototxt"
    proto.write_text(CAFFE_NET)
    graph = graphscope.load(proto)
    assert {n.op for n in graph.nodes} >= {"caffe.Eltwise", "caffe.Power", "caffe.Reduction"}
    generated = generate(graph)
    assert "caffe" not in "\n".join(forward_statements(generated.code))
    module = instantiate(generated)
    x = np.random.default_rng(0).standard_normal((1, 4, 7, 9)).astype(np.float32)
    names = [v.name for v in graph.outputs]
    expected = run(graph, {"data": x}, names)
    with torch.no_grad():
        got = module(torch.from_numpy(x))
    assert len(got) == len(names) == 7
    for name, g in zip(names, got):
        np.testing.assert_allclose(g.numpy(), expected[name], rtol=RTOL, atol=ATOL, err_msg=name)


def test_one_expression_ops_are_written_from_the_interpreters_function():
    """Gelu, LeakyRelu, Softplus, HardSigmoid: the statement is the shared function's
    expression with the node's values put in, so source and interpreter agree bit for bit."""
    from graphscope.runtime.torch import build_module
    b = onnx_models.Builder("activations", opset=20)  # Gelu is opset 20
    x = b.input("x", [2, 6])
    t = b.op("Gelu", [x], name="gelu", approximate="tanh")
    t = b.op("LeakyRelu", [t], name="leaky", alpha=0.25)
    t = b.op("HardSigmoid", [t], name="hsig", alpha=0.3, beta=0.4)
    b.op("Softplus", [x], name="softplus", outputs=["y_softplus"])
    b.output(t, 2)
    b.output("y_softplus", 2)
    model = b.model()
    graph = graphscope.load(model)
    generated = generate(graph)
    statements = forward_statements(generated.code)
    assert "F.gelu(x, approximate='tanh')" in statements[0]
    assert any("0.25 *" in s and "torch.where(" in s for s in statements)
    assert "onnx_" not in generated.code  # nothing copied: every op was one expression
    feeds = {"x": np.array([[-3, -1, 0, 0.5, 2, 100]] * 2, np.float32)}
    got = run_generated(instantiate(generated), graph, feeds)
    with torch.no_grad():
        expected = build_module(graph)(torch.from_numpy(feeds["x"]))
    for g, e in zip(got, expected):
        assert np.array_equal(g, e.numpy())
    assert got[1][0, 5] == 100  # softplus(100): no overflow to inf
    assert_matches_onnxruntime(model, graph, instantiate(generated), [feeds])
