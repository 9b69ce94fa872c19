"""Keras files and TF graphs as people have them: bare keras.ops calls, unknown subclassed
layers, keras.applications models (a small sample; benchmarks/zoo_tensorflow.py runs all 40)
saved as .keras, .h5, frozen GraphDef and SavedModel. The views agree: params exact, MACs
equal under one cost model, every op-graph shape inferred by graphscope (TF's own
`_output_shapes` only as a cross-check)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import graphscope  # noqa: E402
from tests.conftest import ROOT  # noqa: E402
from tests.zoo import tf_models as zoo  # noqa: E402

BUILDERS = {"with_ops": zoo.with_ops, "mini_convnext": zoo.mini_convnext,
            "mobilenet_v3_small": zoo.mobilenet_v3_small}


def known_share(g) -> float:
    outs = [v for _, n in g.walk() for v in n.outputs]
    return sum(v.type.shape is not None and None not in v.type.shape for v in outs) / len(outs)


def cross_check(g) -> list:
    """Outputs whose inferred shape differs from TF's _output_shapes on a numeric dim."""
    return [v.name for _, n in g.walk() for v in n.outputs
            if v.meta.get("tf_shape") is not None and v.type.shape is not None
            and len(v.meta["tf_shape"]) == len(v.type.shape)
            and any(isinstance(a, int) and isinstance(b, int) and a != b
                    for a, b in zip(v.meta["tf_shape"], v.type.shape))]


@pytest.fixture(scope="module")
def models():
    return {name: build() for name, build in BUILDERS.items()}


@pytest.fixture(scope="module")
def files(models, tmp_path_factory):
    d = tmp_path_factory.mktemp("tfzoo")
    for name, m in models.items():
        m.save(d / f"{name}.keras")
        m.save(d / f"{name}.h5")
        if name != "with_ops":
            (d / f"{name}.pb").write_bytes(zoo.frozen_graphdef(m))
            m.export(d / f"{name}_sm", verbose=False)
    return d


# -- keras.ops calls and unknown layers ----------------------------------------------------------
def test_bare_ops_are_nodes_live_and_from_files(models, files):
    m = models["with_ops"]
    for source in (m, files / "with_ops.keras", files / "with_ops.h5"):
        g = graphscope.load(source)
        ops = [n.op for n in g.nodes]
        assert ops == ["Gemm", "Add", "Mul", "Sub", "Reshape"], source
        add = g.nodes[1]
        assert add.outputs[0].type.shape == ("N", 6)
        const = add.inputs[1]
        assert const.data.array.tolist() == 3.0 and const.meta.get("constant")
        sub = g.nodes[3]
        assert sub.inputs[0].data.array.tolist() == 1.0      # 1.0 - z: the constant first
        assert g.outputs[0].type.shape == ("N", 2, 3)
        assert g.totals()["params"] == m.count_params() == 30  # constants are not params


def test_keras_files_read_without_tensorflow(files):
    code = ("import sys, graphscope; g = graphscope.load(sys.argv[1]); "
            "print(g.totals()['params'], g.metadata.get('reader'), "
            "'tensorflow' in sys.modules, 'keras' in sys.modules)")
    for f in ("mini_convnext.keras", "mini_convnext.h5", "mobilenet_v3_small.keras"):
        out = subprocess.run([sys.executable, "-c", code, str(files / f)], capture_output=True,
                             text=True, cwd=ROOT, check=True).stdout.split()
        assert out[1:] == ["config", "False", "False"], (f, out)
        assert int(out[0]) > 0


def test_unknown_layer_drawn_with_config_and_weights(models, files):
    m = models["mini_convnext"]
    for source in (m, files / "mini_convnext.keras", files / "mini_convnext.h5"):
        g = graphscope.load(source)
        scale = g.node("scale")
        assert scale.op == "keras.ScaleByVector" and scale.meta["config"]["init"] == 1e-6
        gamma = scale.inputs[1]
        assert gamma.data.shape == (16,)
        assert np.allclose(gamma.data.array, 1e-6)                # read from the file on demand
        assert scale.outputs[0].type.shape == ("N", 8, 8, 16)
        assert g.totals()["params"] == m.count_params()
        residual = next(n for n in g.nodes if n.source_op == "Add")   # `r + x`, a keras.ops add
        assert residual.op == "Add" and len(residual.inputs) == 2


