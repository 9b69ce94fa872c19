"""Our shape inference must agree with what onnxruntime actually computes, value by value."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest

import graphscope
from tests.zoo import onnx_models

SYMBOL_VALUES = {"N": 3}  # a batch size that is neither 1 nor any static dim in the zoo


def run_all_intermediates(model: onnx.ModelProto) -> dict[str, tuple]:
    """Expose every node output as a graph output and return the shapes ORT computes."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    known = {o.name for o in m.graph.output}
    for node in m.graph.node:
        for out in node.output:
            if out and out not in known:
                m.graph.output.append(onnx.ValueInfoProto(name=out))
                known.add(out)
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {}
    rng = np.random.default_rng(0)
    for i in sess.get_inputs():
        shape = [SYMBOL_VALUES.get(d, d) if isinstance(d, str) else d for d in i.shape]
        if i.type == "tensor(bool)":
            feeds[i.name] = np.array(True)
        else:
            feeds[i.name] = rng.standard_normal(shape).astype(np.float32)
    names = [o.name for o in sess.get_outputs()]
    return {n: a.shape for n, a in zip(names, sess.run(names, feeds))}


def concrete(shape):
    return tuple(SYMBOL_VALUES.get(d, d) if isinstance(d, str) else d for d in shape)


@pytest.mark.parametrize("name", [n for n in onnx_models.ALL if n != "if_model"])
def test_every_intermediate_shape_matches_onnxruntime(name):
    model = onnx_models.ALL[name]()
    actual = run_all_intermediates(model)
    graph = graphscope.load(model)
    checked = 0
    for node in graph.nodes:
        for v in node.outputs:
            assert v.type.shape is not None, f"{node.name}: no shape inferred for {v.name}"
            assert None not in v.type.shape, f"{node.name}: unknown dim in {v.type.shape}"
            assert concrete(v.type.shape) == actual[v.name], (node.name, v.name)
            checked += 1
    assert checked == len(actual)


def test_symbolic_batch_is_kept_through_shape_arithmetic():
    graph = graphscope.load(onnx_models.transformer_block())
    assert graph.node("/attn/q/Reshape").outputs[0].type.shape == ("N", 16, 4, 16)
    assert graph.node("/attn/scores/MatMul").outputs[0].type.shape == ("N", 4, 16, 16)
    assert graph.outputs[0].type.shape == ("N", 16, 64)


def test_if_output_takes_branch_shapes():
    graph = graphscope.load(onnx_models.if_model())
    assert graph.outputs[0].type.shape == (1, 4)
    branch = graph.node("branch")
    assert set(branch.subgraphs) == {"then_branch", "else_branch"}
    assert branch.subgraphs["then_branch"].nodes[0].op == "MatMul"
