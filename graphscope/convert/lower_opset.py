"""Canonical ops newer than the target opset, spelled out with older ONNX ops
(Attention arrived in opset 23, Gelu in 20)."""
from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from .to_onnx import lowering


@lowering("Attention")
def _attention(node, helper, opset):
    """ONNX Attention exists from opset 23; before it, the same computation spelled out:
    softmax(Q K^T * scale + mask) V, for [B, heads, S, D] inputs."""
    names = [None if v is None else v.name for v in node.inputs]
    out = node.outputs[0].name
    if opset >= 23:
        return [helper.make_node("Attention", [n or "" for n in names], [out], name=node.name,
                                 **dict(node.attrs))], []
    q, k, v = names[:3]
    mask = names[3] if len(names) > 3 else None
    head = node.inputs[0].type.shape[-1]
    scale = node.attrs.get("scale") or 1.0 / float(np.sqrt(head))
    p = node.name
    inits = [numpy_helper.from_array(np.array(scale, np.float32), f"{p}/scale")]
    nodes = [helper.make_node("Transpose", [k], [f"{p}/kt"], perm=[0, 1, 3, 2], name=f"{p}/kT"),
             helper.make_node("MatMul", [q, f"{p}/kt"], [f"{p}/qk"], name=f"{p}/QK"),
             helper.make_node("Mul", [f"{p}/qk", f"{p}/scale"], [f"{p}/scores"], name=f"{p}/Scale")]
    scores = f"{p}/scores"
    if node.attrs.get("is_causal"):
        from ..errors import UnsupportedError
        raise UnsupportedError(f"node '{node.name}': causal attention needs opset 23 (--opset 23)")
    if mask and node.inputs[3].type.dtype == "bool":  # True: may attend; else -inf
        inits.append(numpy_helper.from_array(np.array(-np.inf, np.float32), f"{p}/ninf"))
        nodes.append(helper.make_node("Where", [mask, scores, f"{p}/ninf"], [f"{p}/masked"],
                                      name=f"{p}/Mask"))
        scores = f"{p}/masked"
    elif mask:
        nodes.append(helper.make_node("Add", [scores, mask], [f"{p}/masked"], name=f"{p}/Mask"))
        scores = f"{p}/masked"
    nodes += [helper.make_node("Softmax", [scores], [f"{p}/probs"], axis=-1, name=f"{p}/Softmax"),
              helper.make_node("MatMul", [f"{p}/probs", v], [out], name=f"{p}/AV")]
    return nodes, inits


@lowering("Gelu")
def _gelu(node, helper, opset):
    """0.5 x (1 + erf(x / sqrt 2)), or the tanh approximation, before opset 20."""
    x, out, p = node.inputs[0].name, node.outputs[0].name, node.name
    approximate = node.attrs.get("approximate", "none")
    if opset >= 20:
        return [helper.make_node("Gelu", [x], [out], name=p, approximate=approximate)], []
    c = lambda name, value: numpy_helper.from_array(np.array(value, np.float32), f"{p}/{name}")
    if approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        inits = [c("k", 0.044715), c("s", float(np.sqrt(2 / np.pi))), c("one", 1.0),
                 c("half", 0.5), c("three", 3.0)]
        nodes = [helper.make_node("Pow", [x, f"{p}/three"], [f"{p}/x3"]),
                 helper.make_node("Mul", [f"{p}/x3", f"{p}/k"], [f"{p}/kx3"]),
                 helper.make_node("Add", [x, f"{p}/kx3"], [f"{p}/inner"]),
                 helper.make_node("Mul", [f"{p}/inner", f"{p}/s"], [f"{p}/arg"]),
                 helper.make_node("Tanh", [f"{p}/arg"], [f"{p}/t"])]
    else:
        inits = [c("rsqrt2", float(1 / np.sqrt(2))), c("one", 1.0), c("half", 0.5)]
        nodes = [helper.make_node("Mul", [x, f"{p}/rsqrt2"], [f"{p}/arg"]),
                 helper.make_node("Erf", [f"{p}/arg"], [f"{p}/t"])]
    nodes += [helper.make_node("Add", [f"{p}/t", f"{p}/one"], [f"{p}/onep"]),
              helper.make_node("Mul", [x, f"{p}/onep"], [f"{p}/xs"]),
              helper.make_node("Mul", [f"{p}/xs", f"{p}/half"], [out])]
    return nodes, inits
