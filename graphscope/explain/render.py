"""Pictures of explanations: the map over the input as PNG, and an HTML report with one
panel per method."""
from __future__ import annotations

import html

import numpy as np

from ..imaging import colormap, data_uri, normalize, png_bytes, upscale
from .api import ExplainResult


def input_picture(x: np.ndarray) -> np.ndarray:
    """[1, C, H, W] model input -> H x W x 3 uint8, each channel stretched to 0..255."""
    img = x[0]
    img = np.repeat(img, 3, axis=0) if img.shape[0] == 1 else img[:3]
    return (normalize(img.transpose(1, 2, 0)) * 255).astype(np.uint8)


def overlay(result: ExplainResult, alpha: float = 0.5) -> np.ndarray:
    """The map (normalised, viridis) blended over the input picture."""
    if "grid" in result.extra:  # many channels' maximizing images, tiled
        return (result.extra["grid"] * 255).astype(np.uint8)
    if result.method == "maximize":
        return (normalize(result.extra["image"][0].transpose(1, 2, 0)[..., :3]) * 255
                ).astype(np.uint8) if result.input.shape[1] >= 3 else input_picture(
            result.extra["image"])
    base = input_picture(result.input).astype(np.float32)
    heat = colormap(normalize(result.map)).astype(np.float32)
    return (base * (1 - alpha) + heat * alpha).astype(np.uint8)


def overlay_png(result: ExplainResult, alpha: float = 0.5) -> bytes:
    return png_bytes(upscale(overlay(result, alpha), 224))


def report_html(results: list[ExplainResult], title: str, class_names=None) -> str:
    e = html.escape
    first = results[0]
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>graphscope explain: "
             f"{e(title)}</title><style>body{{font:14px system-ui,sans-serif;margin:24px}}"
             f".panel{{display:inline-block;margin:8px;vertical-align:top;text-align:center}}"
             f"img{{image-rendering:pixelated;width:224px;border:1px solid #ccc}}"
             f"td{{padding:2px 8px}}</style></head><body><h1>Explanations for {e(title)}</h1>",
             f"<div class='panel'><img alt='input' src='{data_uri(upscale(input_picture(first.input), 224))}'>"
             f"<div>input</div></div>"]
    if first.scores is not None:
        s = first.scores[0].astype(np.float64)
        p = np.exp(s - s.max())
        p /= p.sum()
        rows = "".join(f"<tr><td>{int(i)}</td><td>{s[i]:.4g}</td><td>{p[i]:.3f}</td></tr>"
                       for i in np.argsort(-s)[:5])
        parts.append(f"<div class='panel'><table><tr><th>class</th><th>score</th><th>softmax"
                     f"</th></tr>{rows}</table></div>")
    for r in results:
        note = f" · layer {e(r.layer)}" if r.layer else ""
        parts.append(f"<div class='panel'><img alt='{e(r.method)}' "
                     f"src='{data_uri(upscale(overlay(r), 224))}'><div>{e(r.method)} · class "
                     f"{r.target}{note}</div></div>")
    parts.append("</body></html>\n")
    return "".join(parts)
