"""Fuzzing every reader: mutated copies of a real small file of each format (byte-level and
structure-aware mutations, fixed seeds) must each end as a success or a one-line error with
exit 2: no internal error, no hang, no crash, no run over 2 GiB of memory.

This is the quick run for `make test`; `benchmarks/fuzz.py` runs thousands per format and
writes docs/reliability.md."""
import importlib.util
import json

import pytest

from tests.zoo.fuzz_runner import CLEAN, fuzz, read_once
from tests.zoo.fuzz_seeds import FORMATS

# cases per format in CI: a few hundred where a case costs milliseconds, fewer where every
# case loads a framework's archive (torch.export, Keras)
QUICK = {"onnx": 300, "prototxt": 300, "caffemodel": 300, "graphdef": 300, "savedmodel": 100,
         "keras": 40, "h5": 40, "pt2": 30, "torchscript": 60, "checkpoint": 100,
         "state_dict": 100, "events": 200, "caffe_log": 300, "csv": 300, "jsonl": 300}


@pytest.fixture(scope="session")
def seeds(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz_seeds")
    built = {}

    def seed(fmt):
        if fmt not in built:
            needs = FORMATS[fmt].needs
            if needs and importlib.util.find_spec(needs) is None:
                pytest.skip(f"{needs} is not installed")
            d = root / fmt
            d.mkdir()
            built[fmt] = FORMATS[fmt].build(d)
        return built[fmt]
    return seed


def test_every_format_has_a_quick_budget():
    assert set(QUICK) == set(FORMATS)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.timeout(900)
def test_mutated_files_fail_cleanly(fmt, seeds, tmp_path):
    seed = seeds(fmt)
    # the unmutated seed reads: the harness tests the reader, not a broken seed
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    outcome, message = read_once(fmt, seed, seed, scratch)
    assert outcome == "ok", message

    report = fuzz(fmt, seed, QUICK[fmt], tmp_path / "work", seed_value=0,
                  keep_failures=tmp_path / "failures")
    summary = json.dumps(dict(report.counts))
    assert report.counts["error"] > 0, f"no mutation was rejected: {summary}"
    assert sum(report.counts.values()) == QUICK[fmt]
    bad = [f"{outcome}: {message} ({path})" for path, outcome, message in report.failures]
    assert not bad, f"{fmt} {summary}:\n" + "\n".join(bad[:20])
    assert set(report.counts) <= set(CLEAN)
