"""ONNX's own node test suite as graphscope test cases, and the per-backend checks on them.

The onnx wheel no longer ships backend/test/data/node, so the cases are generated from onnx's
definitions: ``onnx.backend.test.case.node.collect_testcases()`` after ``np.random.seed(0)``
(about 1,880 cases: a one-node model, its inputs, its expected outputs). Cases whose graph
inputs or outputs are sequences, optionals or maps are skipped and counted.

Each case's id is onnx's test name (``test_abs``, ``test_resize_upsample_scales_cubic``):
unique, and stable across runs. ``check_case`` runs one case through the backends:

- ``shapes``: graphscope's normal loading (with its shape inference) of the model with the
  declared output shapes removed, compared with the expected outputs' shapes;
- ``torch``: ``convert(graph, to="pytorch")``, the interpreter module probes and explanations run;
- ``source``: the generated readable PyTorch source, built and run;
- ``tf``: the TensorFlow builder.

Each yields an Outcome: pass | wrong | refused (an UnsupportedError) | crash (anything else),
and for shapes: pass (equal) | value-dependent | unknown | wrong | crash, where
value-dependent is an unknown that only an input's value could settle: the op's output size
depends on data (VALUE_DEPENDENT_OPS), or the shapes come out equal once the case's small
inputs (shape operands, scales, sizes given as graph inputs) are bound to their values.
"""
from __future__ import annotations

import functools
import random
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

BACKENDS = ("shapes", "torch", "source", "tf")
# ops whose outputs are random: compared by shape and dtype only
RANDOM_OPS = {"Bernoulli", "RandomNormal", "RandomNormalLike", "RandomUniform",
              "RandomUniformLike", "Multinomial"}
LOW_PRECISION = {"float16", "bfloat16"}
# ops whose output sizes depend on the values of their data inputs, not only on shapes
VALUE_DEPENDENT_OPS = {"NonZero", "Unique", "NonMaxSuppression", "Compress", "StringSplit",
                       "StringNormalizer", "ImageDecoder"}
BOUND_MAX = 64  # inputs up to this many elements are bound to their values for that check
# what PyTorch cannot express: cases using these are out of the torch backends' scope (a
# refusal there is right); every other refusal counts against the backend
TORCH_CANNOT_OPS = {
    # strings
    "StringConcat", "StringNormalizer", "StringSplit", "RegexFullMatch", "TfIdfVectorizer",
    # decoding images from bytes
    "ImageDecoder",
    # training ops (ai.onnx.preview.training)
    "Adagrad", "Adam", "Momentum", "Gradient"}
TORCH_CANNOT_DOMAINS = {"ai.onnx.ml", "ai.onnx.preview.training"}
# element types with no torch arithmetic (sub-byte integers and floats, strings)
TORCH_CANNOT_DTYPES = {"int4", "uint4", "int2", "uint2", "float4_e2m1fn", "str", "object"}
# the TF converter's scope: the ops the torch backend covers (above), less the element types
# TensorFlow has no casts or arithmetic for (it holds float8 e4m3fn / e5m2 only)
TF_CANNOT_DTYPES = {"float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu"}
ULPS = 2  # low-precision rounding within this many units in the last place is not wrong


@dataclass
class Case:
    id: str
    op: str                      # the operator the case tests (the unexpanded node's op)
    model: object                # onnx.ModelProto
    inputs: list                 # numpy arrays, in graph-input order
    outputs: list                # expected numpy arrays, in graph-output order
    rtol: float
    atol: float
    random: bool = False         # compare by shape and dtype only
    ops: tuple = ()              # every op type in the graph (expanded cases have several)
    domains: tuple = ()          # every node's domain ('' for ai.onnx)

    def torch_cannot(self) -> str:
        """Why PyTorch cannot express this case ('' when it can)."""
        ops = set(self.ops) & TORCH_CANNOT_OPS
        if ops:
            return f"op {sorted(ops)[0]}"
        domains = set(self.domains) & TORCH_CANNOT_DOMAINS
        if domains:
            return f"domain {sorted(domains)[0]}"
        for a in self.inputs + self.outputs:
            kind = "str" if a.dtype.kind in "OSU" else str(a.dtype)
            if kind in TORCH_CANNOT_DTYPES:
                return f"dtype {kind}"
        return ""

    def tf_cannot(self) -> str:
        """Why the TF converter's column leaves this case out ('' when in scope)."""
        why = self.torch_cannot()
        if why:
            return why
        for a in self.inputs + self.outputs:
            if str(a.dtype) in TF_CANNOT_DTYPES:
                return f"dtype {a.dtype} (TensorFlow has no casts for it)"
        return ""


