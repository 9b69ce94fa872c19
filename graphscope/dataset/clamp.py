"""Relu and Clip made from their input: the statistics of a clamp of a probed value, without
fetching the clamped value from onnxruntime.

Every value onnxruntime hands over costs it a copy out of its blocked (NCHWc) layout and
keeps it from fusing the activation into the op before; ResNet-50's ReLUs are a quarter of
its activation values, and a MobileNetV2's ReLU6 (Clip 0..6) as many. Where a Relu or a Clip
with constant bounds follows a value that is probed too, the value's compiled pass also sums
clip(x, lo, hi) and counts the values below lo and above hi (``fused.batch_stats``), and the
rest follows from the value's own statistics (``clamped_of``). That is exact only if
onnxruntime clamps as ``clamped_values`` does, which ``is_exact`` checks once per process.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..ir.graph import Graph, Node

_EXACT: list[bool] = []


def clamped_values(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Clip as onnxruntime computes it: x < lo gives lo, x > hi gives hi; the rest, -0 and
    NaN among them, stay as they are (Relu: lo 0, hi inf)."""
    if a.dtype.kind == "f":
        lo, hi = np.asarray(lo, a.dtype), np.asarray(hi, a.dtype)
    return np.where(a < lo, lo, np.where(a > hi, hi, a))


def clamped_of(low, high, zeros: int, hist: np.ndarray, below: int, above: int, lo: float,
               hi: float):
    """The clamped values' per-channel min and max, exact zeros and histogram, from the
    input's (``low``, ``high``, ``zeros``, ``hist``) and the numbers of its values below
    ``lo`` and above ``hi``; for an input without NaN or inf."""
    from .stats import bin_index
    out = hist.copy()
    position = _positions()
    for count, bound, side in ((below, lo, -1), (above, hi, 1)):
        if not count:
            continue
        target = int(bin_index(np.float32(bound))[0])
        # the bins wholly beyond the bound, in value order; -0 and +0 (bins N/2 and 0) are
        # equal values, so at a bound of 0 the bin of the other zero is only partly beyond
        beyond = position * side > position[target] * side
        partial = target
        if bound == 0:
            partial = position.size // 2 if side < 0 else 0
            beyond[partial] = False
        rest = count - int(hist[beyond].sum())  # those in the partial bin
        out[beyond] = 0
        out[partial] -= rest
        out[target] += count
    zero = (zeros if lo <= 0 <= hi else 0) + (below if lo == 0 else 0) + \
        (above if hi == 0 else 0)
    lo32, hi32 = np.float32(lo), np.float32(hi)
    return (np.minimum(np.maximum(low, lo32), hi32), np.minimum(np.maximum(high, lo32), hi32),
            zero, out)


@functools.cache
def _positions() -> np.ndarray:
    """Each histogram bin's place in value order (stats.bin_order)."""
    from .stats import bin_order
    order = bin_order()
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    return position


def clamps_of_probed_values(graph: Graph, probed: set[str], fetched: set[str]
                            ) -> dict[str, tuple]:
    """{Relu or Clip output: (its input, lo, hi)} where both are probed float32 values, the
    bounds are constants and the output is not ``fetched`` anyway (a model output); an
    input gives one clamp its statistics, and a clamp made from its input gives none. The
    runtime is checked (``is_exact``) only where there is such a clamp."""
    derived: dict[str, tuple] = {}
    taken: set[str] = set()
    for node in graph.nodes:
        bounds = _bounds(node)
        if bounds is None or not node.inputs or node.inputs[0] is None:
            continue
        x, y = node.inputs[0], node.outputs[0]
        if (y.name in probed and y.name not in fetched and x.name in probed
                and x.name not in derived
                and x.name not in taken and x.type.dtype == "float32"):
            derived[y.name] = (x.name, *bounds)
            taken.add(x.name)
    return derived if derived and is_exact() else {}


def _bounds(node: Node) -> tuple[float, float] | None:
    """(lo, hi) of a Relu, or of a Clip whose bounds are constants (attributes before opset
    11, inputs after); None otherwise."""
    if len(node.outputs) != 1:
        return None
    if node.op == "Relu" and len(node.inputs) == 1:
        return 0.0, math.inf
    if node.op != "Clip":
        return None
    bounds = []
    for i, name, default in ((1, "min", -math.inf), (2, "max", math.inf)):
        v = node.inputs[i] if len(node.inputs) > i else None
        if v is None:
            bounds.append(float(node.attrs.get(name, default)))
        elif v.data is not None and v.data.size == 1 and v.data.dtype == "float32":
            bounds.append(float(np.asarray(v.data.array).reshape(-1)[0]))
        else:  # a bound computed in the graph
            return None
    lo, hi = bounds
    return (lo, hi) if lo <= hi and not (math.isnan(lo) or math.isnan(hi)) else None


def is_exact() -> bool:
    """Whether onnxruntime's Relu and Clip here are ``clamped_values`` bit for bit, on NaN of
    either sign, signed zeros, infinities, denormals and values at and beyond the bounds, in
    the kernels' vectorised bodies and their tails. Checked once per process."""
    if not _EXACT:
        _EXACT.append(_check())
    return _EXACT[0]


def _check() -> bool:
    from onnx import TensorProto, helper, numpy_helper

    from .plan import make_session
    special = np.array([np.nan, -np.nan, -0.0, 0.0, np.inf, -np.inf, 1e-45, -1e-45, -1.5, 2.5,
                        6.0, 7.0, -2.0, 3e-39, -3e-39], np.float32)
    x = np.resize(special, 4 * 67 + 5)
    x[1::7] = np.random.default_rng(0).standard_normal(x[1::7].size) * 4
    cases = [("Relu", 0.0, math.inf), ("Clip", 0.0, 6.0), ("Clip", -1.5, 2.5)]
    nodes, outputs, weights = [], [], []
    for k, (op, lo, hi) in enumerate(cases):
        inputs = ["x"]
        if op == "Clip":
            inputs += [f"lo{k}", f"hi{k}"]
            weights += [numpy_helper.from_array(np.array(lo, np.float32), f"lo{k}"),
                        numpy_helper.from_array(np.array(hi, np.float32), f"hi{k}")]
        nodes.append(helper.make_node(op, inputs, [f"y{k}"]))
        outputs.append(helper.make_tensor_value_info(f"y{k}", TensorProto.FLOAT, [x.size]))
    graph = helper.make_graph(
        nodes, "clamps", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [x.size])],
        outputs, weights)
    try:
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        got = make_session(model.SerializeToString()).run(None, {"x": x})
    except Exception:  # noqa: BLE001 - an unusable runtime: every clamp is fetched
        return False
    return all(np.array_equal(y.view(np.uint32), clamped_values(x, lo, hi).view(np.uint32))
               for y, (_, lo, hi) in zip(got, cases))