# -- the same model in every format -------------------------------------------------------------
@pytest.mark.parametrize("name", ["mini_convnext", "mobilenet_v3_small"])
def test_every_format_agrees(models, files, name):
    m = models[name]
    live = graphscope.load(m).totals()
    assert live["params"] == m.count_params()
    for suffix in (".keras", ".h5"):
        assert graphscope.load(files / f"{name}{suffix}").totals() == live
    for f in (f"{name}.pb", f"{name}_sm"):
        g = graphscope.load(files / f)
        assert known_share(g) == 1.0, f
        assert cross_check(g) == [], f
        t = g.totals()
        assert t["macs"] == live["macs"], f                     # one cost model
        # Normalization's literal mean/variance are constants, not parameters, in any view
        assert t["params"] == m.count_params(), f
        assert len(g.nodes) == sum(1 for _ in g.walk())        # function bodies are listed


def test_saved_model_nodes_in_layer_namespaces(files):
    g = graphscope.load(files / "mini_convnext_sm")
    spaces = {n.namespace.split("/")[-1] for n in g.nodes}
    assert {"dw_1", "ln_1", "pw1_1", "scale_1"} <= spaces
    assert not any("PartitionedCall" in n.namespace for n in g.nodes)
    dw = next(n for n in g.nodes if n.op == "Conv" and n.namespace.endswith("dw_1"))
    assert dw.attrs["group"] == 16                             # grouped conv from its filter


def test_efficientnet_swish_and_normalization_state():
    """IdentityN (Keras swish) is folded; an adapted Normalization's mean/variance/count are
    Keras weights but folded constants in the traced graph: 7 params Keras counts, not there."""
    m = zoo.efficientnet_b0()
    live = graphscope.load(m).totals()
    g = _load_pb(m)
    assert known_share(g) == 1.0 and cross_check(g) == []
    assert not [n for n in g.nodes if n.source_op == "IdentityN"]
    assert g.totals()["macs"] == live["macs"]
    assert g.totals()["params"] == m.count_params() - 7


def _load_pb(model):
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "m.pb"
        p.write_bytes(zoo.frozen_graphdef(model))
        return graphscope.load(p)


def test_tf_op_shape_rules_match_tensorflow():
    """Every output of a function built from StridedSlice (all masks), Pack/Unpack, Tensordot,
    SpaceToBatchND, conv transpose, Einsum, resize, MirrorPad, Split, Erfc, Rsqrt and
    SquaredDifference gets a shape from graphscope's rules equal to TensorFlow's own."""
    g = graphscope.load(zoo.tf_shape_ops())
    assert known_share(g) == 1.0, [(n.op, n.source_op) for n in g.nodes
                                   if None in (n.outputs[0].type.shape or (None,))]
    assert cross_check(g) == []
    checked = [v for n in g.nodes for v in n.outputs if v.meta.get("tf_shape") is not None]
    assert len(checked) > 20
    by_src = {n.source_op: n for n in g.nodes}
    assert by_src["SpaceToBatchND"].outputs[0].type.shape == ("4*N", 4, 4, 4)
    assert by_src["Conv2DBackpropInput"].outputs[0].type.shape == ("N", 16, 16, 5)
    assert by_src["Conv2DBackpropInput"].meta["macs"] == 8 * 8 * 4 * 3 * 3 * 5
    ein = by_src["Einsum"]
    assert ein.outputs[0].type.shape == ("N", 8, 8, 6) and ein.meta["macs"] == 8 * 8 * 4 * 6
    mm = next(n for n in g.nodes if n.op == "MatMul")          # Tensordot's MatMul
    assert mm.meta["macs"] == 8 * 8 * 4 * 6
