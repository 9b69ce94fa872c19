"""The Hugging Face transformers table of docs/pytorch.md: every architecture of
tests/zoo/hf_models.py (tiny random-init configs) from every entry point.

    .venv/bin/python benchmarks/pytorch_hf_table.py [--write docs/pytorch.md] [NAME ...]

For each model: the live module (graphscope.load), a .pt2 (torch.export.save, read by
`graphscope info --json` in a fresh process, as a user would) and a TorchScript archive
(torch.jit.trace, read with --input-shape) where torch can trace the model. Columns:
params (exact against module.parameters()), MACs / FlopCounterMode's (math SDPA, eager MoE
experts), the share of values with known shapes, the exit code, the time; for the live row
also `convert --to onnx --verify` (which exporter, verified or why not) and ONNX -> PyTorch
(graphscope's torch interpreter on that ONNX, max abs difference to the original's output).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import graphscope  # noqa: E402
from tests.zoo import hf_models as H  # noqa: E402

BEGIN, END = "<!-- hf-table:begin -->", "<!-- hf-table:end -->"


def cli(*args) -> tuple[int, dict | None, str, float]:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "graphscope", *map(str, args)],
                       capture_output=True, text=True, cwd=ROOT)
    took = time.perf_counter() - t
    doc = json.loads(r.stdout) if r.returncode == 0 else None
    return r.returncode, doc, r.stderr.strip().splitlines()[-1:] and r.stderr.strip().splitlines()[-1], took


def known_share(nodes) -> str:
    shapes = [o["shape"] for n in nodes for o in n["outputs"]]
    return f"{sum(s is not None for s in shapes)}/{len(shapes)}"


def row(name, entry, params, expected, macs, ref, known, rc, took, convert="", back=""):
    p = "—" if params is None else ("exact" if params == expected else f"{params} ≠ {expected}")
    m = "?" if macs is None else f"{macs / ref:.3f}"
    return (f"| {name} | {entry} | {p} | {m} | {known} | {rc} | {convert} | {back} | "
            f"{took:.1f} |")


def leaves(out):
    if isinstance(out, torch.Tensor):
        yield out
    elif isinstance(out, (list, tuple)):
        for o in out:
            yield from leaves(o)
    elif isinstance(out, dict):
        for o in out.values():
            yield from leaves(o)


def convert_cells(model, inputs) -> tuple[str, str, dict]:
    from graphscope.convert.api import convert
    stats = {"verified": 0, "back": 0}
    try:
        result = convert(model, to="onnx", verify=True, example_inputs=inputs)
    except Exception as exc:  # noqa: BLE001  (the table records every failure)
        return f"✗ {type(exc).__name__}: {str(exc)[:120]}", "—", stats
    how = "dynamo" if "dynamo" in result.exporter else "IR"
    if result.report.ok:
        stats["verified"] = 1
        cell = f"✓ {how}"
    else:
        d = result.report.first_divergence
        cell = f"✗ {how}: diverges at {d.name if d else '?'}"
    try:
        back = convert(result.model, to="pytorch")
        module = back.model
        feeds = [x for x in inputs if x is not None]
        with torch.no_grad():
            ours = module(*feeds)
            ours = ours[0] if isinstance(ours, (tuple, list)) else ours
            theirs = next(leaves(model(*inputs)))
        diff = float((ours - theirs).abs().max())
        ok = diff <= 1e-4
        stats["back"] = int(ok)
        back_cell = f"{'✓' if ok else '✗'} {diff:.1e}"
    except Exception as exc:  # noqa: BLE001
        back_cell = f"✗ {type(exc).__name__}: {str(exc)[:80]}"
    return cell, back_cell, stats


def sweep(names, tmp: Path) -> tuple[list[str], dict]:
    rows = []
    totals = {"models": 0, "verified": 0, "back": 0, "crashes": 0, "pt2": 0, "ts": 0,
              "ts_tried": 0}
    for name in names:
        warnings.simplefilter("ignore")
        model, inputs = H.build(name)
        expected, ref = H.expected_params(model), H.reference_macs(model, inputs)
        totals["models"] += 1
        t = time.perf_counter()
        g = graphscope.load(model, example_inputs=inputs)
        took = time.perf_counter() - t
        tt = g.totals()
        known = sum(v.type.shape is not None for n in g.nodes for v in n.outputs)
        conv, back, st = convert_cells(model, inputs)
        totals["verified"] += st["verified"]
        totals["back"] += st["back"]
        rows.append(row(name, "live", tt["params"], expected, tt["macs"], ref,
                        f"{known}/{sum(len(n.outputs) for n in g.nodes)}", 0, took, conv, back))
        model, inputs = H.build(name)
        pt2 = tmp / f"{name}.pt2"
        torch.export.save(torch.export.export(model, inputs, strict=False), str(pt2))
        rc, doc, err, took = cli("info", pt2, "--json")
        totals["crashes"] += rc == 1
        totals["pt2"] += rc == 0
        rows.append(row(name, ".pt2", doc and doc["totals"]["params"], expected,
                        doc and doc["totals"]["macs"], ref,
                        known_share(doc["nodes"]) if doc else err[:60], rc, took))
        model, inputs = H.build(name)
        try:
            traced = H.trace(model, inputs)
        except Exception as exc:  # noqa: BLE001  torch cannot trace it: say so
            rows.append(f"| {name} | TorchScript | — | — | torch.jit.trace fails: "
                        f"{type(exc).__name__} | — | | | — |")
            print(*rows[-3:], sep="\n", flush=True)
            continue
        totals["ts_tried"] += 1
        ts = tmp / f"{name}.pt"
        torch.jit.save(traced, str(ts))
        names_in = [re.sub(r"\.\d+$", "", i.debugName()) for i in list(traced.graph.inputs())[1:]]
        shapes = [f"{k}=" + ",".join(map(str, x.shape))
                  for k, x in zip(names_in, [x for x in inputs if x is not None])]
        args = [a for s in shapes for a in ("--input-shape", s)]
        rc, doc, err, took = cli("info", ts, "--json", *args)
        totals["crashes"] += rc == 1
        totals["ts"] += rc == 0
        rows.append(row(name, "TorchScript", doc and doc["totals"]["params"], expected,
                        doc and doc["totals"]["macs"], ref,
                        known_share(doc["nodes"]) if doc else err[:60], rc, took))
        print(*rows[-3:], sep="\n", flush=True)
    return rows, totals


def totals_of(rows) -> dict:
    """The summary counts, from the rows themselves (so saved rows can be rendered again)."""
    cells = [[c.strip() for c in r.strip("|").split("|")] for r in rows]
    live = [c for c in cells if c[1] == "live"]
    pt2 = [c for c in cells if c[1] == ".pt2"]
    ts = [c for c in cells if c[1] == "TorchScript" and c[5] != "—"]
    return {"models": len(live), "verified": sum(c[6].startswith("✓") for c in live),
            "back": sum(c[7].startswith("✓") for c in live),
            "crashes": sum(c[5] == "1" for c in cells), "pt2": sum(c[5] == "0" for c in pt2),
            "ts": sum(c[5] == "0" for c in ts), "ts_tried": len(ts)}


def table(rows, totals) -> str:
    head = ["| model | entry point | params | MACs / FlopCounterMode | known shapes | exit | "
            "convert --to onnx --verify | ONNX → PyTorch (max abs diff) | time (s) |",
            "|---|---|---|---|---|---|---|---|---|"]
    tail = [f"", f"{totals['models']} models; .pt2 read: {totals['pt2']}/{totals['models']}; "
            f"TorchScript read: {totals['ts']}/{totals['ts_tried']} traceable; "
            f"convert verified: {totals['verified']}/{totals['models']}; ONNX → PyTorch within "
            f"1e-4: {totals['back']}/{totals['models']}; crashes (exit 1): {totals['crashes']}. "
            f"torch {torch.__version__}, transformers {__import__('transformers').__version__}."]
    return "\n".join(head + rows + tail)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*")
    ap.add_argument("--write", help="replace the table between the markers in this file")
    ap.add_argument("--rows", nargs="+", help="render rows saved from earlier runs' output "
                    "instead of sweeping (runs split across processes)")
    args = ap.parse_args()
    if args.rows:
        rows = [ln.rstrip("\n") for f in args.rows for ln in open(f, encoding="utf-8")
                if ln.startswith("| ") and not ln.startswith("| model")]
        # a finished run prints its rows twice, and split runs may overlap: one row per
        # (model, entry point), the first seen
        rows = list({tuple(r.split("|")[1:3]): r for r in reversed(rows)}.values())
        entries = ["live", ".pt2", "TorchScript"]
        rank = {n: i for i, n in enumerate(H.NAMES)}
        rows.sort(key=lambda r: (rank.get(r.split("|")[1].strip(), len(rank)),
                                 entries.index(r.split("|")[2].strip())))
    else:
        with tempfile.TemporaryDirectory() as d:
            rows = sweep(args.names or H.NAMES, Path(d))[0]
    text = table(rows, totals_of(rows))
    print(text)
    if args.write:
        path = Path(args.write)
        doc = path.read_text()
        start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
        path.write_text(doc[:start] + "\n" + text + "\n" + doc[end:])


if __name__ == "__main__":
    main()
