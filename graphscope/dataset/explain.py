"""`explain --dataset -o DIR`: one explanation per input (overlay PNG + raw map .npy, each
written atomically as it is made) and DIR/index.html, a grid of them, written last."""
from __future__ import annotations

import html
import io
import re
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..fileio import write_atomic
from ..ir.graph import Graph


def _stem(i: int, name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name.split("[")[0]).stem)[:60] or "input"
    key = name[len(name.split("[")[0]):].strip("[]")
    key = re.sub(r"[^A-Za-z0-9]+", "_", key)
    return f"{i:05d}_{base}" + (f"_{key}" if key else "")


def explain_dataset(graph: Graph, source_items, loader, out_dir, method: str = "saliency",
                    target="top", layer: str | None = None, on_input=None, **options
                    ) -> list[dict]:
    """Explain every input; returns one entry per input (files, target class, score)."""
    from ..convert.from_tf import runnable_graph
    from ..explain import methods
    from ..explain.api import METHODS, Explainer
    from ..explain.render import overlay_png
    if method not in METHODS:
        raise UsageError(f"unknown method '{method}' (known: {', '.join(METHODS)})")
    if options.get("grid"):
        raise UsageError("--grid makes one picture per model, not per input; leave it out "
                         "with --dataset")
    channels_last = graph.metadata.get("format") == "tensorflow"
    ex = Explainer(runnable_graph(graph))  # one torch module for every input
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, item in enumerate(source_items):
        x = ex.torch.from_numpy(np.ascontiguousarray(loader.load(item), dtype=np.float32))
        if x.dim() != 4:
            raise UsageError(f"explanations need an image-shaped input (N x C x H x W); "
                             f"'{ex.input.name}' is {tuple(x.shape)}")
        if channels_last:
            x = x.permute(0, 3, 1, 2).contiguous()
            ex.module.input_perm = (0, 2, 3, 1)
        r = methods.run(ex, method, x, target, layer, **dict(options))
        stem = _stem(i, item.name)
        write_atomic(out / f"{stem}.png", overlay_png(r))
        buf = io.BytesIO()
        np.save(buf, r.map)
        write_atomic(out / f"{stem}.npy", buf.getvalue())
        score = None if r.scores is None else float(np.asarray(r.scores).reshape(-1)[r.target])
        entries.append({"input": item.name, "png": f"{stem}.png", "npy": f"{stem}.npy",
                        "target": r.target, "score": score})
        if on_input is not None:
            on_input(1)
    write_atomic(out / "index.html", index_html(entries, graph.name, method))
    return entries


def index_html(entries: list[dict], title: str, method: str) -> str:
    e = html.escape
    cells = "".join(
        f"<figure><a href='{e(x['png'])}'><img src='{e(x['png'])}' alt='{e(x['input'])}' "
        f"loading='lazy'></a><figcaption>{e(Path(x['input'].split('[')[0]).name)}"
        f"{e(x['input'][len(x['input'].split('[')[0]):])}<br>class {x['target']}"
        + (f" · {x['score']:.3g}" if x["score"] is not None else "")
        + f" · <a href='{e(x['npy'])}'>.npy</a></figcaption></figure>" for x in entries)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>graphscope explain "
            f"--dataset: {e(title)}</title><style>body{{font:13px system-ui,sans-serif;"
            f"margin:24px}}.grid{{display:grid;grid-template-columns:repeat(auto-fill,"
            f"minmax(180px,1fr));gap:10px}}figure{{margin:0;text-align:center}}img{{width:100%;"
            f"image-rendering:pixelated;border:1px solid #ccc}}</style></head><body>"
            f"<h1>{e(method)} for {e(title)}: {len(entries)} inputs</h1>"
            f"<div class='grid'>{cells}</div></body></html>\n")