@dataclass
class Outcome:
    status: str                  # pass | wrong | refused | crash | unknown
    detail: str = ""


@dataclass
class Suite:
    cases: list[Case]
    skipped: Counter = field(default_factory=Counter)  # kind (sequence, optional, map) -> n


# -- generating the cases ------------------------------------------------------------------------
def _value_kind(value_info) -> str:
    t = value_info.type
    return t.WhichOneof("value") or "tensor_type"


def _array(x):
    import onnx
    if isinstance(x, onnx.TensorProto):
        return onnx.numpy_helper.to_array(x)
    return np.asarray(x)


@functools.lru_cache(maxsize=1)
def load_suite() -> Suite:
    """Every case, generated once per process (about 20 s)."""
    from onnx.backend.test.case import node as node_cases
    np.random.seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = node_cases.collect_testcases(None)
    op_of = {c.name: c.model.graph.node[0].op_type for c in raw if c.model is not None
             and len(c.model.graph.node) == 1}
    suite = Suite([])
    for c in raw:
        if c.model is None or not c.data_sets:
            suite.skipped["no model"] += 1
            continue
        g = c.model.graph
        kinds = {_value_kind(v) for v in list(g.input) + list(g.output)} - {"tensor_type"}
        if kinds:
            suite.skipped[sorted(kinds)[0].replace("_type", "")] += 1
            continue
        base = c.name[:-len("_expanded")] if c.name.endswith("_expanded") else c.name
        base = base.replace("_expanded_ver18", "")
        op = op_of.get(base) or op_of.get(c.name) or g.node[0].op_type
        ins, outs = c.data_sets[0]
        ops = tuple(sorted({n.op_type for n in g.node}))
        domains = tuple(sorted({n.domain for n in g.node}))
        rand = op in RANDOM_OPS or "training_dropout" in c.name and "zero_ratio" not in c.name
        suite.cases.append(Case(c.name, op, c.model, [_array(x) for x in ins],
                                [_array(x) for x in outs], c.rtol, c.atol, rand, ops,
                                domains))
    return suite


def iter_cases():
    """Every in-scope case, in onnx's order."""
    yield from load_suite().cases


def case_ids() -> list[str]:
    return [c.id for c in iter_cases()]


def by_id(case_id: str) -> Case:
    return {c.id: c for c in iter_cases()}[case_id]


def sample(cases: list[Case], n: int, seed: int = 0) -> list[Case]:
    """A fixed, seeded sample of ``n`` cases (all of them when there are fewer)."""
    if n >= len(cases):
        return list(cases)
    rng = random.Random(seed)
    return sorted(rng.sample(list(cases), n), key=lambda c: c.id)


def strip_output_shapes(model):
    """A copy of ``model`` whose graph outputs keep their element type but no shape."""
    import onnx
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for out in m.graph.output:
        if out.type.HasField("tensor_type"):
            out.type.tensor_type.ClearField("shape")
    del m.graph.value_info[:]
    return m


# -- comparing -------------------------------------------------------------------------------------
def _numpy(x):
    """A backend's output (torch / TF tensor or array) as (numpy array, dtype name): types
    numpy lacks (bfloat16, float8) come back as float32 with their own name."""
    if hasattr(x, "detach"):  # torch
        x = x.detach()
        name = str(x.dtype).replace("torch.", "")
        try:
            return x.numpy(), None
        except TypeError:
            return x.float().numpy(), name
    if hasattr(x, "numpy"):  # TF eager tensor
        x = x.numpy()
    return np.asarray(x), None


