"""Hugging Face transformers architectures (tiny random-init configs, tests/zoo/hf_models.py)
from every entry point: live module, .pt2 read in a fresh process, TorchScript from
torch.jit.trace. Params exact, MACs within 2% of FlopCounterMode, no crash.

The live checks cover every architecture the installed transformers provides; the file entry
points and conversions run on a sample that covers each problem once (the full table is
benchmarks/pytorch_hf_table.py's, in docs/pytorch.md)."""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import graphscope  # noqa: E402
from tests.conftest import run_cli  # noqa: E402
from tests.zoo import hf_models as H  # noqa: E402

# .pt2: a ModelOutput container (bert), a custom op (mixtral), a None argument (whisper)
FILE_SAMPLE = ["bert", "mixtral", "whisper"]


@pytest.fixture(scope="module")
def live():
    """name -> (model, inputs, graph, reference MACs)."""
    out = {}
    for name in H.NAMES:
        model, inputs = H.build(name)
        graph = graphscope.load(model, example_inputs=inputs)
        out[name] = (model, inputs, graph, H.reference_macs(model, inputs))
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory, live):
    d = tmp_path_factory.mktemp("hf")
    for name in FILE_SAMPLE:
        model, inputs = live[name][:2]
        torch.export.save(torch.export.export(model, inputs, strict=False), str(d / f"{name}.pt2"))
    model, inputs = H.build("bert")
    torch.jit.save(H.trace(model, inputs), str(d / "bert.pt"))
    return d


@pytest.mark.parametrize("name", H.NAMES)
def test_live_params_exact(live, name):
    model, _, graph, _ = live[name]
    assert graph.totals()["params"] == H.expected_params(model)


@pytest.mark.parametrize("name", H.NAMES)
def test_live_macs_within_2_percent_of_flop_counter(live, name):
    _, _, graph, ref = live[name]
    macs = graph.totals()["macs"]
    assert macs is not None and ref > 0
    assert abs(macs / ref - 1) < 0.02, (macs, ref)


@pytest.mark.parametrize("name", H.NAMES)
def test_live_shapes_all_known(live, name):
    graph = live[name][2]
    unknown = [v.name for n in graph.nodes for v in n.outputs if v.type.shape is None]
    assert not unknown, unknown[:5]


def test_rope_inv_freq_is_not_a_parameter(live):
    model, _, graph, _ = live["llama"]
    names = {n for n, _ in model.named_buffers()}
    assert any(n.endswith("inv_freq") for n in names)
    assert graph.totals()["params"] == sum(p.numel() for p in model.parameters())


def test_none_argument_is_not_an_input(live):
    graph = live["whisper"][2]
    assert [v.name for v in graph.inputs] == ["input_features", "decoder_input_ids"]
    assert graph.metadata["torch_call"] == ["input_features", None, "decoder_input_ids"]


def test_moe_experts_cost_their_grouped_matmuls(live):
    graph, ref = live["mixtral"][2], live["mixtral"][3]
    grouped = [n for n in graph.nodes if n.op == "torch.grouped_mm"]
    assert len(grouped) == 2 * 2  # gate_up and down, per layer
    # each routed token (8 tokens x top-2) meets one expert's K x N matrix
    n = grouped[0]
    assert n.meta["macs"] == 8 * 2 * H.HIDDEN * n.inputs[1].type.shape[-1]
    assert sum(n.meta["macs"] for n in grouped) > 0.5 * ref


@pytest.mark.parametrize("name", FILE_SAMPLE)
def test_pt2_reads_in_a_fresh_process(live, files, name):
    model, _, graph, ref = live[name]
    r = run_cli("info", files / f"{name}.pt2", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["totals"]["params"] == H.expected_params(model)
    assert abs(doc["totals"]["macs"] / ref - 1) < 0.02
    assert len(doc["nodes"]) == len(graph.nodes)
    if name == "mixtral":  # the stand-ins are named, not silent
        assert "grouped_mm_fallback" in r.stderr and "generic container" in r.stderr
        assert sum(n["op"] == "torch.grouped_mm" for n in doc["nodes"]) == 4


def test_pt2_output_container_keeps_field_names(files):
    from graphscope.adapters.pytorch.files import load_exported_program
    ep = load_exported_program(files / "bert.pt2", trust=False)
    out = ep.module()(torch.randint(0, 64, (1, H.SEQ)))
    assert list(out.keys()) == ["last_hidden_state", "pooler_output"]
    assert type(out).__name__ == "BaseModelOutputWithPoolingAndCrossAttentions"


def test_torchscript_without_shapes_says_so(files):
    r = run_cli("info", files / "bert.pt", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["totals"]["macs"] is None  # unknown, not 0
    assert "--input-shape input_ids=" in r.stderr
    text = run_cli("info", files / "bert.pt")
    assert "MACs: ?" in text.stdout and text.returncode == 0


def test_torchscript_with_input_shape(live, files):
    model, _, graph, ref = live["bert"]
    r = run_cli("info", files / "bert.pt", "--json", "--input-shape", f"input_ids=1,{H.SEQ}")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["totals"]["params"] == H.expected_params(model)
    assert abs(doc["totals"]["macs"] / ref - 1) < 0.02
    shapes = [o["shape"] for n in doc["nodes"] for o in n["outputs"]]
    assert all(s is not None for s in shapes)
    assert doc["model"]["outputs"][0]["shape"] == [1, H.SEQ, H.HIDDEN]


def test_torchscript_example_inputs_api(files):
    ids = torch.randint(0, 64, (2, 5))
    g = graphscope.load(files / "bert.pt", example_inputs=(ids,))
    assert g.outputs[0].type.shape == (2, 5, H.HIDDEN)
    assert g.totals()["macs"] is not None
