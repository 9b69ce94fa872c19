"""ONNX's node test suite through graphscope's shape inference, torch backend, generated
PyTorch source and TensorFlow builder (tests/zoo/onnx_node_suite.py runs the cases).

Two kinds of checks: totals with thresholds (no crash, few wrong, enough pass), and every
case in tests/conformance/known_good.json (written by `benchmarks/conformance.py
--write-known` from a reviewed run) passes again, one test per case so that a regression
names it. The TF column runs on a fixed seeded sample here; benchmarks/conformance.py --tf all
runs all of it."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.zoo import onnx_node_suite as suite

KNOWN = json.loads((Path(__file__).parent / "known_good.json").read_text())
TF_SAMPLE = 200  # the seeded sample benchmarks/conformance.py runs by default


@pytest.fixture(scope="module")
def results():
    """case id -> backend -> Outcome, every case run once (TF on the sample)."""
    pytest.importorskip("torch")
    cases = suite.load_suite().cases
    tf_ids = {c.id for c in suite.sample(cases, TF_SAMPLE)}
    tf_ok = _has_tf()
    out = {}
    for case in cases:
        backends = [b for b in suite.BACKENDS if b != "tf" or (tf_ok and case.id in tf_ids)]
        out[case.id] = suite.check_case(case, backends)
    return out


def _has_tf() -> bool:
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


def _totals(results, backend: str, ids=None) -> Counter:
    return Counter(r[backend].status for cid, r in results.items()
                   if backend in r and (ids is None or cid in ids))


def _listing(results, backend: str, status: str) -> str:
    return "; ".join(f"{cid}: {r[backend].detail}" for cid, r in results.items()
                     if backend in r and r[backend].status == status)[:3000]


def test_suite_is_generated_with_skips_counted():
    loaded = suite.load_suite()
    assert len(loaded.cases) > 1700
    assert set(loaded.skipped) <= {"sequence", "optional", "map", "no model"}
    assert sum(loaded.skipped.values()) > 0  # the sequence/optional cases exist and are counted
    ids = [c.id for c in loaded.cases]
    assert len(ids) == len(set(ids))


def test_strip_output_shapes_keeps_types_and_drops_shapes():
    case = next(c for c in suite.iter_cases() if c.id == "test_conv_with_strides_padding")
    stripped = suite.strip_output_shapes(case.model)
    out = stripped.graph.output[0].type.tensor_type
    assert out.elem_type == case.model.graph.output[0].type.tensor_type.elem_type
    assert not out.HasField("shape")
    assert case.model.graph.output[0].type.tensor_type.HasField("shape")  # a copy


def test_compare_tells_wrong_from_right():
    import numpy as np
    case = next(c for c in suite.iter_cases() if c.id == "test_abs")
    assert suite.compare(case, [case.outputs[0].copy()]).status == "pass"
    off = case.outputs[0].copy()
    off.flat[3] += 0.5
    assert suite.compare(case, [off]).status == "wrong"
    assert suite.compare(case, [case.outputs[0].astype(np.float64)]).status == "wrong"


# The bars (docs/conformance.md has the measured figures): no crash; at most 5 wrong
# (measured: 2, the float32 inverse DFT's rounding noise against an atol of 1e-7); >= 95% of
# the cases PyTorch can express (measured 98.7%); the source passes all the interpreter does.
MAX_CRASHES = {"torch": 0, "source": 0, "tf": 0}
MAX_WRONG = {"torch": 5, "source": 5}
MIN_PASS_SHARE = {"torch": 0.95, "source": 0.95}  # of the cases PyTorch can express
MAX_SOURCE_GAP = 0  # cases the interpreter passes and the source does not


@pytest.mark.parametrize("backend", ["torch", "source", "tf"])
def test_crashes_stay_within_bounds(results, backend):
    assert _totals(results, backend)["crash"] <= MAX_CRASHES[backend], \
        _listing(results, backend, "crash")


@pytest.mark.parametrize("backend", ["torch", "source"])
def test_torch_backends_pass_what_pytorch_can_express(results, backend):
    in_scope = {c.id for c in suite.iter_cases() if not c.torch_cannot()}
    t = _totals(results, backend, in_scope)
    assert t["wrong"] <= MAX_WRONG[backend], _listing(results, backend, "wrong")
    assert t["pass"] >= MIN_PASS_SHARE[backend] * len(in_scope), t


def test_source_passes_what_the_torch_backend_passes(results):
    missed = [cid for cid, r in results.items()
              if r["torch"].status == "pass" and r["source"].status != "pass"]
    assert len(missed) <= MAX_SOURCE_GAP, "; ".join(
        f"{c}: {results[c]['source'].detail}" for c in missed)[:3000]
    # never the other way round: the source only calls what the interpreter runs
    assert not [cid for cid, r in results.items()
                if r["source"].status == "pass" and r["torch"].status != "pass"]


def test_tf_sample_totals(results):
    if not _has_tf():
        pytest.skip("tensorflow not installed")
    in_scope = {c.id for c in suite.iter_cases() if not c.tf_cannot()}
    t = _totals(results, "tf", in_scope)
    assert t["pass"] >= 0.90 * sum(t.values()), t  # the bar: 90% of the in-scope cases
    assert t["wrong"] == 0 and t["crash"] == 0, _listing(results, "tf", "wrong")


def test_shapes_never_wrong(results):
    t = _totals(results, "shapes")
    assert t["wrong"] == 0 and t["crash"] == 0, _listing(results, "shapes", "wrong")


def test_shapes_known_wherever_values_do_not_decide_them(results):
    """The issue's bar: equal on >= 98%; unknown only where a size depends on a value."""
    t = _totals(results, "shapes")
    static = sum(t.values()) - t["value-dependent"]
    assert t["pass"] >= 0.98 * static, (t, _listing(results, "shapes", "unknown"))


def _known(backend: str):
    return [pytest.param(backend, cid, id=f"{backend}-{cid}") for cid in KNOWN[backend]]


@pytest.mark.parametrize("backend,case_id", _known("shapes") + _known("torch")
                         + _known("source") + _known("tf"))
def test_known_good_case_passes(results, backend, case_id):
    if backend == "tf" and not _has_tf():
        pytest.skip("tensorflow not installed")
    outcome = results[case_id].get(backend)
    assert outcome is not None, f"{case_id} is not in this run's {backend} column"
    assert outcome.status == "pass", outcome.detail