def _dtype_name(a: np.ndarray) -> str:
    return str(a.dtype)


def compare(case: Case, got: list) -> Outcome:
    """pass or wrong (with what differs) for a backend's outputs against the expected ones."""
    if len(got) != len(case.outputs):
        return Outcome("wrong", f"{len(got)} outputs, expected {len(case.outputs)}")
    for i, (want, have) in enumerate(zip(case.outputs, got)):
        have, note = _numpy(have)
        want_dtype = _dtype_name(want)
        have_dtype = note or _dtype_name(have)
        if want_dtype != have_dtype:
            return Outcome("wrong", f"output {i}: dtype {have_dtype}, expected {want_dtype}")
        if note:
            want = want.astype(np.float32)
        if tuple(have.shape) != tuple(want.shape):
            return Outcome("wrong", f"output {i}: shape {tuple(have.shape)}, expected "
                                    f"{tuple(want.shape)}")
        if case.random:
            continue
        try:
            problem = _differs(want, have, want_dtype, case.rtol, case.atol)
        except (TypeError, ValueError) as exc:
            problem = f"cannot compare: {exc}"
        if problem:
            return Outcome("wrong", f"output {i}: {problem}")
    return Outcome("pass")


def _differs(want: np.ndarray, have: np.ndarray, dtype: str, rtol: float, atol: float) -> str:
    if want.dtype.kind in "OSU":
        return "" if np.array_equal(want.astype(str), have.astype(str)) else "strings differ"
    if want.dtype.kind in "biu" or dtype in ("bool",):
        bad = want != have
        if not bad.any():
            return ""
        i = tuple(np.argwhere(bad)[0])
        return f"{int(bad.sum())} of {want.size} differ (at {i}: {have[i]} vs {want[i]})"
    w = want.astype(np.float64)
    h = have.astype(np.float64)
    both_nan = np.isnan(w) & np.isnan(h)
    close = np.isclose(h, w, rtol=rtol, atol=atol) | both_nan | (w == h)
    if dtype in LOW_PRECISION or dtype.startswith("float8"):
        ulp = np.abs(w) * (2.0 ** -7 if dtype == "bfloat16" else 2.0 ** -10) + 1e-7
        if dtype.startswith("float8"):  # three mantissa bits at most
            ulp = np.abs(w) * 2.0 ** -3 + 1e-7
        close |= np.abs(h - w) <= ULPS * ulp
    if close.all():
        return ""
    i = tuple(np.argwhere(~close)[0])
    return (f"{int((~close).sum())} of {want.size} differ (at {i}: {have[i]} vs {want[i]}, "
            f"max abs diff {np.nanmax(np.abs(h - w)):.3g})")


# -- running one case -----------------------------------------------------------------------------
def outcome_of_error(exc: BaseException) -> Outcome:
    """A refusal is an UnsupportedError (a named, one-line 'cannot'); anything else crashed."""
    from graphscope.errors import GraphscopeError, MissingDependencyError, UnsupportedError
    line = (str(exc).strip().splitlines() or [""])[0][:300]
    if isinstance(exc, (UnsupportedError, MissingDependencyError)):
        return Outcome("refused", line)
    kind = type(exc).__name__ if not isinstance(exc, GraphscopeError) else \
        f"{type(exc).__name__}(GraphscopeError)"
    return Outcome("crash", f"{kind}: {line}")


def check_shapes(case: Case) -> Outcome:
    """graphscope's loading and shape inference with the declared output shapes removed."""
    import graphscope
    try:
        graph = graphscope.load(strip_output_shapes(case.model))
    except Exception as exc:  # noqa: BLE001 - every failure is an outcome here
        return outcome_of_error(exc)
    unknown = False
    for i, (v, want) in enumerate(zip(graph.outputs, case.outputs)):
        shape = v.type.shape
        if shape is None or any(not isinstance(d, int) for d in shape):
            if shape is not None and len(shape) != want.ndim:
                return Outcome("wrong", f"output {i}: rank {len(shape)}, expected {want.ndim}")
            unknown = True
            continue
        if tuple(shape) != tuple(want.shape):
            return Outcome("wrong", f"output {i}: {tuple(shape)}, expected {tuple(want.shape)}")
    if not unknown:
        return Outcome("pass")
    if case.op in VALUE_DEPENDENT_OPS:
        return Outcome("value-dependent", f"{case.op}'s output size depends on its data")
    if _shapes_equal_once_bound(case):
        return Outcome("value-dependent", "equal once the small inputs are bound to values")
    return Outcome("unknown")


