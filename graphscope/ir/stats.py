"""Per-node cost: parameters, multiply-accumulates (MACs) and output activation bytes.

Parameters are the elements of the floating-point weights a node reads (shared weights are
counted once in the totals). MACs follow the textbook formulas and are counted for the ops
that multiply-accumulate; data movement and elementwise ops cost 0 MACs. Symbolic dims (a
batch 'N') count as 1, as per-sample figures are the ones people compare.
"""
from __future__ import annotations

from typing import Callable

from . import dims as D
from .graph import DTYPE_BYTES, Graph, Node
from .ops import attr, category
from ..registry import keyed_registry

MacRule = Callable[[Node], "int | None"]
MAC_RULES: dict[str, MacRule] = {}


mac_rule = keyed_registry(MAC_RULES)


def _shape(v):
    return None if v is None else v.type.shape


def _n(shape) -> int | None:
    return D.numel(shape)


@mac_rule("Conv")
def _conv(node: Node):
    w, y = _shape(node.inputs[1]), _shape(node.outputs[0])
    out, k = _n(y), _n(w[1:]) if w is not None else None
    # each output element: Cin/group * prod(kernel) multiply-adds; w is [Cout, Cin/g, *k]
    return None if out is None or k is None else out * k


@mac_rule("ConvTranspose")
def _conv_transpose(node: Node):
    x, w = _shape(node.inputs[0]), _shape(node.inputs[1])
    if x is None or w is None:
        return None
    inp, k = _n(x), _n(w[1:])
    # each input element scatters into Cout/group * prod(kernel) outputs; w is [Cin, Cout/g, *k]
    return None if inp is None or k is None else inp * k


@mac_rule("Gemm")
def _gemm(node: Node):
    a, y = _shape(node.inputs[0]), _shape(node.outputs[0])
    if a is None or y is None or len(a) != 2:
        return None
    k = a[0] if attr(node, "transA") else a[1]
    out = _n(y)
    return None if out is None or D.numel((k,)) is None else out * D.numel((k,))


@mac_rule("MatMul")
def _matmul(node: Node):
    a, y = _shape(node.inputs[0]), _shape(node.outputs[0])
    if a is None or y is None or not a:
        return None
    out, k = _n(y), D.numel((a[-1],))
    return None if out is None or k is None else out * k


@mac_rule("Einsum")
def _einsum(node: Node):
    """One multiply-add per combination of all the equation's indices (two operands)."""
    from .shapes import einsum_sizes
    eq = (attr(node, "equation") or "").replace(" ", "")
    if "->" not in eq or "." in eq or len(node.inputs) != 2:
        return None
    sizes = einsum_sizes(eq.split("->")[0].split(","), [v and v.type for v in node.inputs])
    return None if sizes is None else D.numel(tuple(sizes.values()))


# A normalisation costs 1 MAC per output element however it arrives (docs/cost_model.md):
# decomposed into element-wise ops, that MAC is charged to the one Mul (or Div) that scales a
# tensor by a smaller factor computed from the 1/sqrt(variance + eps) (an Rsqrt or Sqrt,
# perhaps times gamma); the mean, the variance and the shift cost 0, as elsewhere.
NORM_ROOTS = {"Sqrt", "Rsqrt", "tf.Rsqrt", "torch.rsqrt", "aten.rsqrt"}
NORM_THROUGH = {"Mul", "Add", "Max", "Reciprocal", "Identity", "Reshape", "Unsqueeze",
                "Squeeze", "Expand", "Cast"}


@mac_rule("Mul", "Div")
def _norm_scale(node: Node):
    y = _shape(node.outputs[0])
    factors = node.inputs[1:2] if node.op == "Div" else node.inputs[:2]
    for v in factors:
        if _broadcast_to(_shape(v), y) and _from_norm_root(v, y, 4):
            return _n(y)
    return 0


def _broadcast_to(shape, out) -> bool:
    """``shape`` is a smaller factor broadcast over ``out`` (per channel, per position)."""
    if shape is None or out is None or _n(out) is None:
        return False
    padded = (1,) * (len(out) - len(shape)) + tuple(shape)
    return len(shape) <= len(out) and padded != tuple(out)


def _from_norm_root(v, out, depth: int) -> bool:
    p = v.producer if v is not None else None
    if p is None or depth == 0:
        return False
    if p.op in NORM_ROOTS:
        return True
    return p.op in NORM_THROUGH and any(
        _broadcast_to(_shape(i), out) and _from_norm_root(i, out, depth - 1)
        for i in p.inputs if i is not None)


