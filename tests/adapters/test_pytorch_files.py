"""PyTorch files: .pt2, TorchScript, checkpoints with and without --model; safety; CLI."""
from __future__ import annotations

import json
import pickle

import pytest

torch = pytest.importorskip("torch")

import graphscope  # noqa: E402
from graphscope.errors import ParseError, UnsafeModelError  # noqa: E402
from tests.conftest import run_cli  # noqa: E402
from tests.zoo import torch_models as Z  # noqa: E402

FACTORY = "tests.zoo.torch_models:mobilenetv2"
SHAPE = (1, 3, 32, 32)


class _Payload:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        import pathlib
        return (pathlib.Path.touch, (pathlib.Path(self.target),))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("torch_files")
    m, x = Z.mobilenetv2(), torch.randn(*SHAPE)
    torch.export.save(torch.export.export(m, (x,)), str(d / "m.pt2"))
    torch.jit.save(torch.jit.trace(m, (x,)), str(d / "traced.pt"))
    torch.jit.save(torch.jit.script(m), str(d / "scripted.pt"))
    torch.save(m.state_dict(), d / "weights.pth")
    torch.save({"epoch": 3, "state_dict": m.state_dict()}, d / "lightning.ckpt")
    (d / "bad.pt2").write_bytes((d / "m.pt2").read_bytes()[:2000])
    with open(d / "evil.pth", "wb") as f:
        pickle.dump({"w": _Payload(d / "PWNED")}, f, protocol=2)
    _evil_pt2(d / "m.pt2", d / "evil.pt2", _Payload(d / "PWNED_PT2"))
    live = graphscope.load(m, example_inputs=(x,)).totals()
    return d, m, live


def _evil_pt2(src, dst, payload):
    """A copy of a .pt2 whose first weight is marked pickled and holds ``payload``:
    torch.export.load itself would unpickle it with weights_only=False."""
    import io
    import zipfile
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("weights_config.json"):
                cfg = json.loads(data)
                next(iter(cfg["config"].values()))["use_pickle"] = True
                data = json.dumps(cfg).encode()
            elif item.filename.endswith("weights/weight_0"):
                buf = io.BytesIO()
                torch.save(payload, buf)
                data = buf.getvalue()
            zout.writestr(item, data)


@pytest.mark.parametrize("name", ["m.pt2", "traced.pt", "scripted.pt"])
def test_files_give_the_live_totals(files, name):
    d, _, live = files
    g = graphscope.load(d / name, input_shapes={"x": SHAPE})
    t = g.totals()
    assert (t["params"], t["macs"]) == (live["params"], live["macs"])
    assert g.outputs[0].type.shape == (1, 10)


def test_pt2_keeps_namespaces_and_classes(files):
    g = graphscope.load(files[0] / "m.pt2")
    assert g.metadata["capture"] == "torch.export.load"
    assert "blocks/1/conv/3" in {n.namespace for n in g.nodes}
    assert g.metadata["modules"]["blocks/1"] == "InvertedResidual"


def test_state_dict_alone_is_a_tensor_table(files):
    d, m, _ = files
    g = graphscope.load(d / "weights.pth")
    sd = m.state_dict()
    assert len(g.nodes) == len(sd)
    assert g.totals()["params"] == sum(p.numel() for p in m.parameters())  # BN stats excluded
    node = g.node("blocks.1.conv.3.weight")
    assert node.namespace == "blocks/1/conv/3"
    assert node.outputs[0].type.shape == tuple(sd["blocks.1.conv.3.weight"].shape)


def test_state_dict_with_factory_traces(files):
    d, m, live = files
    for name in ("weights.pth", "lightning.ckpt"):
        g = graphscope.load(d / name, model_factory=FACTORY, input_shapes={"x": SHAPE})
        assert g.totals()["macs"] == live["macs"]
        w = g.weights["stem.0.weight"].data.array
        assert (w == m.stem[0].weight.detach().numpy()).all()  # the checkpoint's weights


def test_malicious_pickle_is_refused_and_never_runs(files):
    d = files[0]
    with pytest.raises(UnsafeModelError, match="--trust"):
        graphscope.load(d / "evil.pth")
    assert not (d / "PWNED").exists()
    r = run_cli("info", d / "evil.pth")
    assert r.returncode == 2 and not (d / "PWNED").exists()
    assert r.stderr.strip().count("\n") == 0
    assert r.stderr.startswith(f"graphscope: error: {d / 'evil.pth'}: ")
    assert "it calls" in r.stderr


def test_malicious_pt2_is_refused_and_never_runs(files):
    d = files[0]
    with pytest.raises(UnsafeModelError, match="--trust"):
        graphscope.load(d / "evil.pt2")
    assert not (d / "PWNED_PT2").exists()
    assert torch.load.__module__ == "torch.serialization"  # the guard put torch.load back
    assert graphscope.load(d / "m.pt2").totals()["params"] > 0


def test_pickled_module_needs_trust(files):
    d, m, live = files
    torch.save(m, d / "whole.pt")
    with pytest.raises(UnsafeModelError):
        graphscope.load(d / "whole.pt", input_shapes={"x": SHAPE})
    g = graphscope.load(d / "whole.pt", input_shapes={"x": SHAPE}, trust=True)
    assert g.totals()["macs"] == live["macs"]


def test_corrupt_archive(files):
    with pytest.raises(ParseError, match="not a valid torch.export archive"):
        graphscope.load(files[0] / "bad.pt2")


def test_cli_errors_are_one_line_exit_2(files):
    d = files[0]
    cases = [
        ["info", d / "bad.pt2"],
        ["info", d / "weights.pth", "--model", "tests.zoo.torch_models:unet",
         "--input-shape", "x=1,3,32,32"],
        ["info", d / "weights.pth", "--model", FACTORY, "--input-shape", "x=1,5,32,32"],
    ]
    expect = ["not a valid torch.export archive", "does not match --model",
              "cannot run on the example input"]
    for args, what in zip(cases, expect):
        r = run_cli(*args)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("graphscope: error: ") and what in lines[0]


def test_cli_info_with_factory(files):
    d, _, live = files
    r = run_cli("info", d / "weights.pth", "--model", FACTORY, "--input-shape", "x=1,3,32,32",
                "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    text = json.dumps(info)
    assert str(live["macs"]) in text and str(live["params"]) in text


def test_pt2_with_dynamic_batch_and_input_shape(tmp_path):
    m = Z.mobilenetv2()
    batch = torch.export.Dim("batch", min=2, max=64)
    ep = torch.export.export(m, (torch.randn(2, *SHAPE[1:]),), dynamic_shapes={"x": {0: batch}})
    torch.export.save(ep, str(tmp_path / "dyn.pt2"))
    g = graphscope.load(tmp_path / "dyn.pt2")
    assert isinstance(g.inputs[0].type.shape[0], str)  # symbolic batch, as exported
    g8 = graphscope.load(tmp_path / "dyn.pt2", input_shapes={"x": (8, *SHAPE[1:])})
    assert g8.outputs[0].type.shape == (8, 10)
    one = graphscope.load(m, example_inputs=(torch.randn(*SHAPE),)).totals()["macs"]
    assert g8.totals()["macs"] == 8 * one
