"""What changed inside one match: op, attributes, shapes, params, MACs and (on request) the
weight tensors themselves.

A pair's changes are of two kinds. Its own: op, attributes, weight shapes, params, weight
values; and shape-only: its input/output shapes and the MACs and activation memory that
follow from them, the mark a change upstream leaves downstream. ``status`` says which:
"same", "changed" (an own change) or "shapes" (shape-only).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import GraphscopeError
from ..ir.graph import Node, Value
from .match import Match, boundary_inputs, boundary_outputs, data_inputs, weight_inputs

# attributes adapters keep for tooltips and round trips, not part of the op's meaning
PRIVATE_ATTR_PREFIXES = ("caffe_", "torch_", "tf_", "keras_")
# ONNX defaults: an attribute spelled out with its default value is no change
DEFAULTS = {"group": 1, "auto_pad": "NOTSET", "transA": 0, "transB": 0, "alpha": 1.0,
            "beta": 1.0, "ceil_mode": 0, "storage_order": 0, "count_include_pad": 0,
            "keepdims": 1, "noop_with_empty_axes": 0, "stash_type": 1}
ALL_ONES = ("strides", "dilations")
ALL_ZEROS = ("pads",)
OWN = ("op", "attrs", "weight_shapes", "params", "weights")
RTOL = 1e-4  # weights agree when max |a - b| <= RTOL * max |a| (+ a tiny floor)


def comparable_attrs(n: Node) -> dict[str, Any]:
    """The node's attributes, less framework-private ones and those at their ONNX default."""
    out = {}
    for k, v in n.attrs.items():
        if k.startswith(PRIVATE_ATTR_PREFIXES) or (k in DEFAULTS and _same(v, DEFAULTS[k])):
            continue
        if isinstance(v, (list, tuple)) and v and all(isinstance(x, (int, float)) for x in v):
            if (k in ALL_ONES and all(x == 1 for x in v)) or (k in ALL_ZEROS and
                                                               all(x == 0 for x in v)):
                continue
        out[k] = v
    return out


def _same(x, y) -> bool:
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        try:
            return np.array_equal(np.asarray(x), np.asarray(y))
        except (TypeError, ValueError):
            return False
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return len(x) == len(y) and all(_same(p, q) for p, q in zip(x, y))
    if isinstance(x, float) or isinstance(y, float):
        try:
            return abs(float(x) - float(y)) <= 1e-7 * max(1.0, abs(float(x)))
        except (TypeError, ValueError):
            return False
    return x == y


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist() if v.size <= 16 else f"array{list(v.shape)}"
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def _shape(v: Value):
    s = v.type.shape
    return None if s is None else list(s)


def _sum(nodes: list[Node], key: str):
    """Sum of a per-node figure; unknown (None) when any node's is unknown."""
    total = 0
    for n in nodes:
        x = n.meta.get(key)
        if x is None:
            return None
        total += x
    return total


def compare(m: Match, weights: bool = False, rtol: float = RTOL) -> dict:
    """The changes of one match, as the JSON 'pairs' entry."""
    changes: dict[str, Any] = {}
    if not m.is_group:
        a, b = m.a[0], m.b[0]
        if a.op != b.op:
            changes["op"] = [a.op, b.op]
        aa, ab = comparable_attrs(a), comparable_attrs(b)
        attrs = {k: [_jsonable(aa.get(k)), _jsonable(ab.get(k))]
                 for k in sorted(set(aa) | set(ab)) if not _same(aa.get(k), ab.get(k))}
        if attrs:
            changes["attrs"] = attrs
        wa, wb = [_shape(v) for v in weight_inputs(a)], [_shape(v) for v in weight_inputs(b)]
        if wa != wb:
            changes["weight_shapes"] = [wa, wb]
        ins = [[_shape(v) for v in data_inputs(a)], [_shape(v) for v in data_inputs(b)]]
        outs = [[_shape(v) for v in a.outputs], [_shape(v) for v in b.outputs]]
        for key in ("params", "macs", "activation_bytes"):
            x, y = a.meta.get(key), b.meta.get(key)
            if x != y:
                changes[key] = [x, y]
    else:  # a lowering or a fusion: only its boundary is comparable, not its inner cost
        ins = [[_shape(v) for v in boundary_inputs(m.a)], [_shape(v) for v in boundary_inputs(m.b)]]
        outs = [[_shape(v) for v in boundary_outputs(m.a)],
                [_shape(v) for v in boundary_outputs(m.b)]]
    if ins[0] != ins[1]:
        changes["inputs"] = ins
    if outs[0] != outs[1]:
        changes["outputs"] = outs
    entry: dict[str, Any] = {"a": [n.name for n in m.a], "b": [n.name for n in m.b],
                             "match": m.how, "ops": [[n.op for n in m.a], [n.op for n in m.b]]}
    if weights:
        report, unequal = compare_weights(m, rtol)
        entry["weights"] = report
        if unequal:
            changes["weights"] = unequal
    entry["changes"] = changes
    own = any(k in changes for k in OWN)
    entry["status"] = "changed" if own else ("shapes" if changes else "same")
    return entry