@mac_rule("BatchNormalization", "InstanceNormalization", "LayerNormalization",
          "GroupNormalization")
def _norm(node: Node):
    # folded to one scale-and-shift per element at inference time
    return _n(_shape(node.outputs[0]))


@mac_rule("LSTM", "GRU", "RNN")
def _recurrent(node: Node):
    # W is [dirs, gates*hidden, input] and R [dirs, gates*hidden, hidden]: every step of every
    # sequence multiplies the input by W and the previous state by R.
    x, w, r = (_shape(node.inputs[i]) for i in range(3))
    if x is None or len(x) != 3:
        return None
    steps, nw, nr = _n(x[:2]), _n(w), _n(r)
    return None if steps is None or nw is None or nr is None else steps * (nw + nr)


@mac_rule("Attention")
def _attention(node: Node):
    q, k, v = (_shape(node.inputs[i]) for i in range(3))
    if q is None or k is None or v is None:
        return None
    # Q K^T and then softmax(.) V, per head
    qk = D.numel(q[:-1]) and D.numel(q[:-1]) * D.numel(k[-2:-1]) * D.numel(q[-1:])
    av = D.numel(q[:-1]) and D.numel(q[:-1]) * D.numel(k[-2:-1]) * D.numel(v[-1:])
    return None if qk is None or av is None else qk + av


# Float inputs that are settings or statistics, not learned: BN running mean/var, Resize
# scales, Clip bounds, Pad values. (Integer inputs never count.)
NON_PARAM_INPUTS = {"BatchNormalization": {3, 4}, "Resize": {1, 2, 3}, "Upsample": {1},
                    "Clip": {1, 2}, "Pad": {1, 2, 3}, "Slice": {1, 2, 3, 4}, "Reshape": {1},
                    "Expand": {1}, "Tile": {1}, "Range": {0, 1, 2}, "TopK": {1}}


def param_inputs(node: Node) -> list:
    """The weights of ``node`` that count as parameters: floating point, not a Constant node's
    value, not a setting input (NON_PARAM_INPUTS), not a scalar of an elementwise op."""
    skip = NON_PARAM_INPUTS.get(node.op, ())
    scalar_ok = category(node.op) != "elementwise"
    return [v for i, v in enumerate(node.inputs)
            if v is not None and v.data is not None
            and (v.meta.get("counted")  # the framework counts it (Keras: every weight)
                 or (i not in skip and v.data.dtype.startswith(("float", "bfloat"))
                     and not v.meta.get("constant") and (scalar_ok or v.data.size > 1)))]


def node_params(node: Node) -> int:
    return sum(v.data.size for v in param_inputs(node))


def node_activation_bytes(node: Node) -> int | None:
    total = 0
    for v in node.outputs:
        if v.omitted:
            continue
        n = D.numel(v.type.shape)
        if n is None:
            return None
        total += n * DTYPE_BYTES.get(v.type.dtype or "float32", 4)
    return total


def compute_stats(graph: Graph) -> Graph:
    """Store params, macs and activation_bytes in every node's meta (subgraphs too)."""
    for _, node in graph.walk():
        node.meta["params"] = node_params(node)
        rule = MAC_RULES.get(node.op)
        try:
            node.meta["macs"] = rule(node) if rule else 0
        except (TypeError, IndexError, ValueError):
            node.meta["macs"] = None
        node.meta["activation_bytes"] = node_activation_bytes(node)
    return graph


def totals(graph: Graph) -> dict[str, int | None]:
    """Model totals. Weights shared by several nodes count once; 'unknown_macs' counts the
    nodes whose MACs could not be known (unknown shapes). An unknown cost is never added as
    0: 'macs' (and 'activation_bytes') is None when any node's is unknown, and
    'macs_known' / 'activation_bytes_known' hold the sum over the nodes that are known."""
    seen: set[int] = set()
    params = macs = act = unknown = unknown_act = nodes = 0
    for _, node in graph.walk():
        nodes += 1
        for v in param_inputs(node):
            if id(v) not in seen:
                seen.add(id(v))
                params += v.data.size
        m = node.meta.get("macs")
        if m is None:
            unknown += 1 if node.op in MAC_RULES else 0
        else:
            macs += m
        a = node.meta.get("activation_bytes")
        unknown_act += a is None
        act += a or 0
    return {"nodes": nodes, "params": params, "macs": None if unknown else macs,
            "activation_bytes": None if unknown_act else act, "unknown_macs": unknown,
            "macs_known": macs, "activation_bytes_known": act}