def _shapes_equal_once_bound(case: Case) -> bool:
    """Shape inference again with every small numeric input made an initializer."""
    import onnx.numpy_helper

    import graphscope
    model = strip_output_shapes(case.model)
    names = [v.name for v in model.graph.input]
    for name, arr in zip(names, case.inputs):
        if arr.dtype.kind in "iubf" and arr.size <= BOUND_MAX:
            model.graph.initializer.append(onnx.numpy_helper.from_array(arr, name))
    try:
        graph = graphscope.load(model)
    except Exception:  # noqa: BLE001 - then it stays unknown
        return False
    return all(v.type.shape is not None and tuple(v.type.shape) == tuple(want.shape)
               for v, want in zip(graph.outputs, case.outputs))


def load_graph(case: Case):
    import graphscope
    return graphscope.load(case.model)


def run_torch(case: Case, graph) -> Outcome:
    import torch

    import graphscope
    try:
        module = graphscope.convert(graph, to="pytorch")
        with torch.no_grad():
            out = module(*_torch_inputs(torch, case))
    except Exception as exc:  # noqa: BLE001
        return outcome_of_error(exc)
    return compare(case, list(out) if isinstance(out, (tuple, list)) else [out])


def run_source(case: Case, graph) -> Outcome:
    import torch

    from graphscope.convert import torch_source
    try:
        module = torch_source.instantiate(torch_source.generate(graph, "Case"))
        with torch.no_grad():
            out = module(*_torch_inputs(torch, case))
    except Exception as exc:  # noqa: BLE001
        return outcome_of_error(exc)
    return compare(case, list(out) if isinstance(out, (tuple, list)) else [out])


def run_tf(case: Case, graph) -> Outcome:
    from graphscope.convert.to_tf import build_tf_module
    try:
        module = build_tf_module(graph)
        out = module.run(*case.inputs)
        got = [out[v.name] for v in graph.outputs]
    except Exception as exc:  # noqa: BLE001
        return outcome_of_error(exc)
    return compare(case, got)


def _torch_inputs(torch, case: Case) -> list:
    out = []
    for a in case.inputs:
        kind = "str" if a.dtype.kind in "OSU" else str(a.dtype)
        if kind in TORCH_CANNOT_DTYPES:  # no torch tensor can hold it: nothing to feed
            from graphscope.errors import UnsupportedError
            raise UnsupportedError(f"an input of element type {kind} has no torch form")
        if str(a.dtype) == "bfloat16" or str(a.dtype).startswith("float8"):
            dtype = getattr(torch, str(a.dtype))  # bit for bit through the bytes
            # (ascontiguousarray makes a 0-d array 1-d: the reshape keeps scalars scalars)
            bits = np.ascontiguousarray(a).view(np.uint16 if a.dtype.itemsize == 2 else np.uint8)
            bits = bits.reshape(a.shape)
            out.append(torch.from_numpy(bits).view(dtype))
        else:
            out.append(torch.from_numpy(np.array(a)))
    return out


RUNNERS = {"torch": run_torch, "source": run_source, "tf": run_tf}


def check_case(case: Case, backends=BACKENDS) -> dict[str, Outcome]:
    """Each backend's outcome on one case. The model is loaded once for the runners."""
    result = {}
    if "shapes" in backends:
        result["shapes"] = check_shapes(case)
    runners = [b for b in backends if b in RUNNERS]
    if runners:
        try:
            graph = load_graph(case)
        except Exception as exc:  # noqa: BLE001
            failed = outcome_of_error(exc)
            return {**result, **{b: failed for b in runners}}
        for b in runners:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result[b] = RUNNERS[b](case, graph)
    return result