def _array(v: Value):
    """The weight as float64, or None when the model came without weight data."""
    try:
        return np.asarray(v.data.array, dtype=np.float64)
    except (GraphscopeError, TypeError, ValueError):
        return None


def weight_distance(xa, xb) -> tuple[float, bool] | None:
    """Max |a - b| and whether B is A's transpose (a Gemm's (out, in) weight exported for
    MatMul as (in, out); for a square one the shape cannot tell). None: not comparable."""
    candidates = []
    if xa.shape == xb.shape:
        candidates.append((xb, False))
    if xa.ndim == 2 and xa.shape == xb.T.shape:
        candidates.append((xb.T, True))
    if not candidates and xa.size == xb.size:  # the same values in another layout
        candidates.append((xb.reshape(xa.shape), False))
    best = None
    for x, transposed in candidates:
        d = float(np.max(np.abs(xa - x))) if xa.size else 0.0
        if best is None or d < best[0]:
            best = (d, transposed)
    return best


def pair_weights(m: Match, arrays: dict) -> tuple[list, list[Value], list[Value]]:
    """Weights of A and B paired: by name; the rest each with the closest B tensor of its
    size (by value when both have data, else by shape in order)."""
    wa = list({id(v): v for n in m.a for v in weight_inputs(n)}.values())
    wb = list({id(v): v for n in m.b for v in weight_inputs(n)}.values())
    by_name = {v.name: v for v in wb}
    pairs, left_a, used = [], [], set()
    for v in wa:
        o = by_name.get(v.name)
        if o is not None and id(o) not in used:
            pairs.append((v, o))
            used.add(id(o))
        else:
            left_a.append(v)
    left_b = [v for v in wb if id(v) not in used]
    rest_a = []
    for v in left_a:
        best, best_d = None, None
        for o in left_b:
            if o.data.size != v.data.size:
                continue
            xa, xb = arrays.get(id(v)), arrays.get(id(o))
            if xa is None or xb is None:
                d = 0.0 if o.data.shape == v.data.shape else None
            else:
                dist = weight_distance(xa, xb)
                d = None if dist is None else dist[0]
            if d is not None and (best_d is None or d < best_d):
                best, best_d = o, d
        if best is None:
            rest_a.append(v)
        else:
            pairs.append((v, best))
            left_b.remove(best)
    return pairs, rest_a, left_b


def compare_weights(m: Match, rtol: float = RTOL) -> tuple[dict, list[str]]:
    """{A weight name: {"b", "shape", "max_abs", "max_rel", "equal"}} and the unequal names.
    Weights with no counterpart are listed under "only_a"/"only_b" entries, not compared."""
    arrays = {id(v): _array(v) for n in m.a + m.b for v in weight_inputs(n)}
    pairs, rest_a, rest_b = pair_weights(m, arrays)
    out: dict[str, Any] = {}
    unequal = []
    for va, vb in pairs:
        xa, xb = arrays[id(va)], arrays[id(vb)]
        if xa is None or xb is None:
            out[va.name] = {"b": vb.name, "shape": list(va.data.shape), "max_abs": None,
                            "max_rel": None, "equal": None}  # no data: unknown, not equal
            continue
        dist = weight_distance(xa, xb)
        if dist is None:
            out[va.name] = {"b": vb.name, "shape": [list(xa.shape), list(xb.shape)],
                            "max_abs": None, "max_rel": None, "equal": False}
            unequal.append(va.name)
            continue
        diff, transposed = dist
        scale = float(np.max(np.abs(xa))) if xa.size else 0.0
        rel = diff / scale if scale > 0 else (0.0 if diff == 0 else None)  # None: A is all zero
        equal = diff <= rtol * scale + 1e-12
        out[va.name] = {"b": vb.name, "shape": list(xa.shape), "max_abs": diff,
                        "max_rel": rel, "equal": bool(equal)}
        if transposed:
            out[va.name]["transposed"] = True
        if not equal:
            unequal.append(va.name)
    if rest_a:
        out["only_a"] = [v.name for v in rest_a]
    if rest_b:
        out["only_b"] = [v.name for v in rest_b]
    return out, unequal
